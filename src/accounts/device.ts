// A coarse description of a browser session's device for the account page ("Firefox on Linux"):
// browser family and operating system only, never the User-Agent string itself (it is a
// fingerprint, and the page must not echo attacker-chosen text at length). Plain substring checks
// in a fixed order, no regular expressions: linear in the header's length, which the sessions
// repository already caps at 300 characters.

/** Checked in order: the first token found names the browser (Edge and Opera also say "Chrome"). */
const BROWSERS: readonly (readonly [token: string, name: string])[] = [
  ['edg/', 'Edge'],
  ['edga/', 'Edge'],
  ['edgios/', 'Edge'],
  ['opr/', 'Opera'],
  ['samsungbrowser/', 'Samsung Internet'],
  ['firefox/', 'Firefox'],
  ['fxios/', 'Firefox'],
  ['crios/', 'Chrome'],
  ['chromium/', 'Chromium'],
  ['headlesschrome/', 'Chrome'],
  ['chrome/', 'Chrome'],
  ['safari/', 'Safari'],
  ['curl/', 'curl'],
];

/** Checked in order: iPhone and Android strings also mention "Mac OS X" and "Linux". */
const SYSTEMS: readonly (readonly [token: string, name: string])[] = [
  ['iphone', 'iOS'],
  ['ipad', 'iPadOS'],
  ['android', 'Android'],
  ['cros', 'ChromeOS'],
  ['windows', 'Windows'],
  ['mac os x', 'macOS'],
  ['macintosh', 'macOS'],
  ['linux', 'Linux'],
];

function firstMatch(ua: string, table: readonly (readonly [string, string])[]): string | undefined {
  for (const [token, name] of table) if (ua.includes(token)) return name;
  return undefined;
}

/** "Firefox on Linux", "Safari on iOS", "Chrome", "Unknown browser". */
export function describeDevice(userAgent: string | null | undefined): string {
  const ua = (userAgent ?? '').slice(0, 300).toLowerCase();
  const browser = firstMatch(ua, BROWSERS);
  const system = firstMatch(ua, SYSTEMS);
  if (browser && system) return `${browser} on ${system}`;
  if (browser) return browser;
  if (system) return `A browser on ${system}`;
  return 'Unknown browser';
}

// Usernames are also wiki slugs, i.e. the first label of `{slug}.PLATFORM_DOMAIN`, so they follow
// DNS label rules (RFC 1035 §2.3.1, lowercase only) with a 3-character minimum.

export const USERNAME_MIN = 3;
export const USERNAME_MAX = 63;
const LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/** Suggested username from an ATProto handle: its first DNS label, cleaned up to the rules. */
export function deriveUsername(handle: string): string {
  const first = handle.trim().replace(/^@/, '').toLowerCase().split('.')[0] ?? '';
  const cleaned = first
    .replace(/[^a-z0-9-]/g, '-')
    .replace(/-+/g, '-');
  return trimHyphens(trimHyphens(cleaned).slice(0, USERNAME_MAX));
}

/** Without leading and trailing hyphens; string operations, as `/^-+|-+$/` backtracks (recheck). */
function trimHyphens(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && value[start] === '-') start++;
  while (end > start && value[end - 1] === '-') end--;
  return value.slice(start, end);
}

/** The suggestion for the signup form; nothing when the handle could not be verified. */
export function suggestedUsername(handle: string): string {
  return handle === 'handle.invalid' ? '' : deriveUsername(handle);
}

/** Returns a plain message when the name cannot be used, or undefined when it can (availability aside). */
export function usernameProblem(name: string, reserved: ReadonlySet<string>): string | undefined {
  if (name.length < USERNAME_MIN) return `A username needs at least ${USERNAME_MIN} characters.`;
  if (name.length > USERNAME_MAX) return `A username can have at most ${USERNAME_MAX} characters.`;
  if (!LABEL.test(name)) {
    return 'Use only lowercase letters a–z, digits and hyphens, and do not start or end with a hyphen.';
  }
  if (name.startsWith('xn--') || /^[a-z0-9]{2}--/.test(name)) return 'Names with "--" in 3rd and 4th place are reserved for DNS.';
  if (reserved.has(name)) return `"${name}" is reserved. Please choose another name.`;
  return undefined;
}

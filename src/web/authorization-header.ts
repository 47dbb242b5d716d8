// RFC 9110 §11.6.2 / RFC 7617 §2 — reading `Authorization: Basic <token68>` with plain string
// operations: one pass over the header, no regular expression, so no backtracking on request
// input (issue 9 finding 2: the old pattern `^Basic(?:[ \t]+(\S*))?[ \t]*$` was quadratic).
// The header's length is capped before anything reads it (see header-limits.ts).

export type BasicAuthorization =
  /** The Basic scheme; `token` is the credentials (possibly empty), not yet decoded. */
  | { kind: 'basic'; token: string }
  /** The Basic scheme, but not followed by a single token68. */
  | { kind: 'malformed' }
  /** No header, or another scheme (Bearer, DPoP…): not client authentication. */
  | { kind: 'other' };

const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** Splits `Basic <token>`: the scheme case-insensitively, spaces or tabs around the token. */
export function parseBasicAuthorization(header: string | undefined): BasicAuthorization {
  if (header === undefined) return { kind: 'other' };
  const scheme = 'basic';
  if (header.slice(0, scheme.length).toLowerCase() !== scheme) return { kind: 'other' };
  const rest = header.slice(scheme.length);
  // `Basicfoo` is another scheme's name, not Basic.
  if (rest !== '' && !isSpace(rest[0])) return { kind: 'other' };
  let start = 0;
  while (start < rest.length && isSpace(rest[start])) start++;
  let end = rest.length;
  while (end > start && isSpace(rest[end - 1])) end--;
  const token = rest.slice(start, end);
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    // RFC 9110 §11.2: token68 has no whitespace or control characters inside.
    if (c <= 0x20 || c === 0x7f) return { kind: 'malformed' };
  }
  return { kind: 'basic', token };
}

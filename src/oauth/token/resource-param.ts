// RFC 8707 §2.2: a `resource` sent to the token endpoint must be the one the grant is for
// (a trailing slash is tolerated, as clients differ on it).
import { InvalidTarget } from '../errors.ts';

export function checkResourceMatches(sent: string | undefined, bound: string): void {
  if (sent === undefined) return;
  if (sent.replace(/\/$/, '') !== bound) throw new InvalidTarget(`This grant is for ${bound}, not ${sent}.`);
}

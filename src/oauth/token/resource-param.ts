// RFC 8707 §2.2: a `resource` sent to the token endpoint must be the one the grant is for, compared
// in the one normal form of resource-indicator.ts (the same as /authorize uses).
import { InvalidTarget } from '../errors.ts';
import { sameResource } from '../resource-indicator.ts';

export function checkResourceMatches(sent: string | undefined, bound: string): void {
  if (sent === undefined) return;
  // The grant's resource passed normalizeResource at /authorize: the same spelling is the same
  // resource (the common case, and two URL parses fewer per request).
  if (sent === bound) return;
  if (!sameResource(sent, bound)) throw new InvalidTarget(`This grant is for ${bound}, not ${sent}.`);
}

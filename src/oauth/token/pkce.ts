// RFC 7636 §4.6, OAuth 2.1 §4.1.3: S256 only; BASE64URL(SHA256(code_verifier)) must equal the
// stored challenge, compared in constant time.
import crypto from 'node:crypto';
import { timingSafeEqualStrings } from '../../lib/secrets.ts';
import { InvalidGrant, InvalidRequest } from '../errors.ts';

const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/; // RFC 7636 §4.1

export function checkPkce(verifier: string | undefined, challenge: string): void {
  if (verifier === undefined) throw new InvalidRequest('code_verifier is required.');
  if (!VERIFIER.test(verifier)) throw new InvalidGrant('code_verifier is malformed.');
  const computed = crypto.createHash('sha256').update(verifier).digest('base64url');
  if (!timingSafeEqualStrings(computed, challenge)) throw new InvalidGrant('code_verifier does not match the code_challenge.');
}

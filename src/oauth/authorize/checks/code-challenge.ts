// OAuth 2.1 §4.1.1, RFC 7636 §4.2-4.3: PKCE is required, and only S256 (plain gives no protection
// against a leaked request). A challenge is BASE64URL(SHA-256), i.e. 43 characters.
import { InvalidRequest } from '../../errors.ts';
import { optionalParam, type Params } from '../params.ts';

const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export function checkCodeChallenge(params: Params): string {
  const challenge = optionalParam(params, 'code_challenge');
  const method = optionalParam(params, 'code_challenge_method');
  if (challenge === undefined) throw new InvalidRequest('PKCE is required: send code_challenge with code_challenge_method=S256.');
  if (method !== 'S256') throw new InvalidRequest('Only code_challenge_method=S256 is supported.');
  if (!S256_CHALLENGE.test(challenge)) throw new InvalidRequest('code_challenge must be a base64url SHA-256 hash (43 characters).');
  return challenge;
}

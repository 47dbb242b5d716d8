// RFC 6749 §3.3: the requested scopes must be ones we support (default: all of them), and within
// what the client registered, if it registered any.
import type { OAuthClientRecord } from '../../clients/client.ts';
import { InvalidScope } from '../../errors.ts';
import { parseScope, type WikiScope } from '../../scopes.ts';
import { optionalParam, type Params } from '../params.ts';

export function checkScope(params: Params, client: OAuthClientRecord): WikiScope[] {
  const parsed = parseScope(optionalParam(params, 'scope'));
  if ('unknown' in parsed) throw new InvalidScope(`Unknown scope: ${parsed.unknown.join(' ')}. Supported: wiki:read wiki:write.`);
  const registered = client.metadata.scope?.trim() ? parseScope(client.metadata.scope) : undefined;
  if (registered && 'scopes' in registered) {
    const allowed = new Set(registered.scopes);
    const scopes = parsed.scopes.filter((s) => allowed.has(s));
    if (scopes.length === 0) throw new InvalidScope('None of the requested scopes is allowed for this client.');
    return scopes;
  }
  return parsed.scopes;
}

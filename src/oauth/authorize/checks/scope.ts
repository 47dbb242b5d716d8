// RFC 6749 §3.3 at /authorize: the grammar is enforced (invalid_scope, shown as a page: see
// ../refused-before-consent.ts), everything else narrows. Values we do not know and values outside
// what the client registered are ignored; when none of ours remains (or scope is absent), the
// client's registered scopes apply, else wiki:read wiki:write. The consent page and the token
// response's `scope` show the result. The rule itself lives in ../../scopes.ts.
import type { OAuthClientRecord } from '../../clients/client.ts';
import { InvalidScope } from '../../errors.ts';
import { clientScopes, grantScope, type WikiScope } from '../../scopes.ts';
import { optionalParam, type Params } from '../params.ts';

export function checkScope(params: Params, client: OAuthClientRecord): WikiScope[] {
  const granted = grantScope(optionalParam(params, 'scope'), clientScopes(client.metadata.scope));
  if (!granted) throw new InvalidScope('The scope parameter is malformed: space-separated values of printable ASCII, without quotes or backslashes (RFC 6749 §3.3).');
  return granted.scopes;
}

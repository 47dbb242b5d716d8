// Who is asking at /token and /revoke, for the rate limits (src/web/rate-limits.ts has the table):
// the grant of a known refresh token, the client of a known code or token, or else nobody (the
// address pays). One primary-key read per request; a public client's client_id alone proves nothing.
import type { AppContext } from '../../context.ts';
import { AddressGate, Budget } from '../../web/rate-limits.ts';
import type { OAuthClientRecord } from '../clients/client.ts';
import type { TokenParams } from './token-params.ts';

export interface Asker {
  clientId: string;
  /** Set for a refresh: the grant whose budget the request spends first. */
  grantId?: string;
}

/** The grant of a refresh token, or the code, that `client` presented and that is really its own. */
export function askerOf(
  deps: Pick<AppContext, 'refreshTokens' | 'grants' | 'codes'>,
  client: OAuthClientRecord,
  grantType: string,
  params: TokenParams,
): Asker | undefined {
  if (grantType === 'refresh_token') {
    const value = params.optional('refresh_token');
    const token = value === undefined ? undefined : deps.refreshTokens.findByValue(value);
    const grant = token && deps.grants.findById(token.grantId);
    return grant?.clientId === client.clientId ? { clientId: client.clientId, grantId: grant.id } : undefined;
  }
  if (grantType === 'authorization_code') {
    const value = params.optional('code');
    const code = value === undefined ? undefined : deps.codes.findByValue(value);
    return code?.clientId === client.clientId ? { clientId: client.clientId } : undefined;
  }
  return undefined;
}

export interface TokenEndpointLimits {
  address: AddressGate;
  client: Budget;
  grant: Budget;
  /** Spends the asker's budgets: the grant's first (a hammered grant does not drain its client's), then the client's. */
  spend(asker: Asker): void;
}

export function tokenEndpointLimits(config: AppContext['config'], name: string): TokenEndpointLimits {
  const client = new Budget(`${name}-client`, config.keyedRateLimits.clientPerMinute);
  const grant = new Budget(`${name}-grant`, config.keyedRateLimits.refreshPerGrantPerMinute);
  return {
    address: new AddressGate(name, config.rateLimits.tokenPerMinute, config),
    client,
    grant,
    spend(asker) {
      if (asker.grantId !== undefined) grant.spend(asker.grantId);
      client.spend(asker.clientId);
    },
  };
}

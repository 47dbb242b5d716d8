// Who is asking at /token and /revoke, for the rate limits (src/web/rate-limits.ts has the table):
// the grant of a known refresh token, the client of a known code or token, or else nobody (the
// address pays). A public client's client_id alone proves nothing.
//
// At /token the grant's own transaction decides it, from the rows it reads anyway (no second read):
// refresh-rotation.ts calls `attribute` right after it has found the presented refresh token and its
// grant (live or not), grants/authorization-code.ts right after it has found the code, both before
// anything is written, so a 429 thrown there rolls nothing back that mattered.
import type { AppContext } from '../../context.ts';
import { AddressGate, Budget } from '../../web/rate-limits.ts';

export interface Asker {
  clientId: string;
  /** Set for a refresh: the grant whose budget the request spends first. */
  grantId?: string;
}

/** What a grant handler knows of the request besides its parameters. */
export interface TokenRequestOrigin {
  /** The request's source address, for the audit log of a replay. */
  address?: string;
  /**
   * Called at most once, when the presented code or refresh token is known and really the client's
   * own (the token's grant or the code names that client): spends the asker's budgets, and throws
   * 429 when they are spent. Not called: the address pays.
   */
  attribute?: (asker: Asker) => void;
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

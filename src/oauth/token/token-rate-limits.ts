// Who is asking at /token and /revoke, for the rate limits (src/web/rate-limits.ts has the table):
// the grant of a known refresh token, the client of a known code or token, or else nobody (the
// address pays). A public client's client_id alone proves nothing.
//
// At /token the grant's own transaction decides it, from the rows it reads anyway (no second read),
// before anything is written, so a 429 thrown there rolls nothing back that mattered:
// - refresh-rotation.ts: a known token of this client's grant spends that GRANT's budget, live or
//   not; the CLIENT's budget only when the token proves possession (live, or a reuse within the grace
//   window). A dead or replayed token pays the address, so nobody drains a shared public client's
//   budget (Claude.ai's, say) with their own expired or revoked token.
// - grants/authorization-code.ts: the client pays only once the code, redirect URI, PKCE verifier
//   and resource all check out; a guessed verifier or a replayed code pays the address.
import type { AppContext } from '../../context.ts';
import { AddressGate, Budget } from '../../web/rate-limits.ts';

export interface Asker {
  clientId: string;
  /** Set for a refresh: the grant whose budget the request spends first. */
  grantId?: string;
  /** The credential checked out: the client's budget pays instead of the address. */
  proven: boolean;
}

/** What a grant handler knows of the request besides its parameters. */
export interface TokenRequestOrigin {
  /** The request's source address, for the audit log of a replay. */
  address?: string;
  /**
   * Called at most once, when the presented code or refresh token is known and really the client's
   * own (the token's grant or the code names that client): spends the asker's budgets, and throws
   * 429 when they are spent. Not called, or called with `proven: false`: the address pays too.
   */
  attribute?: (asker: Asker) => void;
}

export interface TokenEndpointLimits {
  address: AddressGate;
  client: Budget;
  grant: Budget;
  /** Spends the asker's budgets: the grant's first (a hammered grant does not drain its client's), then the client's if proven. */
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
      if (asker.proven) client.spend(asker.clientId);
    },
  };
}

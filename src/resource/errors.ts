// Bearer-token errors of the protected resource (each wiki's MCP endpoint). They carry their status
// and an escaped WWW-Authenticate challenge; the shared error handler renders them (JSON where
// res.locals.api is set). MCP clients start OAuth only on the 401 and step up scopes on the 403.
import { SUPPORTED_SCOPES, formatScope, type WikiScope } from '../oauth/scopes.ts';
import { AppError } from '../web/errors.ts';

/** RFC 9110 §5.6.4 — a quoted-string: `\` and `"` backslash-escaped; characters a header cannot carry are dropped. */
export function quoteParam(value: string): string {
  return `"${value.replace(/[^\x20-\x7e]/g, '').replace(/[\\"]/g, '\\$&')}"`;
}

/** RFC 6750 §3 — `Bearer name="value", …`, every value quoted and escaped; undefined values are left out. */
export function bearerChallenge(params: ReadonlyArray<readonly [name: string, value: string | undefined]>): string {
  const parts = params.filter((p): p is readonly [string, string] => p[1] !== undefined).map(([name, value]) => `${name}=${quoteParam(value)}`);
  return parts.length === 0 ? 'Bearer' : `Bearer ${parts.join(', ')}`;
}

/**
 * RFC 6750 §3.1 — 401 invalid_token, with the RFC 9728 §5.1 `resource_metadata` pointer. When the
 * request carried no bearer token at all, the challenge has no error code (RFC 6750 §3.1, last paragraph).
 */
export class InvalidToken extends AppError {
  readonly tokenSent: boolean;

  constructor(resourceMetadata: string, description: string | undefined) {
    const tokenSent = description !== undefined;
    const message = description ?? 'This wiki needs an access token.';
    super(401, tokenSent ? 'invalid_token' : 'unauthorized', message, {
      headers: {
        'WWW-Authenticate': bearerChallenge([
          ['resource_metadata', resourceMetadata],
          ['scope', formatScope(SUPPORTED_SCOPES)],
          ['error', tokenSent ? 'invalid_token' : undefined],
          ['error_description', tokenSent ? message : undefined],
        ]),
      },
      title: 'Sign-in needed',
    });
    this.tokenSent = tokenSent;
  }

  /** No bearer token was sent (or another authentication scheme was used). */
  static missing(resourceMetadata: string): InvalidToken {
    return new InvalidToken(resourceMetadata, undefined);
  }
}

/** RFC 6750 §3.1 — 403 insufficient_scope, naming the scope needed (MCP step-up authorization). */
export class InsufficientScope extends AppError {
  readonly requiredScope: WikiScope;

  constructor(resourceMetadata: string, requiredScope: WikiScope) {
    const message = `This request needs the ${requiredScope} scope.`;
    super(403, 'insufficient_scope', message, {
      headers: {
        'WWW-Authenticate': bearerChallenge([
          ['resource_metadata', resourceMetadata],
          ['scope', requiredScope],
          ['error', 'insufficient_scope'],
          ['error_description', message],
        ]),
      },
      title: 'Not allowed',
    });
    this.requiredScope = requiredScope;
  }
}

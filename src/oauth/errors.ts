// OAuth errors, one class per RFC code. Each carries its HTTP status; the error handler renders
// them as RFC 6749 §5.2 JSON. On /authorize, errors raised after the client and redirect URI were
// verified are redirected to the client instead (authorize/ handles that).
import { AppError, type AppErrorOptions } from '../web/errors.ts';

export class OAuthError extends AppError {}

export class InvalidRequest extends OAuthError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'invalid_request', message, options);
  }
}

/** RFC 6749 §5.2: 401 with WWW-Authenticate; clients such as Claude re-register on it. */
export class InvalidClient extends OAuthError {
  constructor(message = 'Client authentication failed.', options?: AppErrorOptions) {
    super(401, 'invalid_client', message, { ...options, headers: { 'WWW-Authenticate': 'Basic realm="robot-auth"', ...options?.headers } });
  }
}

export class InvalidGrant extends OAuthError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'invalid_grant', message, options);
  }
}

export class UnauthorizedClient extends OAuthError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'unauthorized_client', message, options);
  }
}

export class UnsupportedGrantType extends OAuthError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'unsupported_grant_type', message, options);
  }
}

export class UnsupportedResponseType extends OAuthError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'unsupported_response_type', message, options);
  }
}

export class InvalidScope extends OAuthError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'invalid_scope', message, options);
  }
}

/** RFC 8707 §2: the resource is not one we issue tokens for. */
export class InvalidTarget extends OAuthError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'invalid_target', message, options);
  }
}

export class AccessDenied extends OAuthError {
  constructor(message: string, options?: AppErrorOptions) {
    super(403, 'access_denied', message, options);
  }
}

/** RFC 7591 §3.2.2 */
export class InvalidRedirectUri extends OAuthError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'invalid_redirect_uri', message, options);
  }
}

/** RFC 7591 §3.2.2 */
export class InvalidClientMetadata extends OAuthError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'invalid_client_metadata', message, options);
  }
}

export class TemporarilyUnavailable extends OAuthError {
  constructor(message: string, options?: AppErrorOptions) {
    super(503, 'temporarily_unavailable', message, options);
  }
}

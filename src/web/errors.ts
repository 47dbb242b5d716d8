// Typed errors. Each carries its HTTP status and its wire code (RFC 6749 §5.2 style), so the one
// error handler (web/error-handler.ts) can render it as JSON for APIs or as a page for browsers.
// Anything that is not an AppError is a bug: logged with its stack, shown as a plain 500.

export interface AppErrorOptions {
  cause?: unknown;
  /** Extra response headers (WWW-Authenticate, Retry-After). */
  headers?: Record<string, string>;
  /** Title shown on the browser error page. */
  title?: string;
}

export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;
  readonly title: string | undefined;

  constructor(status: number, code: string, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.status = status;
    this.code = code;
    this.headers = options.headers ?? {};
    this.title = options.title;
  }
}

export class BadRequest extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super(400, 'invalid_request', message, options);
  }
}

export class NotFound extends AppError {
  constructor(message = 'There is nothing here.', options?: AppErrorOptions) {
    super(404, 'not_found', message, options);
  }
}

export class Forbidden extends AppError {
  constructor(message: string, options?: AppErrorOptions) {
    super(403, 'forbidden', message, options);
  }
}

export class InvalidCsrfToken extends AppError {
  constructor() {
    super(403, 'invalid_csrf_token', 'This form has expired or was sent from another site. Go back, reload the page and try again.', {
      title: 'Form expired',
    });
  }
}

export class SignInRequired extends AppError {
  constructor() {
    super(401, 'login_required', 'Please sign in first.');
  }
}

// Errors the CLI reports as a plain message (no stack): the operator can fix them.
// UsageError exits with status 2 and points at --help; AdminError exits with status 1.

export class AdminError extends Error {
  override name = 'AdminError';
}

export class UsageError extends Error {
  override name = 'UsageError';
}

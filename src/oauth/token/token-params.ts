// Token and revocation requests are application/x-www-form-urlencoded (RFC 6749 §4.1.3, RFC 7009
// §2.1), and no parameter may appear twice (RFC 6749 §3.2).
import { InvalidRequest } from '../errors.ts';

export interface TokenParams {
  required(name: string): string;
  optional(name: string): string | undefined;
}

export function readTokenParams(body: unknown, contentType: string | undefined): TokenParams {
  if (!contentType?.toLowerCase().startsWith('application/x-www-form-urlencoded') || typeof body !== 'object' || body === null) {
    throw new InvalidRequest('The request body must be application/x-www-form-urlencoded.');
  }
  const values = body as Record<string, unknown>;
  const optional = (name: string): string | undefined => {
    const value = values[name];
    if (value === undefined || value === '') return undefined;
    if (typeof value !== 'string') throw new InvalidRequest(`The "${name}" parameter must be given once.`);
    return value;
  };
  return {
    optional,
    required(name) {
      const value = optional(name);
      if (value === undefined) throw new InvalidRequest(`The "${name}" parameter is required.`);
      return value;
    },
  };
}

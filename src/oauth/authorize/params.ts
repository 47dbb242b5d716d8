// Reading /authorize parameters. RFC 6749 §3.1: parameters MUST NOT be included more than once.
import { InvalidRequest } from '../errors.ts';

export type Params = Record<string, unknown>;

/** One optional string parameter; a repeated or non-string one is an invalid_request. */
export function optionalParam(params: Params, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new InvalidRequest(`The "${name}" parameter must be given once.`);
  if (value.length > 2048) throw new InvalidRequest(`The "${name}" parameter is too long.`);
  return value;
}

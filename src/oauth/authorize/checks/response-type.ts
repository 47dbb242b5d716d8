// OAuth 2.1 §4.1.1: only the authorization code flow exists.
import { InvalidRequest, UnsupportedResponseType } from '../../errors.ts';
import { optionalParam, type Params } from '../params.ts';

export function checkResponseType(params: Params): void {
  const responseType = optionalParam(params, 'response_type');
  if (responseType === undefined) throw new InvalidRequest('response_type is required.');
  if (responseType !== 'code') throw new UnsupportedResponseType('Only response_type=code is supported.');
  const mode = optionalParam(params, 'response_mode');
  if (mode !== undefined && mode !== 'query') throw new InvalidRequest('Only response_mode=query is supported.');
}

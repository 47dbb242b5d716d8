// POST /auth/oauth/register (RFC 7591 §3): [JSON errors, no-store, rate limit, small JSON body,
// register]. Open registration: anyone may register, and registrations that never obtain a token
// are purged (src/db/purge.ts), and MAX_UNUSED_CLIENTS bounds how many may wait (client-caps.ts).
// The same handlers serve /register on wiki hosts.
import express, { Router, type RequestHandler } from 'express';
import type { AppContext } from '../../context.ts';
import { randomToken, sha256Hex } from '../../lib/secrets.ts';
import { apiResponses } from '../../web/error-handler.ts';
import { noStore, rateLimit } from '../../web/http.ts';
import { registerWithinCap } from '../clients/client-caps.ts';
import { parseClientMetadata } from './client-metadata.schema.ts';
import { registrationResponse } from './registration-response.ts';

export const REGISTRATION_PATH = '/auth/oauth/register';

/** Real registrations are a few hundred bytes. */
const MAX_BODY = '16kb';

/** RFC 7591 §3.2.1 — stores the client (secret hashed) and answers 201 with its metadata. */
function registerClient(ctx: Pick<AppContext, 'store' | 'log' | 'config'>): RequestHandler {
  return async (req, res) => {
    const metadata = parseClientMetadata(req.body);
    // A secret (256 bits) is issued only to clients that authenticate with one; only its hash is
    // stored. Public (none) and private_key_jwt clients get none.
    const usesSecret = metadata.token_endpoint_auth_method === 'client_secret_basic' || metadata.token_endpoint_auth_method === 'client_secret_post';
    const secret = usesSecret ? randomToken(32) : undefined;
    // 503 past MAX_UNUSED_CLIENTS; the check and the insert are one transaction.
    const client = await registerWithinCap(ctx, metadata, secret === undefined ? null : sha256Hex(secret));
    ctx.log.info(
      {
        clientId: client.clientId,
        clientName: metadata.client_name,
        redirectUris: metadata.redirect_uris,
        tokenEndpointAuthMethod: metadata.token_endpoint_auth_method,
      },
      'client registered',
    );
    res.status(201).json(registrationResponse(client, secret));
  };
}

export function registrationHandlers(ctx: AppContext): RequestHandler[] {
  return [
    apiResponses,
    noStore,
    rateLimit('register', ctx.config.rateLimits.registerPerMinute, ctx.config),
    express.json({ limit: MAX_BODY }),
    registerClient(ctx),
  ];
}

/** Pass the same `handlers` that serve /register on wiki hosts to share one rate-limit window. */
export function registerRoutes(ctx: AppContext, handlers: RequestHandler[] = registrationHandlers(ctx)): Router {
  return Router().post(REGISTRATION_PATH, ...handlers);
}

-- PostgreSQL mirror of migrations/002-oauth-server.sql (dialect rules: 001-foundation.sql).
-- The OAuth 2.1 authorization server for MCP clients.
-- The grant (one user × one client × one wiki) is the unit of revocation: revoking it cascades
-- to its refresh tokens, and the resource refuses access tokens whose grant is gone.
-- Codes, refresh tokens, client secrets and request ids are stored only as SHA-256 hashes.

CREATE TABLE oauth_clients (
  client_id text PRIMARY KEY,
  -- 'registered': RFC 7591 dynamic registration; 'metadata_document': client_id is an https URL
  -- whose JSON document we fetched (cached here, refreshed after stale_at).
  kind text NOT NULL CHECK (kind IN ('registered', 'metadata_document')),
  secret_hash text,
  metadata text NOT NULL,
  created_at bigint NOT NULL,
  fetched_at bigint,
  stale_at bigint,
  -- NULL until the client first obtains a token; registrations that never do are purged.
  first_token_at bigint,
  last_used_at bigint
);
CREATE INDEX oauth_clients_idle ON oauth_clients(kind, first_token_at, created_at);

-- /authorize requests waiting for sign-in and consent (kept server-side, not in a long URL).
CREATE TABLE authorization_requests (
  id_hash text PRIMARY KEY,
  client_id text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  params text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX authorization_requests_expires ON authorization_requests(expires_at);

CREATE TABLE oauth_grants (
  id text PRIMARY KEY,
  client_id text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  user_did text NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  wiki_slug text COLLATE nocase NOT NULL REFERENCES wikis(slug) ON DELETE CASCADE,
  resource text NOT NULL,
  scope text NOT NULL,
  created_at bigint NOT NULL,
  last_used_at bigint NOT NULL,
  -- The refresh-token family ends here at the latest.
  expires_at bigint NOT NULL,
  revoked_at bigint
);
CREATE INDEX oauth_grants_user ON oauth_grants(user_did);
CREATE INDEX oauth_grants_client ON oauth_grants(client_id);
CREATE INDEX oauth_grants_expires ON oauth_grants(expires_at);

CREATE TABLE authorization_codes (
  hash text PRIMARY KEY,
  client_id text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  user_did text NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  wiki_slug text COLLATE nocase NOT NULL REFERENCES wikis(slug) ON DELETE CASCADE,
  redirect_uri text NOT NULL,
  -- OAuth 2.1 §4.1.3: redirect_uri is required at the token endpoint iff it was sent to /authorize.
  redirect_uri_sent integer NOT NULL CHECK (redirect_uri_sent IN (0, 1)),
  code_challenge text NOT NULL,
  resource text NOT NULL,
  scope text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  consumed_at bigint,
  -- Set when the code is exchanged, so a replay can revoke what the first use issued (RFC 6749 §10.5).
  grant_id text REFERENCES oauth_grants(id) ON DELETE SET NULL
);
CREATE INDEX authorization_codes_expires ON authorization_codes(expires_at);

CREATE TABLE refresh_tokens (
  hash text PRIMARY KEY,
  grant_id text NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  -- When a successor was issued. The token still works until rotated_at + grace (concurrent
  -- refreshes); presented after that, it is a replay and revokes the grant.
  rotated_at bigint
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);

-- Access tokens revoked one by one (RFC 7009), kept until they would have expired anyway.
CREATE TABLE revoked_access_tokens (
  jti text PRIMARY KEY,
  expires_at bigint NOT NULL
);
CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens(expires_at);

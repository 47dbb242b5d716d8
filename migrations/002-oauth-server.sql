-- The OAuth 2.1 authorization server for MCP clients.
-- The grant (one user × one client × one wiki) is the unit of revocation: revoking it cascades
-- to its refresh tokens, and the resource refuses access tokens whose grant is gone.
-- Codes, refresh tokens, client secrets and request ids are stored only as SHA-256 hashes.

CREATE TABLE oauth_clients (
  client_id TEXT PRIMARY KEY,
  -- 'registered': RFC 7591 dynamic registration; 'metadata_document': client_id is an https URL
  -- whose JSON document we fetched (cached here, refreshed after stale_at).
  kind TEXT NOT NULL CHECK (kind IN ('registered', 'metadata_document')),
  secret_hash TEXT,
  metadata TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  fetched_at INTEGER,
  stale_at INTEGER,
  -- NULL until the client first obtains a token; registrations that never do are purged.
  first_token_at INTEGER,
  last_used_at INTEGER
) STRICT;
CREATE INDEX oauth_clients_idle ON oauth_clients(kind, first_token_at, created_at);

-- /authorize requests waiting for sign-in and consent (kept server-side, not in a long URL).
CREATE TABLE authorization_requests (
  id_hash TEXT PRIMARY KEY,
  client_id TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  params TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX authorization_requests_expires ON authorization_requests(expires_at);

CREATE TABLE oauth_grants (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  user_did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  wiki_slug TEXT NOT NULL REFERENCES wikis(slug) ON DELETE CASCADE,
  resource TEXT NOT NULL,
  scope TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL,
  -- The refresh-token family ends here at the latest.
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT;
CREATE INDEX oauth_grants_user ON oauth_grants(user_did);
CREATE INDEX oauth_grants_client ON oauth_grants(client_id);
CREATE INDEX oauth_grants_expires ON oauth_grants(expires_at);

CREATE TABLE authorization_codes (
  hash TEXT PRIMARY KEY,
  client_id TEXT NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  user_did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  wiki_slug TEXT NOT NULL REFERENCES wikis(slug) ON DELETE CASCADE,
  redirect_uri TEXT NOT NULL,
  -- OAuth 2.1 §4.1.3: redirect_uri is required at the token endpoint iff it was sent to /authorize.
  redirect_uri_sent INTEGER NOT NULL CHECK (redirect_uri_sent IN (0, 1)),
  code_challenge TEXT NOT NULL,
  resource TEXT NOT NULL,
  scope TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  consumed_at INTEGER,
  -- Set when the code is exchanged, so a replay can revoke what the first use issued (RFC 6749 §10.5).
  grant_id TEXT REFERENCES oauth_grants(id) ON DELETE SET NULL
) STRICT;
CREATE INDEX authorization_codes_expires ON authorization_codes(expires_at);

CREATE TABLE refresh_tokens (
  hash TEXT PRIMARY KEY,
  grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  -- When a successor was issued. The token still works until rotated_at + grace (concurrent
  -- refreshes); presented after that, it is a replay and revokes the grant.
  rotated_at INTEGER
) STRICT;
CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);
CREATE INDEX refresh_tokens_expires ON refresh_tokens(expires_at);

-- Access tokens revoked one by one (RFC 7009), kept until they would have expired anyway.
CREATE TABLE revoked_access_tokens (
  jti TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX revoked_access_tokens_expires ON revoked_access_tokens(expires_at);

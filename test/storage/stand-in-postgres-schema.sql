-- A STAND-IN for pg-foundation's migrations/postgres/*.sql, used by test/storage/postgres-schema.ts
-- only while that directory does not exist on this branch. It mirrors migrations/001–014 column for
-- column: integer seconds as bigint, SQLite's 0/1 flags as integer, NOCASE columns as text holding
-- the names lower-cased (with lower() indexes), the client-count triggers in PL/pgSQL.
CREATE TABLE users (
  did text PRIMARY KEY,
  handle text NOT NULL,
  display_name text,
  username text NOT NULL,
  created_at bigint NOT NULL,
  last_login_at bigint NOT NULL
);
CREATE UNIQUE INDEX users_username ON users (lower(username));

CREATE TABLE wikis (
  slug text PRIMARY KEY,
  owner_did text NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  created_at bigint NOT NULL,
  created_by text NOT NULL DEFAULT 'signup' CHECK (created_by IN ('signup', 'operator'))
);
CREATE UNIQUE INDEX wikis_slug_lower ON wikis (lower(slug));
CREATE INDEX wikis_owner ON wikis(owner_did);
CREATE INDEX wikis_created ON wikis(created_at);

CREATE TABLE sessions (
  id text PRIMARY KEY,
  did text NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked_at bigint,
  user_agent text,
  last_seen_at bigint
);
CREATE INDEX sessions_did ON sessions(did);

CREATE TABLE atproto_auth_states (
  key text PRIMARY KEY,
  value text NOT NULL,
  created_at bigint NOT NULL,
  app_state_hash text
);
CREATE INDEX atproto_auth_states_app_state ON atproto_auth_states(app_state_hash);

CREATE TABLE atproto_sessions (
  did text PRIMARY KEY,
  value text NOT NULL,
  updated_at bigint NOT NULL
);

CREATE TABLE sign_in_tickets (
  hash text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('handoff', 'signup')),
  did text NOT NULL,
  payload text NOT NULL,
  expires_at bigint NOT NULL
);

CREATE TABLE oauth_clients (
  client_id text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('registered', 'metadata_document')),
  secret_hash text,
  metadata text NOT NULL,
  created_at bigint NOT NULL,
  fetched_at bigint,
  stale_at bigint,
  first_token_at bigint,
  last_used_at bigint
);

CREATE TABLE authorization_requests (
  id_hash text PRIMARY KEY,
  client_id text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  params text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL
);

CREATE TABLE oauth_grants (
  id text PRIMARY KEY,
  client_id text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  user_did text NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  wiki_slug text NOT NULL REFERENCES wikis(slug) ON DELETE CASCADE,
  resource text NOT NULL,
  scope text NOT NULL,
  created_at bigint NOT NULL,
  last_used_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked_at bigint
);
CREATE INDEX oauth_grants_user ON oauth_grants(user_did);
CREATE INDEX oauth_grants_wiki ON oauth_grants(wiki_slug);

CREATE TABLE authorization_codes (
  hash text PRIMARY KEY,
  client_id text NOT NULL REFERENCES oauth_clients(client_id) ON DELETE CASCADE,
  user_did text NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  wiki_slug text NOT NULL REFERENCES wikis(slug) ON DELETE CASCADE,
  redirect_uri text NOT NULL,
  redirect_uri_sent integer NOT NULL CHECK (redirect_uri_sent IN (0, 1)),
  code_challenge text NOT NULL,
  resource text NOT NULL,
  scope text NOT NULL,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  consumed_at bigint,
  grant_id text REFERENCES oauth_grants(id) ON DELETE SET NULL
);

CREATE TABLE refresh_tokens (
  hash text PRIMARY KEY,
  grant_id text NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  rotated_at bigint,
  successor_hash text,
  successor_sealed text
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);

CREATE TABLE revoked_access_tokens (
  jti text PRIMARY KEY,
  expires_at bigint NOT NULL
);

CREATE TABLE oauth_client_counts (
  name text PRIMARY KEY CHECK (name IN ('unused_registered', 'metadata_document')),
  n bigint NOT NULL
);
INSERT INTO oauth_client_counts (name, n) VALUES ('unused_registered', 0), ('metadata_document', 0);

CREATE FUNCTION oauth_client_counts_maintain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    UPDATE oauth_client_counts SET n = n - 1
     WHERE (name = 'unused_registered' AND OLD.kind = 'registered' AND OLD.first_token_at IS NULL)
        OR (name = 'metadata_document' AND OLD.kind = 'metadata_document');
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    UPDATE oauth_client_counts SET n = n + 1
     WHERE (name = 'unused_registered' AND NEW.kind = 'registered' AND NEW.first_token_at IS NULL)
        OR (name = 'metadata_document' AND NEW.kind = 'metadata_document');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER oauth_client_counts_insert AFTER INSERT OR DELETE ON oauth_clients
  FOR EACH ROW EXECUTE FUNCTION oauth_client_counts_maintain();
CREATE TRIGGER oauth_client_counts_update AFTER UPDATE OF kind, first_token_at ON oauth_clients
  FOR EACH ROW EXECUTE FUNCTION oauth_client_counts_maintain();

CREATE TABLE client_assertion_jtis (
  client_id text NOT NULL,
  jti_hash text NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (client_id, jti_hash)
);

CREATE TABLE audit_log (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  at bigint NOT NULL,
  event text NOT NULL,
  did text,
  client_id text,
  wiki_slug text,
  actor text,
  address text,
  detail text
);
CREATE INDEX audit_log_at ON audit_log(at);

CREATE TABLE reserved_names (
  name text PRIMARY KEY,
  reserved_until bigint NOT NULL,
  reason text NOT NULL CHECK (reason IN ('wiki_deleted', 'account_deleted')),
  held_for_did text
);

CREATE TABLE deleted_wikis (
  slug text NOT NULL,
  owner_did text NOT NULL,
  owner_username text NOT NULL,
  created_at bigint NOT NULL,
  deleted_at bigint NOT NULL,
  reason text NOT NULL CHECK (reason IN ('owner', 'account_deleted')),
  grants_revoked integer NOT NULL
);

CREATE TABLE deleted_users (
  did text NOT NULL,
  username text NOT NULL,
  created_at bigint NOT NULL,
  deleted_at bigint NOT NULL,
  wikis text NOT NULL,
  grants_revoked integer NOT NULL,
  sessions_revoked integer NOT NULL,
  pds_revoked integer NOT NULL CHECK (pds_revoked IN (0, 1))
);

-- PostgreSQL mirror of migrations/001-foundation.sql (same tables, columns, constraints, indexes).
-- Dialect rules for every file in this folder (issue 12):
--  - SQLite INTEGER -> bigint (times stay integer seconds since the epoch, as in SQLite, so both
--    stores share their logic; src/db/postgres/pool.ts returns bigint as a JS number), 0/1 flags -> integer.
--  - SQLite TEXT -> text. STRICT has no equivalent: PostgreSQL columns are always typed.
--  - COLLATE NOCASE -> COLLATE nocase, the nondeterministic ICU collation below: equality, primary
--    keys and unique constraints ignore case as in SQLite. (PostgreSQL 15 refuses LIKE on such a
--    column; no query uses LIKE on them.) Columns that reference a NOCASE key use it too, so the
--    foreign key compares the way SQLite's does (SQLite uses the parent key's collation).
--  - SQLite triggers -> trigger functions with the same effect.
CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

CREATE TABLE users (
  did text PRIMARY KEY,
  handle text NOT NULL,
  display_name text,
  username text COLLATE nocase NOT NULL UNIQUE,
  created_at bigint NOT NULL,
  last_login_at bigint NOT NULL
);

CREATE TABLE wikis (
  slug text COLLATE nocase PRIMARY KEY,
  owner_did text NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  created_at bigint NOT NULL
);
CREATE INDEX wikis_owner ON wikis(owner_did);

-- One row per signed-in browser; the platform_token cookie names its id, so revoking the row
-- ends the session at once even though the cookie's JWT has not expired.
CREATE TABLE sessions (
  id text PRIMARY KEY,
  did text NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  created_at bigint NOT NULL,
  expires_at bigint NOT NULL,
  revoked_at bigint,
  user_agent text
);
CREATE INDEX sessions_did ON sessions(did);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- @atproto/oauth-client-node stores: in-flight authorization states and per-DID sessions (JSON).
CREATE TABLE atproto_auth_states (
  key text PRIMARY KEY,
  value text NOT NULL,
  created_at bigint NOT NULL
);
CREATE INDEX atproto_auth_states_created ON atproto_auth_states(created_at);

CREATE TABLE atproto_sessions (
  did text PRIMARY KEY,
  value text NOT NULL,
  updated_at bigint NOT NULL
);

-- Short-lived, single-use tickets: the dev hand-off from the 127.0.0.1 callback to PUBLIC_URL,
-- and the "just signed in, may choose a username" marker. Only hashes are stored.
CREATE TABLE sign_in_tickets (
  hash text PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('handoff', 'signup')),
  did text NOT NULL,
  payload text NOT NULL,
  expires_at bigint NOT NULL
);
CREATE INDEX sign_in_tickets_expires ON sign_in_tickets(expires_at);

-- Accounts, wikis, browser sessions and the ATProto OAuth client's state.
-- Timestamps are integer seconds since the epoch. Secrets are stored only as SHA-256 hashes.

CREATE TABLE users (
  did TEXT PRIMARY KEY,
  handle TEXT NOT NULL,
  display_name TEXT,
  username TEXT NOT NULL COLLATE NOCASE UNIQUE,
  created_at INTEGER NOT NULL,
  last_login_at INTEGER NOT NULL
) STRICT;

CREATE TABLE wikis (
  slug TEXT PRIMARY KEY COLLATE NOCASE,
  owner_did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX wikis_owner ON wikis(owner_did);

-- One row per signed-in browser; the platform_token cookie names its id, so revoking the row
-- ends the session at once even though the cookie's JWT has not expired.
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  did TEXT NOT NULL REFERENCES users(did) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER,
  user_agent TEXT
) STRICT;
CREATE INDEX sessions_did ON sessions(did);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- @atproto/oauth-client-node stores: in-flight authorization states and per-DID sessions (JSON).
CREATE TABLE atproto_auth_states (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX atproto_auth_states_created ON atproto_auth_states(created_at);

CREATE TABLE atproto_sessions (
  did TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

-- Short-lived, single-use tickets: the dev hand-off from the 127.0.0.1 callback to PUBLIC_URL,
-- and the "just signed in, may choose a username" marker. Only hashes are stored.
CREATE TABLE sign_in_tickets (
  hash TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('handoff', 'signup')),
  did TEXT NOT NULL,
  payload TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_in_tickets_expires ON sign_in_tickets(expires_at);

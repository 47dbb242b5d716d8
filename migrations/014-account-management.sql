-- Issue 14: the account page manages wikis, browser sessions and the account itself.
--  - sessions.last_seen_at: shown in the session list (updated at most once a minute per session,
--    src/accounts/sessions.repo.ts).
--  - reserved_names: a deleted wiki's slug or a deleted account's username is held for a while
--    (DELETED_SLUG_RESERVE_DAYS, DELETED_USERNAME_RESERVE_DAYS) so nobody takes over its addresses
--    at once. `held_for_did` lets the owner of a deleted wiki take the slug back; it is cleared when
--    that person deletes their account (the row then names nobody).
--  - deleted_wikis, deleted_users: the operator's record (`admin wikis deleted`, `admin users deleted`):
--    a wiki's content lives in the wiki app, which is told nothing, so the operator removes it.
ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER;

CREATE TABLE reserved_names (
  name TEXT PRIMARY KEY COLLATE NOCASE,
  reserved_until INTEGER NOT NULL,
  reason TEXT NOT NULL CHECK (reason IN ('wiki_deleted', 'account_deleted')),
  held_for_did TEXT
) STRICT;
CREATE INDEX reserved_names_until ON reserved_names(reserved_until);
CREATE INDEX reserved_names_holder ON reserved_names(held_for_did);

CREATE TABLE deleted_wikis (
  slug TEXT NOT NULL,
  owner_did TEXT NOT NULL,
  owner_username TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER NOT NULL,
  reason TEXT NOT NULL CHECK (reason IN ('owner', 'account_deleted')),
  grants_revoked INTEGER NOT NULL
) STRICT;
CREATE INDEX deleted_wikis_deleted ON deleted_wikis(deleted_at);

CREATE TABLE deleted_users (
  did TEXT NOT NULL,
  username TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  deleted_at INTEGER NOT NULL,
  wikis TEXT NOT NULL,
  grants_revoked INTEGER NOT NULL,
  sessions_revoked INTEGER NOT NULL,
  pds_revoked INTEGER NOT NULL CHECK (pds_revoked IN (0, 1))
) STRICT;
CREATE INDEX deleted_users_deleted ON deleted_users(deleted_at);

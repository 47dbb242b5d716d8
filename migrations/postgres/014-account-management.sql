-- PostgreSQL mirror of migrations/014-account-management.sql (dialect rules: 001-foundation.sql).
-- Issue 14: the account page manages wikis, browser sessions and the account itself.
--  - sessions.last_seen_at: shown in the session list (updated at most once a minute per session).
--  - reserved_names: a deleted wiki's slug or a deleted account's username is held for a while
--    (DELETED_SLUG_RESERVE_DAYS, DELETED_USERNAME_RESERVE_DAYS); `held_for_did` lets the owner of a
--    deleted wiki take the slug back.
--  - deleted_wikis, deleted_users: the operator's record (`admin wikis deleted`, `admin users deleted`).
--    Like in SQLite they have no primary key (SQLite gives them a hidden rowid; PostgreSQL needs none).
ALTER TABLE sessions ADD COLUMN last_seen_at bigint;

CREATE TABLE reserved_names (
  name text COLLATE nocase PRIMARY KEY,
  reserved_until bigint NOT NULL,
  reason text NOT NULL CHECK (reason IN ('wiki_deleted', 'account_deleted')),
  held_for_did text
);
CREATE INDEX reserved_names_until ON reserved_names(reserved_until);
CREATE INDEX reserved_names_holder ON reserved_names(held_for_did);

CREATE TABLE deleted_wikis (
  slug text NOT NULL,
  owner_did text NOT NULL,
  owner_username text NOT NULL,
  created_at bigint NOT NULL,
  deleted_at bigint NOT NULL,
  reason text NOT NULL CHECK (reason IN ('owner', 'account_deleted')),
  grants_revoked bigint NOT NULL
);
CREATE INDEX deleted_wikis_deleted ON deleted_wikis(deleted_at);

CREATE TABLE deleted_users (
  did text NOT NULL,
  username text NOT NULL,
  created_at bigint NOT NULL,
  deleted_at bigint NOT NULL,
  wikis text NOT NULL,
  grants_revoked bigint NOT NULL,
  sessions_revoked bigint NOT NULL,
  pds_revoked integer NOT NULL CHECK (pds_revoked IN (0, 1))
);
CREATE INDEX deleted_users_deleted ON deleted_users(deleted_at);

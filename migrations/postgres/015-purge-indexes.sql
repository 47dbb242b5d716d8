-- PostgreSQL mirror of migrations/015-purge-indexes.sql: indexes for the scheduled purge
-- (src/db/purge.ts), whose OR'd conditions on rotated_at / revoked_at and condition on updated_at
-- otherwise scan whole tables. Partial indexes hold only the rows that can match.
CREATE INDEX refresh_tokens_rotated ON refresh_tokens (rotated_at) WHERE rotated_at IS NOT NULL;
CREATE INDEX oauth_grants_revoked ON oauth_grants (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX atproto_sessions_updated ON atproto_sessions (updated_at);

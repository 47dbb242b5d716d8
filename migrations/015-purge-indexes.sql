-- Indexes for the scheduled purge (src/db/purge.ts), which runs in one transaction on the event loop.
-- Its `expires_at <= ? OR rotated_at <= ?` (refresh tokens), `expires_at <= ? OR revoked_at <= ?`
-- (grants, browser sessions) and `updated_at <= ?` (ATProto sessions) had no index on the second
-- column, so each purge scanned those tables whole: 250 ms of CPU every 10 minutes on the bench's
-- 1M-grant database with nothing to delete (docs/benchmarks.md, "Round 3: the large database and
-- checkpoints"). Partial indexes hold only the rows that can match: rotated tokens, revoked grants
-- and sessions (a rotation adds one entry, at the end of the index).
CREATE INDEX refresh_tokens_rotated ON refresh_tokens(rotated_at) WHERE rotated_at IS NOT NULL;
CREATE INDEX oauth_grants_revoked ON oauth_grants(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX sessions_revoked ON sessions(revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX atproto_sessions_updated ON atproto_sessions(updated_at);

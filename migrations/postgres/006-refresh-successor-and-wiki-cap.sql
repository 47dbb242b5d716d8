-- PostgreSQL mirror of migrations/006-refresh-successor-and-wiki-cap.sql (dialect rules:
-- 001-foundation.sql).
-- Refresh grace without forks (RFC 9700 §4.14.2; src/oauth/token/refresh-rotation.ts): a rotated
-- refresh token names its one successor, and for REFRESH_GRACE_SECONDS keeps that successor's value
-- sealed with a server key, so a repeated use returns the same successor instead of minting another.
ALTER TABLE refresh_tokens ADD COLUMN successor_hash text;
ALTER TABLE refresh_tokens ADD COLUMN successor_sealed text;
CREATE INDEX refresh_tokens_sealed ON refresh_tokens(rotated_at) WHERE successor_sealed IS NOT NULL;

-- The daily cap on new wikis (NEW_WIKIS_PER_DAY; src/wikis/new-wiki-cap.ts) counts wikis by creation
-- time; `created_by` tells the wikis a person signed up for from those the operator made.
ALTER TABLE wikis ADD COLUMN created_by text NOT NULL DEFAULT 'signup' CHECK (created_by IN ('signup', 'operator'));
CREATE INDEX wikis_created ON wikis(created_at);

-- PostgreSQL mirror of migrations/016-platform-keys.sql (issue 12): platform signing keys sealed under
-- PLATFORM_KEYS_KEK, and the version every instance polls to reload them (src/config/key-source.ts).
CREATE TABLE platform_keys (
  kid TEXT PRIMARY KEY,
  position INTEGER NOT NULL UNIQUE,
  sealed_jwk TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE platform_keys_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

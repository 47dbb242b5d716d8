-- Issue 12: platform signing keys in the database, for several instances that share nothing but it
-- (src/config/key-source.ts). Used only when PLATFORM_KEYS_KEK is set; otherwise the key file stays
-- the source and these tables stay empty.
--  - platform_keys: one row per key, `position` is the order of the key file (the first key of a
--    purpose signs). `sealed_jwk` is the private JWK sealed with AES-256-GCM under a key derived from
--    PLATFORM_KEYS_KEK (src/lib/sealing.ts format, associated data = the kid): a database copy alone
--    holds no usable key.
--  - platform_keys_version: at most one row (absent: version 0, no keys yet), written in the same
--    transaction as every change to platform_keys. Every instance polls it (PLATFORM_KEYS_POLL_SECONDS)
--    and reloads its keys when it moves. Nothing is seeded: a fresh database stays empty (so that
--    `admin migrate-to-postgres` finds an empty target).
CREATE TABLE platform_keys (
  kid TEXT PRIMARY KEY,
  position INTEGER NOT NULL UNIQUE,
  sealed_jwk TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE platform_keys_version (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  version INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

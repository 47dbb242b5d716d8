-- RFC 7523 §3 (item 7): a private_key_jwt client assertion may be used once. Its jti is recorded
-- until the assertion expires (then src/db/purge.ts deletes it); the primary key makes a concurrent
-- second use fail atomically.
CREATE TABLE client_assertion_jtis (
  client_id TEXT NOT NULL,
  -- SHA-256 of the jti (its length is the client's choice).
  jti_hash TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (client_id, jti_hash)
) STRICT;
CREATE INDEX client_assertion_jtis_expires ON client_assertion_jtis(expires_at);

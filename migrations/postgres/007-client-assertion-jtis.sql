-- PostgreSQL mirror of migrations/007-client-assertion-jtis.sql (dialect rules: 001-foundation.sql).
-- RFC 7523 §3: a private_key_jwt client assertion may be used once. Its jti is recorded until the
-- assertion expires; the primary key makes a concurrent second use fail atomically.
CREATE TABLE client_assertion_jtis (
  client_id text NOT NULL,
  -- SHA-256 of the jti (its length is the client's choice).
  jti_hash text NOT NULL,
  expires_at bigint NOT NULL,
  PRIMARY KEY (client_id, jti_hash)
);
CREATE INDEX client_assertion_jtis_expires ON client_assertion_jtis(expires_at);

-- Issue 13 item 3: the audit log of security events (src/audit/audit-log.ts). One row per event;
-- kept AUDIT_RETENTION_DAYS (default 90), then deleted by the scheduled purge (src/db/purge.ts).
-- No foreign keys: an entry outlives the user, client, wiki or grant it names.
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  event TEXT NOT NULL,
  -- The person concerned (their DID), when there is one.
  did TEXT,
  client_id TEXT,
  wiki_slug TEXT,
  -- Who acted: person, client, admin, replay, system.
  actor TEXT,
  -- The request's source address (Express req.ip, TRUST_PROXY-aware); NULL for the admin CLI.
  address TEXT,
  -- A short JSON object with event-specific facts (never a secret).
  detail TEXT
) STRICT;
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_did ON audit_log(did, at);
CREATE INDEX audit_log_client ON audit_log(client_id, at);

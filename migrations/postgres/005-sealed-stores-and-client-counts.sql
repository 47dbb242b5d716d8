-- PostgreSQL mirror of migrations/005-sealed-stores-and-client-counts.sql (dialect rules:
-- 001-foundation.sql). The three SQLite triggers become one row-level trigger function.
-- The ATProto stores' values are sealed at rest (src/lib/sealing.ts); a refused sign-in finds its
-- rows by this hash of the app state (src/atproto/stores.ts forgetAuthStates).
ALTER TABLE atproto_auth_states ADD COLUMN app_state_hash text;
CREATE INDEX atproto_auth_states_app_state ON atproto_auth_states(app_state_hash);

-- Open registration must not fill the disk (src/oauth/clients/client-caps.ts): the caps compare
-- these maintained counts, O(1) per request whatever the table size, instead of counting rows.
--  'unused_registered': registrations that never obtained a token (first_token_at IS NULL);
--  'metadata_document': cached client ID metadata documents.
CREATE TABLE oauth_client_counts (
  name text PRIMARY KEY CHECK (name IN ('unused_registered', 'metadata_document')),
  n bigint NOT NULL
);
INSERT INTO oauth_client_counts (name, n)
  SELECT 'unused_registered', count(*) FROM oauth_clients WHERE kind = 'registered' AND first_token_at IS NULL;
INSERT INTO oauth_client_counts (name, n)
  SELECT 'metadata_document', count(*) FROM oauth_clients WHERE kind = 'metadata_document';

-- Same effect as SQLite's oauth_client_counts_insert / _delete / _update triggers: the old row
-- (if any) leaves its count, the new row (if any) joins its count.
CREATE FUNCTION oauth_client_counts_maintain() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    UPDATE oauth_client_counts SET n = n - 1
     WHERE (name = 'unused_registered' AND OLD.kind = 'registered' AND OLD.first_token_at IS NULL)
        OR (name = 'metadata_document' AND OLD.kind = 'metadata_document');
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    UPDATE oauth_client_counts SET n = n + 1
     WHERE (name = 'unused_registered' AND NEW.kind = 'registered' AND NEW.first_token_at IS NULL)
        OR (name = 'metadata_document' AND NEW.kind = 'metadata_document');
  END IF;
  RETURN NULL;
END;
$$;
CREATE TRIGGER oauth_client_counts_insert AFTER INSERT ON oauth_clients
  FOR EACH ROW EXECUTE FUNCTION oauth_client_counts_maintain();
CREATE TRIGGER oauth_client_counts_delete AFTER DELETE ON oauth_clients
  FOR EACH ROW EXECUTE FUNCTION oauth_client_counts_maintain();
CREATE TRIGGER oauth_client_counts_update AFTER UPDATE OF kind, first_token_at ON oauth_clients
  FOR EACH ROW EXECUTE FUNCTION oauth_client_counts_maintain();

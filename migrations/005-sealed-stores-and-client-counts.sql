-- The ATProto stores' values are sealed at rest (src/lib/sealing.ts), so SQL can no longer read
-- the app state inside a saved authorization state: a refused sign-in finds its rows by this hash
-- of the app state instead (src/atproto/stores.ts forgetAuthStates). Rows from before are sealed,
-- and given their hash, at start-up.
ALTER TABLE atproto_auth_states ADD COLUMN app_state_hash TEXT;
CREATE INDEX atproto_auth_states_app_state ON atproto_auth_states(app_state_hash);

-- Open registration must not fill the disk (src/oauth/clients/client-caps.ts): the caps compare
-- these maintained counts, O(1) per request whatever the table size, instead of counting rows.
--  'unused_registered': registrations that never obtained a token (first_token_at IS NULL);
--  'metadata_document': cached client ID metadata documents.
CREATE TABLE oauth_client_counts (
  name TEXT PRIMARY KEY CHECK (name IN ('unused_registered', 'metadata_document')),
  n INTEGER NOT NULL
) STRICT;
INSERT INTO oauth_client_counts (name, n)
  SELECT 'unused_registered', count(*) FROM oauth_clients WHERE kind = 'registered' AND first_token_at IS NULL;
INSERT INTO oauth_client_counts (name, n)
  SELECT 'metadata_document', count(*) FROM oauth_clients WHERE kind = 'metadata_document';

CREATE TRIGGER oauth_client_counts_insert AFTER INSERT ON oauth_clients BEGIN
  UPDATE oauth_client_counts SET n = n + 1
   WHERE (name = 'unused_registered' AND NEW.kind = 'registered' AND NEW.first_token_at IS NULL)
      OR (name = 'metadata_document' AND NEW.kind = 'metadata_document');
END;
CREATE TRIGGER oauth_client_counts_delete AFTER DELETE ON oauth_clients BEGIN
  UPDATE oauth_client_counts SET n = n - 1
   WHERE (name = 'unused_registered' AND OLD.kind = 'registered' AND OLD.first_token_at IS NULL)
      OR (name = 'metadata_document' AND OLD.kind = 'metadata_document');
END;
CREATE TRIGGER oauth_client_counts_update AFTER UPDATE OF kind, first_token_at ON oauth_clients BEGIN
  UPDATE oauth_client_counts SET n = n - 1
   WHERE (name = 'unused_registered' AND OLD.kind = 'registered' AND OLD.first_token_at IS NULL)
      OR (name = 'metadata_document' AND OLD.kind = 'metadata_document');
  UPDATE oauth_client_counts SET n = n + 1
   WHERE (name = 'unused_registered' AND NEW.kind = 'registered' AND NEW.first_token_at IS NULL)
      OR (name = 'metadata_document' AND NEW.kind = 'metadata_document');
END;

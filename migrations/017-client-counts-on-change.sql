-- The client counts (005-sealed-stores-and-client-counts.sql) move only when a row changes what it
-- counts as. Every code exchange marks its client used (src/oauth/clients/clients.repo.ts
-- markTokenIssued: first_token_at = coalesce(first_token_at, now), last_used_at = now), and
-- `AFTER UPDATE OF first_token_at` fires whenever that column is in the SET list, changed or not: two
-- UPDATEs of oauth_client_counts on every exchange (for a client ID metadata document, n - 1 then
-- n + 1 of the same row). The trigger now fires only when the row moves into or out of one of the
-- counts (a registration's first token; a change of kind); the counts it keeps are the same.
DROP TRIGGER oauth_client_counts_update;
CREATE TRIGGER oauth_client_counts_update AFTER UPDATE OF kind, first_token_at ON oauth_clients
  WHEN (OLD.kind = 'registered' AND OLD.first_token_at IS NULL) IS NOT (NEW.kind = 'registered' AND NEW.first_token_at IS NULL)
    OR (OLD.kind = 'metadata_document') IS NOT (NEW.kind = 'metadata_document')
BEGIN
  UPDATE oauth_client_counts SET n = n - 1
   WHERE (name = 'unused_registered' AND OLD.kind = 'registered' AND OLD.first_token_at IS NULL)
      OR (name = 'metadata_document' AND OLD.kind = 'metadata_document');
  UPDATE oauth_client_counts SET n = n + 1
   WHERE (name = 'unused_registered' AND NEW.kind = 'registered' AND NEW.first_token_at IS NULL)
      OR (name = 'metadata_document' AND NEW.kind = 'metadata_document');
END;

-- PostgreSQL mirror of migrations/017-client-counts-on-change.sql: the client counts' update trigger
-- fires only when a row moves into or out of one of the counts, not on every code exchange's
-- markTokenIssued.
DROP TRIGGER oauth_client_counts_update ON oauth_clients;
CREATE TRIGGER oauth_client_counts_update AFTER UPDATE OF kind, first_token_at ON oauth_clients
  FOR EACH ROW
  WHEN ((OLD.kind = 'registered' AND OLD.first_token_at IS NULL) IS DISTINCT FROM (NEW.kind = 'registered' AND NEW.first_token_at IS NULL)
     OR (OLD.kind = 'metadata_document') IS DISTINCT FROM (NEW.kind = 'metadata_document'))
  EXECUTE FUNCTION oauth_client_counts_maintain();

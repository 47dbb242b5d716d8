-- PostgreSQL mirror of migrations/003-foreign-key-indexes.sql: indexes on the foreign-key columns
-- that had none. PostgreSQL, like SQLite, does not index a referencing column by itself, and a
-- cascading delete of a parent row looks its children up through these.
CREATE INDEX authorization_codes_grant ON authorization_codes(grant_id);
CREATE INDEX authorization_codes_client ON authorization_codes(client_id);
CREATE INDEX authorization_codes_user ON authorization_codes(user_did);
CREATE INDEX authorization_codes_wiki ON authorization_codes(wiki_slug);
CREATE INDEX authorization_requests_client ON authorization_requests(client_id);
CREATE INDEX oauth_grants_wiki ON oauth_grants(wiki_slug);

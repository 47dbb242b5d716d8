-- The indexes on the wiki column of oauth_grants and authorization_codes, rebuilt with the collation
-- of the column they reference: wikis.slug is COLLATE NOCASE. SQLite looks a deleted wiki's children
-- up (ON DELETE CASCADE, and the foreign-key count) with the parent column's collation, and uses no
-- index of another: deleting a wiki, or an account with its wikis, read the whole oauth_grants table
-- twice, holding the write lock on the event loop (280-380 ms per wiki on the benchmark's 1M grants,
-- 1.3-2.6 ms with these; docs/benchmarks.md, round 12). The statements that find a wiki's grants
-- compare with NOCASE too (src/storage/sqlite/wikis-admin.ts, and the admin listing of wikis in
-- src/storage/sqlite/repositories.ts). test/db/foreign-key-plans.test.ts
-- holds every parent's deletion to index lookups. Rebuilding the index reads the table once
-- (about 1.5 s on 1M grants), at the start of the first version that has this migration.
DROP INDEX oauth_grants_wiki;
CREATE INDEX oauth_grants_wiki ON oauth_grants(wiki_slug COLLATE NOCASE);
DROP INDEX authorization_codes_wiki;
CREATE INDEX authorization_codes_wiki ON authorization_codes(wiki_slug COLLATE NOCASE);

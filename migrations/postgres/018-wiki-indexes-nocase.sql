-- PostgreSQL mirror of migrations/018-wiki-indexes-nocase.sql: nothing to do. Here oauth_grants.wiki_slug
-- and authorization_codes.wiki_slug already have the `nocase` collation of wikis.slug (002), so the
-- indexes of 003 serve a wiki's deletion and its grants' lookups as they are.
SELECT 1;

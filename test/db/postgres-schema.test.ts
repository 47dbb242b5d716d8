// The PostgreSQL schema (migrations/postgres/) mirrors the SQLite one (migrations/): one file per
// SQLite migration with the same name (a missing mirror fails here), and once applied to a real
// server, the same tables, columns, nullability, primary keys, indexes and foreign keys with the
// same ON DELETE rules as SQLite after its migrations. The SQLite triggers' effects hold too.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, readMigrations } from '../../src/db/migrate.ts';
import { openDatabase } from '../../src/db/open.ts';
import { createPool } from '../../src/db/postgres/pool.ts';
import { migratePostgres, readPostgresMigrations } from '../../src/db/postgres/migrate.ts';
import { startPostgres, type TestPostgres } from '../support/postgres.ts';

interface Shape {
  tables: Record<string, { columns: string[]; notNull: string[]; primaryKey: string[] }>;
  indexes: string[];
  foreignKeys: string[];
  /** `table.column: integer|text` (SQLite INTEGER ↔ PostgreSQL bigint/integer, TEXT ↔ text). */
  types: string[];
  /** `table.column` compared without case: COLLATE NOCASE in SQLite, the nocase collation in PostgreSQL. */
  nocase: string[];
  /** `table.column=default` for the columns with a default. */
  defaults: string[];
}

function sqliteShape(): Shape {
  const db = openDatabase(':memory:');
  try {
    migrate(db);
    const names = (
      db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as { name: string }[]
    ).map((r) => r.name);
    const tables: Shape['tables'] = {};
    const indexes: string[] = [];
    const foreignKeys: string[] = [];
    const types: string[] = [];
    const nocase: string[] = [];
    const defaults: string[] = [];
    for (const t of names) {
      const cols = db.prepare(`PRAGMA table_info(${t})`).all() as { name: string; type: string; notnull: number; pk: number; dflt_value: string | null }[];
      const ddl = (db.prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?").get(t) as { sql: string }).sql;
      for (const c of cols) {
        types.push(`${t}.${c.name}: ${c.type.toLowerCase()}`);
        if (c.dflt_value !== null) defaults.push(`${t}.${c.name}=${c.dflt_value}`);
        // A column definition starts a line of the DDL (ALTER TABLE … ADD COLUMN ones too, as SQLite rewrites them).
        if (new RegExp(`(^|[(,]\\s*)${c.name} TEXT[^,\\n]*COLLATE NOCASE`, 'm').test(ddl)) nocase.push(`${t}.${c.name}`);
      }
      tables[t] = {
        columns: cols.map((c) => c.name).sort(),
        // SQLite lets a non-INTEGER primary key hold NULL unless declared NOT NULL; PostgreSQL never does.
        notNull: cols.filter((c) => c.notnull === 1 || c.pk > 0).map((c) => c.name).sort(),
        primaryKey: cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name),
      };
      for (const ix of db.prepare(`PRAGMA index_list(${t})`).all() as { name: string; origin: string }[]) {
        if (ix.origin === 'c') indexes.push(`${t}.${ix.name}`);
        if (ix.origin === 'u') {
          const cols = (db.prepare(`PRAGMA index_info(${ix.name})`).all() as { name: string }[]).map((c) => c.name);
          indexes.push(`${t} unique(${cols.join(',')})`);
        }
      }
      for (const fk of db.prepare(`PRAGMA foreign_key_list(${t})`).all() as { table: string; from: string; to: string; on_delete: string }[]) {
        foreignKeys.push(`${t}.${fk.from} -> ${fk.table}.${fk.to} ON DELETE ${fk.on_delete}`);
      }
    }
    // A column that references a NOCASE key compares like it (SQLite uses the parent key's collation).
    for (const fk of foreignKeys) {
      const [child, parent] = fk.split(' ON DELETE')[0]!.split(' -> ') as [string, string];
      if (nocase.includes(parent)) nocase.push(child);
    }
    return { tables, indexes: indexes.sort(), foreignKeys: foreignKeys.sort(), types: types.sort(), nocase: nocase.sort(), defaults: defaults.sort() };
  } finally {
    db.close();
  }
}

async function postgresShape(client: pg.Pool): Promise<Shape> {
  const cols = await client.query<{ table_name: string; column_name: string; is_nullable: string; data_type: string; collation_name: string | null; column_default: string | null }>(
    "SELECT table_name, column_name, is_nullable, data_type, collation_name, column_default FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name",
  );
  const tables: Shape['tables'] = {};
  const types: string[] = [];
  const nocase: string[] = [];
  const defaults: string[] = [];
  for (const c of cols.rows) {
    const t = (tables[c.table_name] ??= { columns: [], notNull: [], primaryKey: [] });
    t.columns.push(c.column_name);
    if (c.is_nullable === 'NO') t.notNull.push(c.column_name);
    types.push(`${c.table_name}.${c.column_name}: ${c.data_type === 'bigint' || c.data_type === 'integer' ? 'integer' : c.data_type}`);
    if (c.collation_name === 'nocase') nocase.push(`${c.table_name}.${c.column_name}`);
    if (c.column_default !== null) defaults.push(`${c.table_name}.${c.column_name}=${c.column_default.replace(/::text$/, '')}`);
  }
  const keys = await client.query<{ table_name: string; contype: string; columns: string[]; name: string }>(
    `SELECT cl.relname AS table_name, co.contype, co.conname AS name,
            array(SELECT a.attname FROM unnest(co.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.n ORDER BY k.i)::text[] AS columns
       FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace ns ON ns.oid = cl.relnamespace
      WHERE ns.nspname = 'public' AND co.contype IN ('p', 'u')`,
  );
  const indexes: string[] = [];
  const constraintIndexes = new Set<string>();
  for (const k of keys.rows) {
    constraintIndexes.add(k.name);
    if (k.contype === 'p') tables[k.table_name]!.primaryKey = k.columns;
    else indexes.push(`${k.table_name} unique(${k.columns.join(',')})`);
  }
  const ix = await client.query<{ tablename: string; indexname: string }>("SELECT tablename, indexname FROM pg_indexes WHERE schemaname = 'public'");
  for (const i of ix.rows) if (!constraintIndexes.has(i.indexname)) indexes.push(`${i.tablename}.${i.indexname}`);
  const fks = await client.query<{ line: string }>(
    `SELECT format('%s.%s -> %s.%s ON DELETE %s', kcu.table_name, kcu.column_name, ccu.table_name, ccu.column_name, rc.delete_rule) AS line
       FROM information_schema.referential_constraints rc
       JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = rc.constraint_name AND kcu.constraint_schema = rc.constraint_schema
       JOIN information_schema.constraint_column_usage ccu ON ccu.constraint_name = rc.constraint_name AND ccu.constraint_schema = rc.constraint_schema
      WHERE rc.constraint_schema = 'public'`,
  );
  return { tables, indexes: indexes.sort(), foreignKeys: fks.rows.map((r) => r.line).sort(), types: types.sort(), nocase: nocase.sort(), defaults: defaults.sort() };
}

describe('PostgreSQL migrations mirror the SQLite ones', () => {
  it('lists the same migration file names in both folders', () => {
    expect(readPostgresMigrations().map((m) => m.name)).toEqual(readMigrations().map((m) => m.name));
  });

  describe('on a real server', () => {
    let server: TestPostgres;
    let pool: pg.Pool;
    beforeAll(async () => {
      server = await startPostgres();
      pool = createPool({ url: await server.createDatabase() });
      await migratePostgres(pool);
    });
    afterAll(async () => {
      await pool?.end();
      await server?.stop();
    });

    /** did:plc:{letter}, their wiki `name`, a registered client and a live grant of theirs. */
    async function personWithGrant(letter: string, name: string, clientId: string, grantId: string): Promise<void> {
      await pool.query('INSERT INTO users (did, handle, username, created_at, last_login_at) VALUES ($1, $2, $3, 1, 1)', [`did:plc:${letter}`, `${letter}.test`, name]);
      await pool.query('INSERT INTO wikis (slug, owner_did, created_at) VALUES ($1, $2, 1)', [name, `did:plc:${letter}`]);
      await pool.query("INSERT INTO oauth_clients (client_id, kind, metadata, created_at) VALUES ($1, 'registered', '{}', 1)", [clientId]);
      await pool.query(
        "INSERT INTO oauth_grants (id, client_id, user_did, wiki_slug, resource, scope, created_at, last_used_at, expires_at) VALUES ($1, $2, $3, $4, 'r', 's', 1, 1, 4102444800)",
        [grantId, clientId, `did:plc:${letter}`, name],
      );
    }

    it('has the same tables, columns, types, nullability, defaults, keys, indexes, foreign keys and case rules as SQLite', async () => {
      const sqlite = sqliteShape();
      const postgres = await postgresShape(pool);
      expect(Object.keys(postgres.tables).sort()).toEqual(Object.keys(sqlite.tables).sort());
      expect(postgres.tables).toEqual(sqlite.tables);
      expect(postgres.types).toEqual(sqlite.types);
      expect(postgres.indexes).toEqual(sqlite.indexes);
      expect(postgres.foreignKeys).toEqual(sqlite.foreignKeys);
      expect(sqlite.nocase).toContain('users.username');
      expect(postgres.nocase).toEqual(sqlite.nocase);
      // audit_log.id is SQLite's rowid alias; PostgreSQL's identity column has no column default.
      expect(postgres.defaults).toEqual(sqlite.defaults);
    });

    it('records every migration in schema_migrations, and a second run applies nothing', async () => {
      const { rows } = await pool.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.name)).toEqual(readMigrations().map((m) => m.name));
      expect(await migratePostgres(pool)).toEqual([]);
    });

    it('keeps the client counts as the SQLite triggers do (insert, first token, kind change, delete)', async () => {
      const counts = async () =>
        Object.fromEntries((await pool.query<{ name: string; n: number }>('SELECT name, n FROM oauth_client_counts')).rows.map((r) => [r.name, r.n]));
      const base = await counts();
      await pool.query("INSERT INTO oauth_clients (client_id, kind, metadata, created_at) VALUES ('r1', 'registered', '{}', 1), ('r2', 'registered', '{}', 1), ('m1', 'metadata_document', '{}', 1)");
      expect(await counts()).toEqual({ unused_registered: base.unused_registered! + 2, metadata_document: base.metadata_document! + 1 });
      await pool.query("UPDATE oauth_clients SET first_token_at = 5 WHERE client_id = 'r1'");
      await pool.query("UPDATE oauth_clients SET last_used_at = 6 WHERE client_id = 'r2'");
      expect(await counts()).toEqual({ unused_registered: base.unused_registered! + 1, metadata_document: base.metadata_document! + 1 });
      await pool.query("UPDATE oauth_clients SET kind = 'metadata_document' WHERE client_id = 'r2'");
      expect(await counts()).toEqual({ unused_registered: base.unused_registered!, metadata_document: base.metadata_document! + 2 });
      // A code exchange's markTokenIssued on a client whose counted state does not change (migration
      // 017): the trigger does not fire, so the counts' rows are not rewritten (a rewrite gives a row a new ctid).
      const versions = async () => (await pool.query<{ ctid: string }>('SELECT ctid::text FROM oauth_client_counts ORDER BY name')).rows;
      const before = await versions();
      await pool.query("UPDATE oauth_clients SET first_token_at = coalesce(first_token_at, 9), last_used_at = 9 WHERE client_id IN ('r1', 'r2', 'm1')");
      expect(await versions()).toEqual(before);
      expect(await counts()).toEqual({ unused_registered: base.unused_registered!, metadata_document: base.metadata_document! + 2 });
      await pool.query("DELETE FROM oauth_clients WHERE client_id IN ('r1', 'r2', 'm1')");
      expect(await counts()).toEqual(base);
    });

    it('drops closed grace windows through the sealed rows only, with a week of rotated tokens in the table', async () => {
      await personWithGrant('w', 'walt', 'cw', 'gw');
      // 50,000 tokens rotated over a week, their ciphertexts long dropped; 20 rotated within the grace window, still sealed.
      await pool.query("INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at, rotated_at) SELECT 'old' || i, 'gw', 1, 4102444800, 1000000 + i FROM generate_series(1, 50000) AS i");
      await pool.query("INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at, rotated_at, successor_hash, successor_sealed) SELECT 'new' || i, 'gw', 1, 4102444800, 2000000 + i, 's' || i, 'sealed' FROM generate_series(1, 20) AS i");
      await pool.query('ANALYZE refresh_tokens');
      // The repository's statement (src/storage/postgres/repositories.ts), planned for a window closed at 2,000,010.
      const plan = (await pool.query<{ 'QUERY PLAN': string }>('EXPLAIN UPDATE refresh_tokens SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL AND rotated_at <= 2000010')).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('refresh_tokens_sealed');
      expect(plan).not.toContain('refresh_tokens_rotated');
      await pool.query("DELETE FROM users WHERE did = 'did:plc:w'");
    });

    it('compares usernames, slugs and reserved names without case, as COLLATE NOCASE does', async () => {
      await pool.query("INSERT INTO users (did, handle, username, created_at, last_login_at) VALUES ('did:plc:a', 'a.test', 'Alice', 1, 1)");
      await expect(pool.query("INSERT INTO users (did, handle, username, created_at, last_login_at) VALUES ('did:plc:b', 'b.test', 'alice', 1, 1)")).rejects.toMatchObject({ code: '23505' });
      await pool.query("INSERT INTO wikis (slug, owner_did, created_at) VALUES ('Garden', 'did:plc:a', 1)");
      expect((await pool.query("SELECT slug FROM wikis WHERE slug = 'garden'")).rows).toEqual([{ slug: 'Garden' }]);
      await expect(pool.query("INSERT INTO wikis (slug, owner_did, created_at) VALUES ('GARDEN', 'did:plc:a', 1)")).rejects.toMatchObject({ code: '23505' });
      await pool.query("INSERT INTO reserved_names (name, reserved_until, reason) VALUES ('Old', 9, 'wiki_deleted')");
      await expect(pool.query("INSERT INTO reserved_names (name, reserved_until, reason) VALUES ('old', 9, 'wiki_deleted')")).rejects.toMatchObject({ code: '23505' });
    });

    it('cascades and nulls on delete as SQLite does, and returns integer seconds as numbers', async () => {
      await personWithGrant('c', 'carol', 'c1', 'g1');
      await pool.query("INSERT INTO refresh_tokens (hash, grant_id, created_at, expires_at) VALUES ('h1', 'g1', 1, 2)");
      await pool.query("INSERT INTO authorization_codes (hash, client_id, user_did, wiki_slug, redirect_uri, redirect_uri_sent, code_challenge, resource, scope, created_at, expires_at, grant_id) VALUES ('k1', 'c1', 'did:plc:c', 'carol', 'http://x', 1, 'c', 'r', 's', 1, 2, 'g1')");
      const grant = await pool.query<{ expires_at: unknown }>("SELECT expires_at FROM oauth_grants WHERE id = 'g1'");
      expect(grant.rows[0]!.expires_at).toBe(4102444800);
      await pool.query("DELETE FROM oauth_grants WHERE id = 'g1'");
      expect((await pool.query("SELECT count(*) AS n FROM refresh_tokens WHERE grant_id = 'g1'")).rows[0]).toEqual({ n: 0 });
      expect((await pool.query("SELECT grant_id FROM authorization_codes WHERE hash = 'k1'")).rows).toEqual([{ grant_id: null }]);
      await pool.query("DELETE FROM users WHERE did = 'did:plc:c'");
      expect((await pool.query("SELECT count(*) AS n FROM authorization_codes WHERE hash = 'k1'")).rows[0]).toEqual({ n: 0 });
      expect((await pool.query("SELECT created_by FROM wikis WHERE slug = 'garden'")).rows).toEqual([{ created_by: 'signup' }]);
      await expect(pool.query("INSERT INTO sign_in_tickets (hash, kind, did, payload, expires_at) VALUES ('t', 'other', 'd', 'p', 1)")).rejects.toMatchObject({ code: '23514' });
    });
  });
});

// Sign-in tickets (dev hand-off, signup marker): single-use, short-lived, of one kind, stored hashed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openDatabase, type Db } from '../../src/db/open.ts';
import { migrate } from '../../src/db/migrate.ts';
import { createTicketsRepo, type TicketsRepo } from '../../src/accounts/tickets.repo.ts';
import { sha256Hex } from '../../src/lib/secrets.ts';

let db: Db;
let tickets: TicketsRepo;

beforeEach(() => {
  db = openDatabase(':memory:');
  migrate(db);
  tickets = createTicketsRepo(db);
});
afterEach(() => {
  vi.useRealTimers();
  db.close();
});

describe('tickets', () => {
  it('are used up by the first consume', () => {
    const value = tickets.issue('handoff', 'did:plc:a', { n: 1 }, 120);
    expect(tickets.consume('handoff', value)).toEqual({ did: 'did:plc:a', payload: { n: 1 } });
    expect(tickets.consume('handoff', value)).toBeUndefined();
    expect(tickets.peek('handoff', value)).toBeUndefined();
  });

  it('can be peeked at without being used up', () => {
    const value = tickets.issue('signup', 'did:plc:a', { handle: 'a.test' }, 900);
    expect(tickets.peek('signup', value)).toEqual({ did: 'did:plc:a', payload: { handle: 'a.test' } });
    expect(tickets.consume('signup', value)).toBeDefined();
  });

  it('are valid only for their own kind', () => {
    const value = tickets.issue('signup', 'did:plc:a', {}, 900);
    expect(tickets.peek('handoff', value)).toBeUndefined();
    expect(tickets.consume('handoff', value)).toBeUndefined();
    expect(tickets.consume('signup', value)).toBeDefined();
  });

  it('expire after their lifetime', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const value = tickets.issue('handoff', 'did:plc:a', {}, 120);
    vi.setSystemTime(Date.now() + 119_000);
    expect(tickets.peek('handoff', value)).toBeDefined();
    vi.setSystemTime(Date.now() + 2_000);
    expect(tickets.consume('handoff', value)).toBeUndefined();
  });

  it('are stored only as hashes, and are long random values', () => {
    const value = tickets.issue('handoff', 'did:plc:a', {}, 120);
    expect(value).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const rows = db.prepare('SELECT hash FROM sign_in_tickets').all() as { hash: string }[];
    expect(rows).toEqual([{ hash: sha256Hex(value) }]);
    expect(JSON.stringify(db.prepare('SELECT * FROM sign_in_tickets').all())).not.toContain(value);
  });

  it('an unknown value finds nothing', () => {
    tickets.issue('handoff', 'did:plc:a', {}, 120);
    expect(tickets.consume('handoff', 'guess')).toBeUndefined();
  });
});

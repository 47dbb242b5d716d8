// Single-use, short-lived tickets (stored hashed): the development hand-off from the 127.0.0.1
// callback to PUBLIC_URL, and the signup marker for a DID that has just signed in.
import type { Db } from '../db/open.ts';
import { nowSeconds } from '../db/open.ts';
import { randomToken, sha256Hex } from '../lib/secrets.ts';

export type TicketKind = 'handoff' | 'signup';

export interface Ticket<P> {
  did: string;
  payload: P;
}

export type TicketsRepo = ReturnType<typeof createTicketsRepo>;

export function createTicketsRepo(db: Db) {
  const insert = db.prepare<[string, TicketKind, string, string, number]>(
    'INSERT INTO sign_in_tickets (hash, kind, did, payload, expires_at) VALUES (?, ?, ?, ?, ?)',
  );
  const find = db.prepare<[string, TicketKind, number], { did: string; payload: string }>(
    'SELECT did, payload FROM sign_in_tickets WHERE hash = ? AND kind = ? AND expires_at > ?',
  );
  const remove = db.prepare<[string, TicketKind]>('DELETE FROM sign_in_tickets WHERE hash = ? AND kind = ?');

  return {
    /** Returns the ticket's secret value (only its hash is stored). */
    issue<P>(kind: TicketKind, did: string, payload: P, ttlSeconds: number): string {
      const value = randomToken();
      insert.run(sha256Hex(value), kind, did, JSON.stringify(payload), nowSeconds() + ttlSeconds);
      return value;
    },
    /** Reads a live ticket without using it up. */
    peek<P>(kind: TicketKind, value: string): Ticket<P> | undefined {
      const row = find.get(sha256Hex(value), kind, nowSeconds());
      return row && { did: row.did, payload: JSON.parse(row.payload) as P };
    },
    /** Uses a ticket up: only the first caller gets it (the DELETE is the compare-and-swap). */
    consume<P>(kind: TicketKind, value: string): Ticket<P> | undefined {
      const hash = sha256Hex(value);
      return db.transaction(() => {
        const row = find.get(hash, kind, nowSeconds());
        if (!row || remove.run(hash, kind).changes !== 1) return undefined;
        return { did: row.did, payload: JSON.parse(row.payload) as P };
      }).immediate();
    },
  };
}

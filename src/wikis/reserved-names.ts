// Names held after a deletion (issue 14), so nobody takes over a deleted wiki's addresses at once:
// links, bookmarks and connected MCP clients still point at https://{slug}.PLATFORM_DOMAIN.
//  - A wiki deleted by its owner: its slug is held DELETED_SLUG_RESERVE_DAYS (default 30) for that
//    owner only (they may create it again; nobody else may, as a wiki or as a username).
//  - A deleted account: its username and every slug of its wikis are held
//    DELETED_USERNAME_RESERVE_DAYS (default 90). The username is held for the same DID (a person
//    who comes back may take their name again); the wiki slugs are held for nobody.
//  - 0 days: the name is free at once. Expired rows are ignored, and deleted by `purge`.
import type { AppContext } from '../context.ts';
import { nowSeconds } from '../db/open.ts';

export const DAY_SECONDS = 24 * 60 * 60;

type Deps = Pick<AppContext, 'db'>;

export interface Reservation {
  reservedUntil: number;
  heldForDid: string | null;
}

/** The live reservation of `name`, if any. */
export function reservationOf(deps: Deps, name: string, now = nowSeconds()): Reservation | undefined {
  const row = deps.db
    .prepare<[string, number], { reserved_until: number; held_for_did: string | null }>(
      'SELECT reserved_until, held_for_did FROM reserved_names WHERE name = ? AND reserved_until > ?',
    )
    .get(name, now);
  return row && { reservedUntil: row.reserved_until, heldForDid: row.held_for_did };
}

/** A plain message when `name` is held for someone other than `did`; undefined when `did` may use it. */
export function reservedNameProblem(deps: Deps, name: string, did: string, now = nowSeconds()): string | undefined {
  return reservationProblem(name, reservationOf(deps, name, now), did);
}

/** reservedNameProblem's rule and message for a reservation already read (e.g. with a store transaction's `reservedNames.find`). */
export function reservationProblem(name: string, reservation: Reservation | undefined, did: string): string | undefined {
  if (!reservation || reservation.heldForDid === did) return undefined;
  const until = new Date(reservation.reservedUntil * 1000).toISOString().slice(0, 10);
  return `"${name}" belonged to a wiki or account that was deleted and is reserved until ${until}. Please choose another name.`;
}

/** Holds `name` for `days` (nothing when 0). Call inside the deletion's transaction. */
export function reserveName(
  deps: Deps,
  name: string,
  days: number,
  reason: 'wiki_deleted' | 'account_deleted',
  heldForDid: string | null,
  now = nowSeconds(),
): void {
  if (days <= 0) return;
  deps.db
    .prepare<[string, number, string, string | null]>(
      `INSERT INTO reserved_names (name, reserved_until, reason, held_for_did) VALUES (?, ?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET reserved_until = max(reserved_until, excluded.reserved_until),
         reason = excluded.reason, held_for_did = excluded.held_for_did`,
    )
    .run(name.toLowerCase(), now + days * DAY_SECONDS, reason, heldForDid);
}

/** The name was taken by the person it was held for: the reservation has done its job. */
export function releaseName(deps: Deps, name: string): void {
  deps.db.prepare<[string]>('DELETE FROM reserved_names WHERE name = ?').run(name);
}

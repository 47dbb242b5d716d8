// Names held after a deletion (issue 14), so nobody takes over a deleted wiki's addresses at once:
// links, bookmarks and connected MCP clients still point at https://{slug}.PLATFORM_DOMAIN.
//  - A wiki deleted by its owner: its slug is held DELETED_SLUG_RESERVE_DAYS (default 30) for that
//    owner only (they may create it again; nobody else may, as a wiki or as a username).
//  - A deleted account: its username and every slug of its wikis are held
//    DELETED_USERNAME_RESERVE_DAYS (default 90). The username is held for the same DID (a person
//    who comes back may take their name again); the wiki slugs are held for nobody.
//  - 0 days: the name is free at once. Expired rows are ignored, and deleted by `purge`.
// Storage: the Store's `reservedNames` (src/storage/store.ts): find, reserve (inside the deletion's
// transaction), release (the name was taken by the person it was held for).
import { nowSeconds } from '../db/open.ts';
import type { Repositories } from '../storage/store.ts';

export const DAY_SECONDS = 24 * 60 * 60;

export interface Reservation {
  reservedUntil: number;
  heldForDid: string | null;
}

/**
 * A plain message when `name` is held for someone other than `did`; undefined when `did` may use it.
 * Pass the transaction's `tx` when the check decides a write (create-wiki, signup).
 */
export async function reservedNameProblem(repos: Pick<Repositories, 'reservedNames'>, name: string, did: string, now = nowSeconds()): Promise<string | undefined> {
  return reservationProblem(await repos.reservedNames.find(name, now), name, did);
}

/** The rule itself, on a reservation already read: the message when it holds `name` for someone other than `did`. */
export function reservationProblem(reservation: Reservation | undefined, name: string, did: string): string | undefined {
  if (!reservation || reservation.heldForDid === did) return undefined;
  const until = new Date(reservation.reservedUntil * 1000).toISOString().slice(0, 10);
  return `"${name}" belonged to a wiki or account that was deleted and is reserved until ${until}. Please choose another name.`;
}

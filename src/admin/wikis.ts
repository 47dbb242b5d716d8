// Wikis: list them, and create one for an existing user. A slug follows the username rules (it is
// the first DNS label of the wiki's host) and shares their namespace: a user's first wiki is named
// after them, so a slug may not be another user's username.
import type { Config } from '../config/env.ts';
import { usernameProblem } from '../accounts/username.ts';
import { isUniqueViolation } from '../accounts/users.repo.ts';
import { nowSeconds, type Db } from '../db/open.ts';
import { wikiMcpUrl, wikiOrigin } from '../wikis/urls.ts';
import { AdminError } from './errors.ts';
import { findUser } from './users.ts';

export interface WikiSummary {
  slug: string;
  ownerUsername: string;
  ownerDid: string;
  url: string;
  mcpUrl: string;
  liveGrants: number;
  createdAt: number;
}

interface WikiSummaryRow {
  slug: string;
  owner_did: string;
  owner_username: string;
  live_grants: number;
  created_at: number;
}

type UrlConfig = Pick<Config, 'scheme' | 'apexHost'>;

export interface ListWikisOptions {
  /** Only the wikis of this user (DID or username). */
  user?: string | undefined;
  now?: number;
}

export function listWikis(db: Db, config: UrlConfig, options: ListWikisOptions = {}): WikiSummary[] {
  const owner = options.user === undefined ? null : findUser(db, options.user).did;
  const rows = db
    .prepare<[{ now: number; owner: string | null }], WikiSummaryRow>(
      `SELECT w.slug, w.owner_did, u.username AS owner_username, w.created_at,
         (SELECT count(*) FROM oauth_grants g WHERE g.wiki_slug = w.slug AND g.revoked_at IS NULL AND g.expires_at > @now) AS live_grants
       FROM wikis w JOIN users u ON u.did = w.owner_did
       WHERE @owner IS NULL OR w.owner_did = @owner
       ORDER BY w.slug`,
    )
    .all({ now: options.now ?? nowSeconds(), owner });
  return rows.map((r) => toSummary(config, r));
}

function toSummary(config: UrlConfig, r: WikiSummaryRow): WikiSummary {
  return {
    slug: r.slug,
    ownerUsername: r.owner_username,
    ownerDid: r.owner_did,
    url: wikiOrigin(config, r.slug),
    mcpUrl: wikiMcpUrl(config, r.slug),
    liveGrants: r.live_grants,
    createdAt: r.created_at,
  };
}

export interface CreateWikiInput {
  slug: string;
  /** The owner: a DID or a username. */
  user: string;
}

export function createWiki(db: Db, config: UrlConfig & Pick<Config, 'reservedUsernames'>, input: CreateWikiInput): WikiSummary {
  const owner = findUser(db, input.user);
  const slug = input.slug.trim().toLowerCase();
  const problem = usernameProblem(slug, config.reservedUsernames);
  if (problem) throw new AdminError(`Cannot use the slug ${JSON.stringify(slug)}: ${problem}`);
  const existingWiki = db.prepare<[string], { owner_did: string }>('SELECT owner_did FROM wikis WHERE slug = ?');
  const namesake = db.prepare<[string, string], { did: string }>('SELECT did FROM users WHERE username = ? AND did <> ?');
  // 'operator': not bound by NEW_WIKIS_PER_DAY, and the TLS ask approves it (src/wikis/new-wiki-cap.ts).
  const insert = db.prepare<[string, string, number]>("INSERT INTO wikis (slug, owner_did, created_at, created_by) VALUES (?, ?, ?, 'operator')");
  const now = nowSeconds();
  try {
    db.transaction(() => {
      const wiki = existingWiki.get(slug);
      if (wiki) throw new AdminError(`The wiki ${JSON.stringify(slug)} already exists (owner ${wiki.owner_did}).`);
      const other = namesake.get(slug, owner.did);
      if (other) throw new AdminError(`${JSON.stringify(slug)} is the username of another user (${other.did}); their first wiki lives there.`);
      insert.run(slug, owner.did, now);
    }).immediate();
  } catch (err) {
    // Another writer took the slug between the check and the insert.
    if (isUniqueViolation(err)) throw new AdminError(`The wiki ${JSON.stringify(slug)} already exists.`);
    throw err;
  }
  return toSummary(config, { slug, owner_did: owner.did, owner_username: owner.username, live_grants: 0, created_at: now });
}

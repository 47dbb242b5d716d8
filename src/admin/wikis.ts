// Wikis: list them, and create one for an existing user. A slug follows the username rules (it is
// the first DNS label of the wiki's host) and shares their namespace: a user's first wiki is named
// after them, so a slug may not be another user's username.
// Storage: the Store the CLI opened (src/admin/database.ts); creation is one store transaction that
// takes the wiki-creation lock first (an operator's wiki counts in NEW_WIKIS_PER_DAY's window for the
// others), returns what it found, and the CLI's error is thrown after it.
import type { Config } from '../config/env.ts';
import { usernameProblem } from '../accounts/username.ts';
import { nowSeconds } from '../db/open.ts';
import type { Store } from '../storage/store.ts';
import { isUniqueViolation } from '../storage/wrap.ts';
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

type UrlConfig = Pick<Config, 'scheme' | 'apexHost'>;

export interface ListWikisOptions {
  /** Only the wikis of this user (DID or username). */
  user?: string | undefined;
  now?: number;
}

export async function listWikis(store: Pick<Store, 'repos'>, config: UrlConfig, options: ListWikisOptions = {}): Promise<WikiSummary[]> {
  const owner = options.user === undefined ? null : (await findUser(store.repos, options.user)).did;
  const rows = await store.repos.operator.listWikis(owner, options.now);
  return rows.map((r) => toSummary(config, r));
}

function toSummary(config: UrlConfig, r: { slug: string; ownerDid: string; ownerUsername: string; liveGrants: number; createdAt: number }): WikiSummary {
  return {
    slug: r.slug,
    ownerUsername: r.ownerUsername,
    ownerDid: r.ownerDid,
    url: wikiOrigin(config, r.slug),
    mcpUrl: wikiMcpUrl(config, r.slug),
    liveGrants: r.liveGrants,
    createdAt: r.createdAt,
  };
}

export interface CreateWikiInput {
  slug: string;
  /** The owner: a DID or a username. */
  user: string;
}

export async function createWiki(store: Pick<Store, 'repos' | 'transaction'>, config: UrlConfig & Pick<Config, 'reservedUsernames'>, input: CreateWikiInput): Promise<WikiSummary> {
  const owner = await findUser(store.repos, input.user);
  const slug = input.slug.trim().toLowerCase();
  const problem = usernameProblem(slug, config.reservedUsernames);
  if (problem) throw new AdminError(`Cannot use the slug ${JSON.stringify(slug)}: ${problem}`);
  const now = nowSeconds();
  const exists = (ownerDid?: string) => new AdminError(`The wiki ${JSON.stringify(slug)} already exists${ownerDid ? ` (owner ${ownerDid})` : ''}.`);
  let outcome: { kind: 'created' } | { kind: 'exists'; ownerDid: string } | { kind: 'username' };
  try {
    outcome = await store.transaction(async (tx) => {
      await tx.wikis.lockCreation();
      const wiki = await tx.wikis.findBySlug(slug);
      if (wiki) return { kind: 'exists' as const, ownerDid: wiki.ownerDid };
      if (await tx.users.isUsernameOfOther(slug, owner.did)) return { kind: 'username' as const };
      // 'operator': not bound by NEW_WIKIS_PER_DAY, and the TLS ask approves it (src/wikis/new-wiki-cap.ts).
      await tx.wikis.insertCreatedByOperator(slug, owner.did, now);
      return { kind: 'created' as const };
    });
  } catch (err) {
    // Another writer took the slug between the check and the insert.
    if (isUniqueViolation(err)) throw exists();
    throw err;
  }
  if (outcome.kind === 'exists') throw exists(outcome.ownerDid);
  if (outcome.kind === 'username') {
    const other = await store.repos.users.findByUsername(slug);
    throw new AdminError(`${JSON.stringify(slug)} is the username of another user${other ? ` (${other.did})` : ''}; their first wiki lives there.`);
  }
  return toSummary(config, { slug, ownerDid: owner.did, ownerUsername: owner.username, liveGrants: 0, createdAt: now });
}

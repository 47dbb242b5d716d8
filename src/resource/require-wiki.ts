// The wiki a request is for must exist: unknown wikis get a 404 (JSON on API paths), never a
// challenge that sends clients into an OAuth flow for a resource that is not there.
import type { Response } from 'express';
import type { AppContext } from '../context.ts';
import type { Wiki } from '../wikis/wikis.repo.ts';
import { NotFound } from '../web/errors.ts';

export class WikiNotFound extends NotFound {
  constructor(slug: string | undefined) {
    super(slug === undefined ? 'This is not a wiki address.' : `There is no wiki named "${slug}".`);
  }
}

/** The wiki with this slug; throws WikiNotFound when the host named none or it does not exist. */
export async function requireWiki(ctx: Pick<AppContext, 'store'>, slug: string | undefined): Promise<Wiki> {
  const wiki = slug === undefined ? undefined : await ctx.store.repos.wikis.findBySlug(slug);
  if (!wiki) throw new WikiNotFound(slug);
  return wiki;
}

/** The wiki slug wikiHostRoutes found in the Host header (res.locals.wikiSlug); its routes only. */
export function wikiSlugOf(res: Response): string {
  const slug = res.locals.wikiSlug;
  if (slug === undefined) throw new Error('wiki host route reached without a wiki slug');
  return slug;
}

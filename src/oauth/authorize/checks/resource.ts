// RFC 8707 §2, MCP authorization: `resource` names the wiki MCP endpoint the token is for. It must
// be one of this deployment's wikis, compared in the one normal form of oauth/resource-indicator.ts
// (the same as /token uses). Absent, the person picks a wiki on the consent page.
import type { AppContext } from '../../../context.ts';
import { slugFromResource } from '../../../wikis/urls.ts';
import { InvalidTarget } from '../../errors.ts';
import { normalizeResource } from '../../resource-indicator.ts';
import { optionalParam, type Params } from '../params.ts';

export async function checkResource(ctx: Pick<AppContext, 'config' | 'store'>, params: Params): Promise<string | undefined> {
  const resource = optionalParam(params, 'resource');
  if (resource === undefined) return undefined;
  const normal = normalizeResource(resource);
  const slug = normal === undefined ? undefined : slugFromResource(ctx.config, normal);
  if (!slug || !(await ctx.store.repos.wikis.findBySlug(slug))) {
    throw new InvalidTarget(`"${resource}" is not the MCP address of a wiki here.`);
  }
  return slug;
}

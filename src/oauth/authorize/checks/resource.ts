// RFC 8707 §2, MCP authorization: `resource` names the wiki MCP endpoint the token is for. It must
// be one of this deployment's wikis (trailing slash tolerated). Absent, the person picks a wiki.
import type { AppContext } from '../../../context.ts';
import { slugFromResource } from '../../../wikis/urls.ts';
import { InvalidTarget } from '../../errors.ts';
import { optionalParam, type Params } from '../params.ts';

export function checkResource(ctx: AppContext, params: Params): string | undefined {
  const resource = optionalParam(params, 'resource');
  if (resource === undefined) return undefined;
  const slug = slugFromResource(ctx.config, resource);
  if (!slug || !ctx.wikis.findBySlug(slug)) {
    throw new InvalidTarget(`"${resource}" is not the MCP address of a wiki here.`);
  }
  return slug;
}

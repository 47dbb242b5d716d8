// RFC 9728 protected resource metadata for one wiki's MCP endpoint. MCP clients find it through the
// `resource_metadata` of a 401 or at the well-known URLs, compare `resource` with the URL the user
// typed, and take `authorization_servers[0]` as the issuer (compared byte for byte).
import type { Config } from '../config/env.ts';
import { SUPPORTED_SCOPES, type WikiScope } from '../oauth/scopes.ts';
import { wikiMcpUrl, wikiOrigin } from '../wikis/urls.ts';

/** RFC 9728 §3.1 — the path-suffixed well-known URL for the resource `{origin}/mcp`. */
export const PRM_PATH = '/.well-known/oauth-protected-resource/mcp';
/** Also served at the root well-known URL, which clients try when the suffixed one fails. */
export const PRM_ROOT_PATH = '/.well-known/oauth-protected-resource';

export interface ProtectedResourceMetadata {
  resource: string;
  authorization_servers: string[];
  scopes_supported: WikiScope[];
  bearer_methods_supported: ['header'];
  resource_name: string;
}

/** RFC 9728 §5.1 — the `resource_metadata` URL named in WWW-Authenticate. */
export function resourceMetadataUrl(config: Pick<Config, 'scheme' | 'apexHost'>, slug: string): string {
  return `${wikiOrigin(config, slug)}${PRM_PATH}`;
}

/**
 * RFC 9728 §2 — `resource` is the wiki's MCP URL exactly (no trailing slash; §3.3 requires it to match);
 * `authorization_servers` holds the issuer exactly as the AS metadata spells it (RFC 8414 §3.3).
 */
export function protectedResourceMetadata(config: Pick<Config, 'scheme' | 'apexHost' | 'publicUrl'>, slug: string): ProtectedResourceMetadata {
  return {
    resource: wikiMcpUrl(config, slug),
    authorization_servers: [config.publicUrl],
    scopes_supported: [...SUPPORTED_SCOPES],
    bearer_methods_supported: ['header'],
    resource_name: `${slug.toLowerCase()} wiki`,
  };
}

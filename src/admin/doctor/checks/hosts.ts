// The names a client reaches: the apex (PUBLIC_URL's host) and the checked wiki's host {slug}.{apex}.
import type { DoctorTarget } from '../types.ts';

export interface Host {
  /** Host name without port. */
  hostname: string;
  /** Port to connect to (PUBLIC_URL's, or 443). */
  port: number;
  origin: string;
}

export function apexOf(target: Pick<DoctorTarget, 'publicUrl'>): Host {
  const url = new URL(target.publicUrl);
  return { hostname: url.hostname, port: Number(url.port || 443), origin: url.origin };
}

/** The wiki host, like src/wikis/urls.ts wikiOrigin: {slug}.{apex host with its port}. */
export function wikiHostOf(target: Pick<DoctorTarget, 'publicUrl'>, slug: string): Host {
  const url = new URL(target.publicUrl);
  const hostname = `${slug}.${url.hostname}`;
  return { hostname, port: Number(url.port || 443), origin: `${url.protocol}//${slug}.${url.host}` };
}

/** The apex and, when there is one, the wiki host. */
export function hostsOf(target: Pick<DoctorTarget, 'publicUrl' | 'wikiSlug'>): Host[] {
  return target.wikiSlug === undefined ? [apexOf(target)] : [apexOf(target), wikiHostOf(target, target.wikiSlug)];
}

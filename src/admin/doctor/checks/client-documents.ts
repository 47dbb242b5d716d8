// draft-ietf-oauth-client-id-metadata-document — Claude.ai and ChatGPT identify themselves by a
// client ID metadata document this server must fetch when they connect. Fetched here exactly as the
// service fetches it (src/oauth/clients/client-metadata-document.ts: the SSRF-safe fetch of
// src/lib/outbound/ with the service's policy, and the same validation). Anthropic's edge answers 403
// to some cloud address ranges: then the advice is CLIENT_ID_METADATA_DOCUMENTS=off (clients fall
// back to dynamic registration).
import { ClientMetadataDocumentError, fetchClientMetadataDocument } from '../../../oauth/clients/client-metadata-document.ts';
import { explain } from '../explain.ts';
import type { Check, CheckOutcome, DoctorTarget } from '../types.ts';

/** The documents checked by default (override with --claude-document / --chatgpt-document). */
export const DEFAULT_CLAUDE_DOCUMENT = 'https://claude.ai/oauth/mcp-oauth-client-metadata';
export const DEFAULT_CHATGPT_DOCUMENT = 'https://chatgpt.com/oauth/tU1UVEq8rRTK/client.json';

const DOCUMENT_MAX_BYTES = 10 * 1024;

async function checkDocument(target: Pick<DoctorTarget, 'outboundPolicy' | 'timeoutMs' | 'clientIdMetadataDocuments'>, client: string, url: string): Promise<CheckOutcome> {
  try {
    const { metadata } = await fetchClientMetadataDocument(url, { ...target.outboundPolicy, timeoutMs: target.timeoutMs, maxBytes: DOCUMENT_MAX_BYTES });
    return { status: 'ok', seen: `${client}: fetched ${url} (${metadata.client_name ?? 'unnamed'})` };
  } catch (err) {
    if (!(err instanceof ClientMetadataDocumentError)) throw err;
    const off = !target.clientIdMetadataDocuments;
    const seen = `${client}: ${url}: ${err.message}`;
    if (off) return { status: 'warn', seen: `${seen} (CLIENT_ID_METADATA_DOCUMENTS=off: not used)`, advice: `${client} registers by DCR instead; nothing to do` };
    if (err.httpStatus === 403) {
      return {
        status: 'fail',
        seen,
        advice: `${client}'s edge refuses this server's address: set CLIENT_ID_METADATA_DOCUMENTS=off and restart; clients then register by DCR (README, Troubleshooting)`,
      };
    }
    if (err.kind === 'refused') return { status: 'fail', seen, advice: `the document is not acceptable; only ${client}'s publisher can fix it (DCR still works)` };
    const known = explain(err, new URL(url).host);
    return { status: 'fail', seen, advice: `${known.advice}; outbound https (port 443) from this machine must reach ${new URL(url).host}` };
  }
}

/** One check per document, named after the client. */
export function clientDocumentCheck(client: string): Check {
  return {
    name: `document-${client.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`,
    title: `this server can fetch ${client}'s client metadata document`,
    async run(target) {
      const doc = target.documents.find((d) => d.client === client);
      if (!doc) return { status: 'warn', seen: `no document URL for ${client}`, advice: 'nothing to check' };
      return checkDocument(target, client, doc.url);
    },
  };
}

// draft-ietf-oauth-client-id-metadata-document §4.3, issue 10 item 9 — when a client_id URL names a
// document we could not use, say which of three things happened: we could not read it
// (unreachable), we read it and refused it (refused), or documents are turned off here (disabled).
// The person gets plain words; the operator gets a log line saying what to do.
import { AppError } from '../../web/errors.ts';

export interface DocumentFailure {
  kind: 'unreachable' | 'refused' | 'disabled';
  /** What went wrong, for the log (not shown to the person verbatim when unreachable). */
  reason: string;
  httpStatus: number | undefined;
}

function hostOf(clientId: string): string {
  try {
    return new URL(clientId).host;
  } catch {
    return clientId;
  }
}

/** The structured log line for the operator: what happened and what to do about it. */
export function documentFailureLog(clientId: string, failure: DocumentFailure): { fields: Record<string, unknown>; message: string } {
  const host = hostOf(clientId);
  const fields = { clientId, kind: failure.kind, reason: failure.reason, httpStatus: failure.httpStatus };
  if (failure.kind === 'refused') {
    return {
      fields,
      message: `client metadata document was fetched but refused (${failure.reason}); the app's publisher (${host}) must fix the document; nothing to change on this server`,
    };
  }
  if (failure.kind === 'disabled') {
    return { fields, message: 'a client identified itself by a metadata document URL but CLIENT_ID_METADATA_DOCUMENTS=off; it must register by DCR' };
  }
  const blocked =
    failure.httpStatus === 403 || failure.httpStatus === 401 || failure.httpStatus === 429
      ? `${host} answered ${failure.httpStatus} to this server's address; its edge may block some cloud address ranges (Anthropic's edge does). `
      : '';
  return {
    fields,
    message: `client metadata document could not be fetched (${failure.reason}). ${blocked}Check that this server can reach ${host} over https (DNS, firewall, proxy); if it cannot, set CLIENT_ID_METADATA_DOCUMENTS=off so clients such as Claude register by DCR instead`,
  };
}

/** The sentence the person sees on the /authorize error page. */
export function documentFailureForPerson(clientId: string, failure: DocumentFailure | undefined): string {
  const host = hostOf(clientId);
  if (failure?.kind === 'refused') {
    return `This app identifies itself with a description published at ${host}. We read that description, but it is not acceptable here (${failure.reason}), so we cannot let it connect. The app's publisher has to fix it; the site's operator has been told in the logs.`;
  }
  if (failure?.kind === 'disabled') {
    return `This app identifies itself with a web address (${host}), which this server does not accept. Remove the connection in the app and add it again: it should then register itself instead.`;
  }
  const status = failure?.httpStatus === undefined ? '' : ` (${host} answered HTTP ${failure.httpStatus})`;
  return `This app identifies itself with a description published at ${host}, but this server could not fetch it${status}. This is usually a network problem between this server and ${host}, not something you did. Try again in a few minutes; if it keeps happening, tell the site's operator.`;
}

const TITLES: Record<DocumentFailure['kind'], string> = {
  unreachable: "We could not fetch this app's description",
  refused: "This app's description was refused",
  disabled: 'This app cannot connect this way',
};

/**
 * Rendered as a page on /authorize (never redirected: the client is not verified). A 4xx even when
 * the fetch failed, so the error page shows the explanation (5xx pages show no details).
 */
export class ClientDocumentUnusable extends AppError {
  constructor(clientId: string, failure: DocumentFailure | undefined) {
    const kind = failure?.kind ?? 'unreachable';
    super(400, kind === 'unreachable' ? 'temporarily_unavailable' : 'invalid_client', documentFailureForPerson(clientId, failure), {
      title: TITLES[kind],
    });
  }
}

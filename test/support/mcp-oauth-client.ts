// An MCP SDK OAuthClientProvider kept in memory, as Claude Code and Claude.ai clients keep theirs.
// redirectToAuthorization only records the URL; the test plays the person in the browser.
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';

export class MemoryOAuthProvider implements OAuthClientProvider {
  authorizationUrl: URL | undefined;
  private info: OAuthClientInformationMixed | undefined;
  private savedTokens: OAuthTokens | undefined;
  private verifier = '';
  private discovery: unknown;

  readonly redirectUrl: string;
  readonly clientMetadata: OAuthClientMetadata;
  /** Set: the client identifies itself by this metadata document URL (as Claude.ai does) instead of registering. */
  readonly clientMetadataUrl: string | undefined;

  constructor(redirectUrl: string, clientMetadata: OAuthClientMetadata, options: { clientMetadataUrl?: string } = {}) {
    this.redirectUrl = redirectUrl;
    this.clientMetadata = clientMetadata;
    this.clientMetadataUrl = options.clientMetadataUrl;
  }

  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.savedTokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.savedTokens = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
  saveDiscoveryState(state: unknown) {
    this.discovery = state;
  }
  discoveryState() {
    return this.discovery as ReturnType<NonNullable<OAuthClientProvider['discoveryState']>>;
  }
  forgetTokens() {
    this.savedTokens = undefined;
  }
}

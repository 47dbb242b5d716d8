// The part of node-oidc-provider's API the bench peer (peer-oidc.ts) uses. oidc-provider ships no
// types and @types/oidc-provider is not installed on purpose (the peer is a bench-only dev dependency).
declare module 'oidc-provider' {
  import type { RequestListener } from 'node:http';

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    token_endpoint_auth_method: 'none' | 'client_secret_post' | 'client_secret_basic';
    redirect_uris: string[];
    grant_types: string[];
    response_types: string[];
  }

  export interface ResourceServer {
    scope: string;
    audience?: string;
    accessTokenTTL?: number;
    accessTokenFormat?: 'opaque' | 'jwt';
    jwt?: { sign?: { alg: string } };
  }

  export interface Account {
    accountId: string;
    claims(): Promise<Record<string, unknown>>;
  }

  export interface Client {
    clientId: string;
  }

  export interface Configuration {
    adapter?: (model: string) => unknown;
    clients?: ClientMetadata[];
    jwks?: { keys: Record<string, unknown>[] };
    scopes?: string[];
    pkce?: { required?: (ctx: unknown, client: Client) => boolean };
    rotateRefreshToken?: boolean | ((ctx: unknown) => boolean);
    issueRefreshToken?: (ctx: unknown, client: Client, code: unknown) => Promise<boolean>;
    ttl?: Record<string, number>;
    findAccount?: (ctx: unknown, sub: string) => Promise<Account | undefined>;
    features?: {
      devInteractions?: { enabled: boolean };
      resourceIndicators?: {
        enabled: boolean;
        defaultResource?: (ctx: unknown, client: Client, oneOf?: string) => Promise<string | string[] | undefined>;
        useGrantedResource?: (ctx: unknown, model: unknown) => Promise<boolean>;
        getResourceServerInfo?: (ctx: unknown, resourceIndicator: string, client: Client) => Promise<ResourceServer>;
      };
    };
  }

  interface TokenFields {
    accountId: string;
    client: Client;
    grantId: string | undefined;
    scope: string;
    resource?: string;
    gty?: string;
    redirectUri?: string;
    codeChallenge?: string;
    codeChallengeMethod?: string;
  }

  class Token {
    constructor(fields: TokenFields);
    /** Stores the token through the adapter; resolves with its value. */
    save(): Promise<string>;
  }

  class Grant {
    constructor(fields: { accountId: string; clientId: string });
    addOIDCScope(scope: string): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Configuration);
    callback(): RequestListener;
    on(event: 'server_error', listener: (ctx: unknown, err: Error) => void): this;
    Client: { find(id: string): Promise<Client | undefined> };
    Grant: typeof Grant;
    AuthorizationCode: typeof Token;
    RefreshToken: typeof Token;
  }
}

declare module 'oidc-provider/lib/helpers/lru.js' {
  export default class LRU {
    constructor(options: { maxSize: number });
  }
}

declare module 'oidc-provider/lib/adapters/memory_adapter.js' {
  import type LRU from 'oidc-provider/lib/helpers/lru.js';
  export default class MemoryAdapter {
    constructor(model: string, store: LRU, clockTolerance?: number);
  }
}

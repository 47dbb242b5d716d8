// RFC 8414 authorization server metadata. `issuer` is PUBLIC_URL byte for byte: the protected
// resources name exactly this string, and strict clients compare them exactly.
import type { Config } from '../../config/env.ts';
import { CLIENT_ASSERTION_ALGORITHMS, TOKEN_ENDPOINT_AUTH_METHODS } from '../clients/client.ts';
import { OAUTH_PATHS } from '../paths.ts';
import { SUPPORTED_SCOPES } from '../scopes.ts';

export function authorizationServerMetadata(config: Config) {
  const issuer = config.publicUrl;
  return {
    issuer,
    authorization_endpoint: `${issuer}${OAUTH_PATHS.authorize}`,
    token_endpoint: `${issuer}${OAUTH_PATHS.token}`,
    registration_endpoint: `${issuer}${OAUTH_PATHS.register}`,
    revocation_endpoint: `${issuer}${OAUTH_PATHS.revoke}`,
    jwks_uri: `${issuer}${OAUTH_PATHS.jwks}`,
    scopes_supported: [...SUPPORTED_SCOPES],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS],
    // private_key_jwt (RFC 7523): the algorithms token/client-assertion.ts verifies.
    token_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGORITHMS],
    revocation_endpoint_auth_methods_supported: [...TOKEN_ENDPOINT_AUTH_METHODS],
    revocation_endpoint_auth_signing_alg_values_supported: [...CLIENT_ASSERTION_ALGORITHMS],
    authorization_response_iss_parameter_supported: true,
    // CLIENT_ID_METADATA_DOCUMENTS=off: not advertised, so Claude falls back to DCR.
    client_id_metadata_document_supported: config.clientIdMetadataDocuments,
    // RFC 9068 access tokens are signed with these (see jwks_uri).
    access_token_signing_alg_values_supported: ['RS256'],
    service_documentation: `${issuer}/`,
  };
}

// The key files a deployment has (PLATFORM_KEYS_FILE: an access and an identity RS256 key;
// ATPROTO_CLIENT_KEYS_FILE: ES256), written the way the service and `keys generate` write them
// (src/config/keys.ts writeKeyFile: 0600, no symlinks), for tests that start in production mode or
// read the key files themselves.
import type { Config } from '../../src/config/env.ts';
import { generatePrivateJwk, writeKeyFile, type PrivateJwk } from '../../src/config/keys.ts';

export interface TestKeys {
  /** [access, identity] */
  platform: PrivateJwk[];
  atproto: PrivateJwk[];
}

/** Writes both key files; `atprotoKeys` ES256 client keys (two, as during a rotation). */
export async function writeTestKeyFiles(
  files: Pick<Config, 'platformKeysFile' | 'atprotoClientKeysFile'>,
  { atprotoKeys = 1 }: { atprotoKeys?: number } = {},
): Promise<TestKeys> {
  const platform = [await generatePrivateJwk('RS256', 'access'), await generatePrivateJwk('RS256', 'identity')];
  const atproto: PrivateJwk[] = [];
  for (let i = 0; i < atprotoKeys; i++) atproto.push(await generatePrivateJwk('ES256'));
  writeKeyFile(files.platformKeysFile, platform);
  writeKeyFile(files.atprotoClientKeysFile, atproto);
  return { platform, atproto };
}

// The sealed successor of a rotated refresh token (RFC 9700 §4.14.2 grace, refresh-rotation.ts):
// AES-256-GCM under a key derived with HKDF-SHA256 from the platform signing key's secret seed, bound
// (as additional data) to the successor's hash so a ciphertext cannot be moved to another row. The
// plaintext successor is never stored; the ciphertext lives only for the grace window.
import crypto from 'node:crypto';
import type { PlatformKeys, SigningKey } from '../../config/keys.ts';

const INFO = 'robot-auth refresh-token successor v1';

function keyFor(signing: SigningKey): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', signing.secretSeed, Buffer.alloc(0), INFO, 32));
}

/** `{iv}.{ciphertext}.{tag}.{kid}` (base64url; the kid last, as it is the only part that may contain dots). */
export function sealSuccessor(keys: Pick<PlatformKeys, 'current'>, successorHash: string, value: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', keyFor(keys.current), iv);
  cipher.setAAD(Buffer.from(successorHash, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return [iv, ciphertext, cipher.getAuthTag()].map((b) => b.toString('base64url')).concat(keys.current.kid).join('.');
}

/** The successor's value, or undefined when the ciphertext is not ours (tampered, or its key is gone). */
export function openSuccessor(keys: Pick<PlatformKeys, 'all'>, successorHash: string, sealed: string): string | undefined {
  const [iv, ciphertext, tag, ...kidParts] = sealed.split('.');
  const signing = keys.all.find((k) => k.kid === kidParts.join('.'));
  if (!signing || iv === undefined || ciphertext === undefined || tag === undefined) return undefined;
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', keyFor(signing), Buffer.from(iv, 'base64url'), { authTagLength: 16 });
    decipher.setAAD(Buffer.from(successorHash, 'utf8'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

// The sealed successor of a rotated refresh token (RFC 9700 §4.14.2 grace, refresh-rotation.ts):
// sealed with the service's one at-rest sealer (src/lib/sealing.ts: AES-256-GCM, key derived from the
// platform key file, kid recorded), bound as associated data to the successor's hash so a ciphertext
// cannot be moved to another row. The plaintext successor is never stored; the ciphertext lives only
// for the grace window.
import type { Sealer } from '../../lib/sealing.ts';

const associatedData = (successorHash: string) => `refresh_tokens.successor_sealed:${successorHash}`;

export function sealSuccessor(sealer: Pick<Sealer, 'seal'>, successorHash: string, value: string): string {
  return sealer.seal(value, associatedData(successorHash));
}

/** The successor's value, or undefined when the ciphertext is not ours (tampered, moved, or its key is gone). */
export function openSuccessor(sealer: Pick<Sealer, 'open'>, successorHash: string, sealed: string): string | undefined {
  const opened = sealer.open(sealed, associatedData(successorHash));
  return opened.ok ? opened.plaintext : undefined;
}

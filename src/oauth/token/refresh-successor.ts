// The one successor of a rotated refresh token (RFC 9700 §4.14.2 grace; refresh-rotation.ts rule 3).
// Within the grace window, presenting the rotated token again must return the SAME successor, so the
// service must be able to produce the successor's value again; it never stores it.
//  - The successor's value is made from the presented token's value: its creation time (the time
//    prefix of refresh-tokens.repo.ts), then HMAC-SHA256 of that prefix and the presented value under
//    a key derived from the platform key file (src/lib/sealing.ts `mac`). 256 bits no one can compute
//    without both the presented token (stored only hashed) and that key file. The price: whoever
//    holds the key file and an older token of a grant can follow its chain of successors made under
//    that key (a compromised access key is rotated out and the grants concerned revoked:
//    docs/operations.md); before, the key file and a database copy opened every successor still
//    in its grace window.
//  - On a reuse, the value is made again from the presented value and the time prefix that the
//    stored `successor_hash` carries, under each key still in the file, and accepted only if its
//    hash is that `successor_hash`: a moved or altered hash, or a key gone from the file, gives
//    nothing (refresh-rotation.ts then treats the reuse as a replay).
//  - Rows rotated before this form kept the successor sealed (AES-256-GCM, `successor_sealed`, bound
//    to the successor's hash) for their grace window; those still open here, and maintenance drops
//    the ciphertexts once their window has closed (src/maintenance.ts).
import type { Sealer } from '../../lib/sealing.ts';
import { timingSafeEqualStrings } from '../../lib/secrets.ts';
import { TIME_PREFIX_LENGTH, timePrefix } from '../../lib/time-ordered.ts';
import { refreshTokenHash, type RefreshToken } from './refresh-tokens.repo.ts';

const MAC_CONTEXT = 'refresh_tokens.successor';

/** What the MAC covers: the time prefix too, so that two successors of one token (a rotation lost with its database, then made again) share nothing. */
const macInput = (prefix: string, presentedValue: string) => `${prefix}\0${presentedValue}`;

/** The successor of the token whose value is `presentedValue`, made at `now` (ms). */
export function successorValue(sealer: Pick<Sealer, 'mac'>, presentedValue: string, now: number = Date.now()): string {
  const prefix = timePrefix(now);
  return prefix + sealer.mac(macInput(prefix, presentedValue), MAC_CONTEXT);
}

/** The successor the rotation of `presented` (whose value is `presentedValue`) issued, made again; undefined if it cannot be. */
export function successorAgain(sealer: Pick<Sealer, 'macs' | 'open'>, presentedValue: string, presented: Pick<RefreshToken, 'successorHash' | 'successorSealed'>): string | undefined {
  const { successorHash, successorSealed } = presented;
  if (successorHash === null) return undefined;
  if (successorSealed !== null) return openSealedSuccessor(sealer, successorHash, successorSealed);
  const prefix = successorHash.slice(0, TIME_PREFIX_LENGTH);
  for (const mac of sealer.macs(macInput(prefix, presentedValue), MAC_CONTEXT)) {
    const value = prefix + mac;
    if (timingSafeEqualStrings(refreshTokenHash(value), successorHash)) return value;
  }
  return undefined;
}

/** A successor sealed before the derived form: its value, or undefined when the ciphertext is not ours (tampered, moved, or its key is gone). */
function openSealedSuccessor(sealer: Pick<Sealer, 'open'>, successorHash: string, sealed: string): string | undefined {
  const opened = sealer.open(sealed, `refresh_tokens.successor_sealed:${successorHash}`);
  return opened.ok ? opened.plaintext : undefined;
}

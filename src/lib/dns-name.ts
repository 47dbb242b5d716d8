// DNS names (RFC 1035 §2.3.4, RFC 1123 §2.1): labels of 1–63 letters, digits and inner hyphens, a
// name of at most 253 characters; lower case (callers lower-case first). Used for host names in the
// configuration, wiki slugs in a Host header and handles typed into the sign-in form.
// A name is checked label by label: one pattern over the whole name nests a repeated label inside a
// repetition, which only recheck's fuzzer can judge and which backtracks on a near miss; the label's
// pattern is one that recheck's automaton proves linear (test/security/redos.test.ts).

/** One label's characters; its length is checked apart (MAX_LABEL_LENGTH). */
export const DNS_LABEL_PATTERN = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
export const MAX_LABEL_LENGTH = 63;
export const MAX_NAME_LENGTH = 253;

export function isDnsLabel(label: string): boolean {
  return label.length <= MAX_LABEL_LENGTH && DNS_LABEL_PATTERN.test(label);
}

/** The name's labels when it is a DNS name; undefined when it is not. */
export function dnsLabels(name: string): string[] | undefined {
  if (name.length > MAX_NAME_LENGTH) return undefined;
  const labels = name.split('.');
  return labels.every(isDnsLabel) ? labels : undefined;
}

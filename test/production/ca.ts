// A throw-away certificate authority for the production suite, made with the openssl CLI: a root
// (what the product, the PDS and Chromium are told to trust) and one server certificate for every
// name the suite serves over TLS (the apex, its wildcard wiki hosts, the PDS, the PLC and the
// claude.ai stand-in). Keys are P-256; everything lives in the suite's temporary directory.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface TestCa {
  /** PEM of the root: NODE_EXTRA_CA_CERTS for node children, the NSS database for Chromium. */
  caFile: string;
  caPem: string;
  /** The server certificate (chain: leaf only; clients know the root) and its key. */
  certFile: string;
  keyFile: string;
}

const OPENSSL_MISSING =
  'openssl is not installed: the production suite makes its test CA with it. Install it (Debian: `apt-get install -y openssl`).';

function openssl(args: string[], cwd: string): void {
  const result = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (result.error) throw new Error((result.error as NodeJS.ErrnoException).code === 'ENOENT' ? OPENSSL_MISSING : result.error.message);
  if (result.status !== 0) throw new Error(`openssl ${args[0]} failed (${result.status}):\n${result.stderr}`);
}

/** Creates the CA and a server certificate whose subjectAltName lists `dnsNames`, in `dir`. */
export function makeTestCa(dir: string, dnsNames: string[]): TestCa {
  fs.mkdirSync(dir, { recursive: true });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    ['req', '-x509', ...ec, '-days', '2', '-subj', '/CN=robot-auth production-suite test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
      '-keyout', 'ca.key', '-out', 'ca.crt'],
    dir,
  );
  openssl(['req', ...ec, '-subj', `/CN=${dnsNames[0]}`, '-keyout', 'server.key', '-out', 'server.csr'], dir);
  fs.writeFileSync(
    path.join(dir, 'server.ext'),
    [
      `subjectAltName=${dnsNames.map((n) => `DNS:${n}`).join(',')}`,
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=serverAuth',
      '',
    ].join('\n'),
  );
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
    '-extfile', 'server.ext', '-out', 'server.crt'], dir);
  const caFile = path.join(dir, 'ca.crt');
  return { caFile, caPem: fs.readFileSync(caFile, 'utf8'), certFile: path.join(dir, 'server.crt'), keyFile: path.join(dir, 'server.key') };
}

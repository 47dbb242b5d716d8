// A throw-away self-signed certificate (P-256, one day) made with the openssl CLI, for the local
// https servers of the tests: the https stand-in for claude.ai/chatgpt.com, the SSRF tests' attacker
// and recorders. The code under test trusts it through caCertificates or tls.setDefaultCACertificates.
// (The production suite's CA with a separate root is test/production/ca.ts.)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface TestCertificate {
  key: string;
  cert: string;
  remove(): void;
}

/** `subjectAltNames` as openssl writes them (`DNS:name`, `IP:127.0.0.1`); the first DNS name is also the CN. */
export function createTestCertificate(subjectAltNames: readonly string[] = ['DNS:localhost', 'IP:127.0.0.1']): TestCertificate {
  const commonName = subjectAltNames.find((n) => n.startsWith('DNS:'))?.slice(4) ?? 'localhost';
  const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'robot-auth-cert-'));
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', path.join(certDir, 'key.pem'), '-out', path.join(certDir, 'cert.pem'),
    '-days', '1', '-subj', `/CN=${commonName}`, '-addext', `subjectAltName=${subjectAltNames.join(',')}`,
  ], { stdio: 'ignore' });
  return {
    key: fs.readFileSync(path.join(certDir, 'key.pem'), 'utf8'),
    cert: fs.readFileSync(path.join(certDir, 'cert.pem'), 'utf8'),
    remove: () => fs.rmSync(certDir, { recursive: true, force: true }),
  };
}

// Operators configure the service from .env.example: every variable the code reads is there.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ENV_VARIABLES, parseConfig } from '../../src/config/env.ts';

const example = fs.readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
const documented = [...example.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);

describe('.env.example', () => {
  it('documents every variable the configuration reads', () => {
    expect(documented.sort()).toEqual([...ENV_VARIABLES].sort());
  });

  it('is itself a valid development configuration', () => {
    const values = Object.fromEntries([...example.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    const config = parseConfig(values);
    expect(config.production).toBe(false);
    expect(config.publicUrl).toBe('http://localhost:3000');
  });
});

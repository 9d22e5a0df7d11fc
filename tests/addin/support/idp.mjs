// The real OpenID provider of tests/oidc (server.mjs) for the browser sign-in tests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

import { repo } from './companion.mjs';

/** Starts tests/oidc/server.mjs; resolves {acme, globex, stop}. */
export async function startIdp() {
  const dir = join(repo, 'tests', 'oidc');
  assert.ok(existsSync(join(dir, 'node_modules', 'oidc-provider')), 'tests/oidc/node_modules missing: run `npm ci` in tests/oidc');
  const child = spawn(process.execPath, ['server.mjs', '--port', '0', '--watch-stdin'], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the OpenID provider did not start in 30 s')), 30_000);
    createInterface({ input: child.stdout }).once('line', (l) => { clearTimeout(timer); resolve(l); });
    child.once('exit', (c) => reject(new Error(`the OpenID provider stopped (${c})`)));
  });
  const [ready, acme, globex] = line.split(' ');
  assert.equal(ready, 'ready', line);
  return { acme, globex, stop: () => { child.stdin.end(); child.kill('SIGTERM'); } };
}

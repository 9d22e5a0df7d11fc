// The project's real OpenID provider (tests/oidc/server.mjs, npm oidc-provider) for the
// Thunderbird sign-in: started on a free loopback port with the extension's
// `identity.getRedirectURL()` registered as an extra redirect URI; `stop()` ends it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { repo } from '../../addin/support/companion.mjs';

const dir = join(repo, 'tests', 'oidc');

/** Starts the provider; resolves to {acme, globex, stop()} (the two tenants' issuers). */
export async function startIdp(redirectUris) {
  if (!existsSync(join(dir, 'node_modules', 'oidc-provider'))) {
    throw new Error('tests/oidc/node_modules missing: run `npm ci` in tests/oidc (scripts/test does)');
  }
  const args = ['server.mjs', '--port', '0', '--watch-stdin'];
  for (const uri of redirectUris) args.push('--redirect-uri', uri);
  const child = spawn(process.execPath, args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the OpenID provider did not start in 30 s:\n${err}`)), 30_000);
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('ready '));
      if (line) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the OpenID provider stopped (${code}):\n${err}`));
    });
  });
  const [, acme, globex] = ready.trim().split(/\s+/);
  return {
    acme,
    globex,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => { child.once('exit', r); setTimeout(r, 5000); });
      }
    },
  };
}

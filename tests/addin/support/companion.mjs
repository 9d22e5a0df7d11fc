// A real companion for the add-in tests: `pecdesk serve --demo` (debug build) on a free
// loopback port, with its own temporary data folder, stopped by `stop()`.
//
//   const companion = await startCompanion();            // SQLite
//   const companion = await startCompanion({ postgres }); // PostgreSQL (a URL of a fresh database)
//   const companion = await startCompanion({ setup: (dataDir, bin) => ... }); // before it starts
//   const token = await companion.devLogin('assegnatario@demo.test');
//   await companion.api(token, 'GET', '/api/v1/activities');
//   await companion.stop();
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: the companion serves `addin/`, `manifests/` and the wasm from here. */
export const repo = resolve(here, '..', '..', '..');
/** The public corpus (`PECDESK_CORPUS`), or null when unset. */
export const corpus = process.env.PECDESK_CORPUS ? resolve(process.env.PECDESK_CORPUS) : null;

/** A port nobody listens on right now. */
export async function freePort() {
  return new Promise((ok, fail) => {
    const server = net.createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

/** Starts `target/debug/pecdesk serve --demo` and waits until `/readyz` answers. */
export async function startCompanion({ postgres = null, env = {}, setup = null } = {}) {
  const binary = process.env.PECDESK_BIN ?? join(repo, 'target', 'debug', 'pecdesk');
  if (!existsSync(binary)) {
    throw new Error(`no companion at ${binary}: run \`cargo build -p pecdesk-companion\` first (scripts/test does)`);
  }
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'pecdesk-addin-'));
  // `setup(dataDir, binary)` runs before the start (e.g. `pecdesk trust import` into the data folder).
  if (setup) await setup(dataDir, binary);
  const args = ['serve', '--demo', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir];
  if (postgres) args.push('--database-url', postgres);
  const child = spawn(binary, args, {
    cwd: repo,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the companion stopped (${child.exitCode}):\n${log}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the companion did not get ready in 60 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    port,
    dataDir,
    log: () => log,
    /** Demo sign-in by e-mail (demo mode, loopback): the companion's access token. */
    async devLogin(email) {
      const r = await fetch(`${url}/api/v1/auth/dev-login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email }),
      });
      if (!r.ok) throw new Error(`dev-login ${email}: ${r.status} ${await r.text()}`);
      return (await r.json()).token;
    },
    /** One API call; JSON in and out (a Uint8Array/Buffer body is sent as it is). */
    async api(token, method, path, body, headers = {}) {
      const init = { method, headers: { authorization: `Bearer ${token}`, ...headers } };
      if (body instanceof Uint8Array) init.body = body;
      else if (body !== undefined) {
        init.body = JSON.stringify(body);
        init.headers['content-type'] = 'application/json';
      }
      const r = await fetch(`${url}${path}`, init);
      const text = await r.text();
      let json = null;
      try { json = text ? JSON.parse(text) : null; } catch { json = text; }
      return { status: r.status, body: json, headers: r.headers };
    },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => { child.once('exit', r); setTimeout(r, 10_000); });
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

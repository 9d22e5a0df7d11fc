// A real Thunderbird (Debian's, 153 ESR) for the extension test: a fresh profile with the
// extension side-loaded (PROFILE/extensions/<gecko id>.xpi), started headless with
// Marionette on a free port, driven by chrome-context scripts (support/marionette.py, PyPI
// marionette-driver in tests/thunderbird/.venv). stdout/stderr are kept: the extension's
// console.log lands there (devtools.console.stdout.content).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { freePort } from '../../addin/support/companion.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const GECKO_ID = 'pecdesk@pecdesk.example';
const python = resolve(here, '..', '.venv', 'bin', 'python');
const run = promisify(execFile);

/** Starts Thunderbird with `xpi` (bytes) side-loaded; `stop()` ends it. */
export async function startThunderbird(xpi, { headless = true } = {}) {
  if (!existsSync(python)) {
    throw new Error(`no ${python}: python3 -m venv tests/thunderbird/.venv && tests/thunderbird/.venv/bin/pip install -r tests/thunderbird/requirements.txt (scripts/test does it)`);
  }
  const root = mkdtempSync(join(tmpdir(), 'pecdesk-tb-'));
  const profile = join(root, 'profile');
  mkdirSync(join(profile, 'extensions'), { recursive: true });
  writeFileSync(join(profile, 'extensions', `${GECKO_ID}.xpi`), xpi);
  const port = await freePort();
  const prefs = {
    'extensions.autoDisableScopes': 0,
    'extensions.enabledScopes': 15,
    'xpinstall.signatures.required': false,
    'devtools.console.stdout.content': true,
    'devtools.console.stdout.chrome': true,
    'marionette.port': port,
    'mail.shell.checkDefaultClient': false,
    'mailnews.start_page.enabled': false,
    'mail.provider.enabled': false,
    'mail.spotlight.firstRunDone': true,
    'mail.winsearch.firstRunDone': true,
    'app.update.enabled': false,
    'app.update.auto': false,
    'datareporting.policy.dataSubmissionEnabled': false,
    'datareporting.healthreport.uploadEnabled': false,
    'toolkit.telemetry.reportingpolicy.firstRun': false,
    'extensions.update.enabled': false,
    'mail.rights.version': 1,
    'mailnews.auto_config_url': '',
    'mail.e2ee.auto_enable': false,
    // Headless notifications and prompts must not block the event loop.
    'alerts.showFavicons': false,
    'mail.biff.show_alert': false,
  };
  writeFileSync(join(profile, 'user.js'), Object.entries(prefs)
    .map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});`).join('\n') + '\n');
  const args = ['--no-remote', '--profile', profile, '--marionette', '-remote-allow-system-access'];
  if (headless) args.unshift('--headless');
  const child = spawn('thunderbird', args, {
    env: { ...process.env, HOME: root, MOZ_CRASHREPORTER_DISABLE: '1', MOZ_HEADLESS_WIDTH: '1400', MOZ_HEADLESS_HEIGHT: '900' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let log = '';
  child.stdout.on('data', (d) => { log += d; });
  child.stderr.on('data', (d) => { log += d; });

  const tb = {
    root,
    profile,
    port,
    log: () => log,
    /** Waits until `re` matches the output (the extension's console.log included). */
    async waitForLog(re, ms = 60_000) {
      const deadline = Date.now() + ms;
      while (!re.test(log)) {
        if (child.exitCode !== null) throw new Error(`Thunderbird stopped (${child.exitCode}):\n${log}`);
        if (Date.now() > deadline) throw new Error(`no ${re} in Thunderbird's output after ${ms} ms:\n${log.slice(-6000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      return log.match(re);
    },
    /** Runs support/scripts/NAME.js in the chrome context; resolves to its result. */
    async script(name, scriptArgs = {}) {
      try {
        const { stdout } = await run(python, [join(here, 'marionette.py'), String(port), join(here, 'scripts', `${name}.js`), JSON.stringify(scriptArgs)],
          { timeout: 180_000, maxBuffer: 16 << 20 });
        const result = JSON.parse(stdout.trim().split('\n').pop());
        if (result && typeof result === 'object' && 'error' in result && 'stack' in result) {
          throw Object.assign(new Error(`${result.error}\n${result.stack}`), { stderr: `${result.error}\n${result.stack}` });
        }
        return result;
      } catch (e) {
        throw new Error(`script ${name} failed: ${e.stderr || e.message}\n--- Thunderbird output (tail) ---\n${log.slice(-4000)}`);
      }
    },
    /** The main window with the extension's open popup composed in; answers the popup's place. */
    async screenshot(path) {
      const { png, popup } = await tb.script('screenshot');
      writeFileSync(path, Buffer.from(png.replace(/^data:image\/png;base64,/, ''), 'base64'));
      return popup;
    },
    async stop() {
      if (child.exitCode === null) {
        try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
        await new Promise((r) => { child.once('exit', r); setTimeout(r, 10_000); });
        if (child.exitCode === null) {
          try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  // Marionette listens once the first window is up.
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Thunderbird stopped (${child.exitCode}):\n${log}`);
    const ok = await new Promise((r) => {
      const c = net.connect(port, '127.0.0.1', () => { c.destroy(); r(true); });
      c.on('error', () => r(false));
    });
    if (ok) break;
    if (Date.now() > deadline) {
      await tb.stop();
      throw new Error(`Thunderbird's Marionette did not listen in 90 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  return tb;
}

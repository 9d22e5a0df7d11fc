// Times inspect() of the WebAssembly core in real Chromium, as the task pane runs it: a tiny
// static server for the `--target web` build (target/pecdesk-wasm/web/, or
// $PECDESK_WASM_OUT/web, or $PECDESK_ADDIN__WASM_DIR), a page that loads the module, and
// inspect() of one message (default: the largest public sample,
// $PECDESK_CORPUS/public/docway_legalmail_busta-trasporto_forwarded-pec-nested.eml) with and
// without the signature check. Not a test: the figures go to docs/BENCHMARKS.md ("Add-ins").
//
//   (cd tests/addin && npm ci && node bench-wasm.mjs [FILE] [RUNS])   after ./scripts/build-wasm
//
// Three warm-up calls, then RUNS (default 20) timed calls per mode, in the page
// (performance.now(), which Chromium coarsens to 0.1 ms without cross-origin isolation); the
// time includes copying the bytes into wasm memory and the JSON text back out. Also the
// renderer main thread's CPU time per call (CDP `ThreadTime`, a mean over the RUNS). The native
// figure beside it: `cargo run --release -p pecdesk-wasm --example time_inspect -- FILE 20`.
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';

import { launch } from './support/browser.mjs';
import { repo } from './support/companion.mjs';

const [fileArg, runsArg] = process.argv.slice(2);
const file =
  fileArg ??
  (process.env.PECDESK_CORPUS &&
    join(process.env.PECDESK_CORPUS, 'public', 'docway_legalmail_busta-trasporto_forwarded-pec-nested.eml'));
if (!file || !existsSync(file)) {
  console.error('usage: node bench-wasm.mjs [FILE] [RUNS]  (FILE defaults to the largest sample of $PECDESK_CORPUS)');
  process.exit(2);
}
const runs = Number(runsArg ?? 20);
const wasmDir = resolve(
  repo,
  process.env.PECDESK_ADDIN__WASM_DIR ?? join(process.env.PECDESK_WASM_OUT ?? join('target', 'pecdesk-wasm'), 'web'),
);
if (!existsSync(join(wasmDir, 'pecdesk_wasm.js'))) {
  console.error(`${wasmDir}/pecdesk_wasm.js is missing: run ./scripts/build-wasm first`);
  process.exit(2);
}

const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.html': 'text/html' };
const PAGE = `<!doctype html><meta charset="utf-8"><title>bench</title>
<script type="module">
  import init, * as core from './wasm/pecdesk_wasm.js';
  let bytes;
  window.load = async () => {
    const started = performance.now();
    await init();
    const loadMs = performance.now() - started;
    bytes = new Uint8Array(await (await fetch('/message.eml')).arrayBuffer());
    return { loadMs, size: bytes.length };
  };
  window.run = (anchors, runs) => {
    const times = [];
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      core.inspect(bytes, anchors ?? undefined);
      times.push(performance.now() - t);
    }
    return times;
  };
  window.ready = true;
</script>`;

const message = readFileSync(file);
const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
  } else if (path === '/message.eml') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(message);
  } else if (path.startsWith('/wasm/')) {
    const target = normalize(join(wasmDir, path.slice('/wasm/'.length)));
    if (!target.startsWith(wasmDir + sep) || !existsSync(target)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(target)] ?? 'application/octet-stream' }).end(readFileSync(target));
  } else {
    res.writeHead(404).end();
  }
});
await new Promise((done) => server.listen(0, '127.0.0.1', done));
const url = `http://127.0.0.1:${server.address().port}/`;

const browser = await launch();
try {
  const page = await browser.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.ready === true);
  // The renderer main thread's CPU time (CDP Performance.getMetrics `ThreadTime`, seconds):
  // on a shared machine the wall time includes waiting for a core, this does not.
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const threadTime = async () =>
    (await cdp.send('Performance.getMetrics')).metrics.find((m) => m.name === 'ThreadTime')?.value ?? NaN;
  const { loadMs, size } = await page.evaluate(() => window.load());
  console.log(`${browser.version()} — ${file}: ${size} bytes, ${runs} runs per mode after 3 warm-ups`);
  console.log(`module load (init: fetch + compile + instantiate): ${loadMs.toFixed(1)} ms`);
  for (const [name, anchors] of [['signature not checked', null], ['signature, built-in providers', '']]) {
    await page.evaluate(([a]) => window.run(a, 3), [anchors]);
    const before = await threadTime();
    const times = await page.evaluate(([a, n]) => window.run(a, n), [anchors, runs]);
    const cpuMs = ((await threadTime()) - before) * 1000 / runs;
    times.sort((a, b) => a - b);
    const median = times[Math.floor(times.length / 2)];
    console.log(
      `chromium ${name}: median ${median.toFixed(2)} ms (min ${times[0].toFixed(2)}, max ${times[times.length - 1].toFixed(2)}), ` +
        `on-CPU mean ${cpuMs.toFixed(2)} ms`,
    );
  }
} finally {
  await browser.close();
  server.close();
}

// Times inspect() of the WebAssembly core in node on one message: the figure beside the
// native one of `cargo run --release -p pecdesk-wasm --example time_inspect`
// (docs/BENCHMARKS.md, "WebAssembly core"). Not part of `node --test`.
//
//   node bench.mjs FILE [RUNS]     (after ./scripts/build-wasm)
//
// Five warm-up calls, then RUNS (default 20) timed calls per mode; prints the median, the
// fastest and the slowest. The time includes copying the bytes into wasm memory and the
// JSON text back out, as an add-in pays it.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { wasm } from './load.mjs';

const [file, runsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench.mjs FILE [RUNS]');
  process.exit(2);
}
const runs = Number(runsArg ?? 20);
const bytes = readFileSync(file);
const modes = [
  ['signature not checked', undefined],
  ['signature, no anchor', ''],
];
if (process.env.PECDESK_CA_BUNDLE) {
  modes.push(['signature, PECDESK_CA_BUNDLE', readFileSync(process.env.PECDESK_CA_BUNDLE, 'utf8')]);
}
console.log(`${file}: ${bytes.length} bytes, ${runs} runs per mode`);
for (const [name, anchors] of modes) {
  for (let i = 0; i < 5; i += 1) wasm.inspect(bytes, anchors);
  const times = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    wasm.inspect(bytes, anchors);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(
    `wasm ${name}: median ${times[Math.floor(times.length / 2)].toFixed(2)} ms ` +
      `(min ${times[0].toFixed(2)}, max ${times[times.length - 1].toFixed(2)})`,
  );
}

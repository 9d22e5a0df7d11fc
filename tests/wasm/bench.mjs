// Times inspect() of the WebAssembly core in node on one message: the figure beside the
// native one of `cargo run --release -p pecdesk-wasm --example time_inspect`
// (docs/BENCHMARKS.md, "WebAssembly core"). Not part of `node --test`.
//
//   node bench.mjs FILE [RUNS]     (after ./scripts/build-wasm)
//
// Five warm-up calls, then RUNS (default 20) timed calls per mode; prints the median, the
// fastest and the slowest wall time, and the median time the thread spent on a CPU
// (/proc/thread-self/schedstat, Linux): on a shared machine the wall time includes waiting
// for a core, the on-CPU time much less so. The time includes copying the bytes into wasm memory and the
// JSON text back out, as an add-in pays it.
import { existsSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

import { wasm } from './load.mjs';

const [file, runsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench.mjs FILE [RUNS]');
  process.exit(2);
}
const runs = Number(runsArg ?? 20);

/** Time the main thread has spent on a CPU, in ms (schedstat's first field is ns). */
const SCHEDSTAT = '/proc/thread-self/schedstat';
function threadCpuMs() {
  if (!existsSync(SCHEDSTAT)) return null;
  return Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]) / 1e6;
}
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
  const onCpu = [];
  for (let i = 0; i < runs; i += 1) {
    const cpuBefore = threadCpuMs();
    const started = performance.now();
    wasm.inspect(bytes, anchors);
    times.push(performance.now() - started);
    const cpuAfter = threadCpuMs();
    if (cpuBefore !== null && cpuAfter !== null) onCpu.push(cpuAfter - cpuBefore);
  }
  const byValue = (a, b) => a - b;
  times.sort(byValue);
  onCpu.sort(byValue);
  const cpu = onCpu.length ? `, on-CPU median ${onCpu[Math.floor(onCpu.length / 2)].toFixed(2)} ms` : '';
  console.log(
    `wasm ${name}: median ${times[Math.floor(times.length / 2)].toFixed(2)} ms ` +
      `(min ${times[0].toFixed(2)}, max ${times[times.length - 1].toFixed(2)})${cpu}`,
  );
}

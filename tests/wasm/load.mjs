// Loads the `--target nodejs` build of pecdesk-wasm (scripts/build-wasm writes it under
// target/pecdesk-wasm/nodejs; PECDESK_WASM_PKG points elsewhere). wasm-bindgen's nodejs
// output is CommonJS, hence `createRequire`.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const pkg = process.env.PECDESK_WASM_PKG
  ? resolve(process.env.PECDESK_WASM_PKG)
  : join(repo, 'target', 'pecdesk-wasm', 'nodejs');
const entry = join(pkg, 'pecdesk_wasm.js');
if (!existsSync(entry)) {
  throw new Error(`${entry} is missing: run ./scripts/build-wasm first`);
}

export const wasm = createRequire(import.meta.url)(entry);
export const wasmFile = join(pkg, 'pecdesk_wasm_bg.wasm');

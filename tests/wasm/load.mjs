// Loads the builds of pecdesk-wasm that scripts/build-wasm writes under
// $PECDESK_WASM_OUT (default target/pecdesk-wasm; a relative path is read from the repo
// root, as the script does): `nodejs/` (CommonJS, hence `createRequire`) and `web/`.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const out = resolve(repo, process.env.PECDESK_WASM_OUT ?? join('target', 'pecdesk-wasm'));
const entry = join(out, 'nodejs', 'pecdesk_wasm.js');
if (!existsSync(entry)) {
  throw new Error(`${entry} is missing: run ./scripts/build-wasm first`);
}

/** The `--target nodejs` build, ready to call. */
export const wasm = createRequire(import.meta.url)(entry);
/** The `--target web` build's folder (an ES module plus its `_bg.wasm`). */
export const webDir = join(out, 'web');

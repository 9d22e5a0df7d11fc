// The Rust core in WebAssembly (shared/wasm), served by the companion at ./wasm/.
// Every PEC decision the pane shows comes from here or from the companion: nothing about
// signatures, kinds or permissions is computed in JavaScript.
let ready = null;
let mod = null;

/** Loads the module once; resolves to the wasm exports. */
export async function core() {
  if (!ready) {
    ready = (async () => {
      mod = await import('./wasm/pecdesk_wasm.js');
      await mod.default();
      return mod;
    })();
  }
  return ready;
}

/**
 * The summary of `pecdesk inspect --json` for raw bytes. The signature is checked against
 * `providersJson` (the companion's `/addin/trust/providers.json`: the providers it trusts
 * itself) when given, else against the core's built-in provider list.
 */
export async function inspect(raw, providersJson) {
  const m = await core();
  return JSON.parse(m.inspect(raw, providersJson ?? ''));
}

/** Whether this build of the wasm has an export (the original-message exports came later). */
export async function has(name) {
  const m = await core();
  return typeof m[name] === 'function';
}

/** The original message inside the envelope (or the message itself when not a PEC). */
export async function original(raw) {
  const m = await core();
  return JSON.parse(m.original(raw));
}

/** The decoded bytes of attachment `index` of the original. */
export async function originalAttachment(raw, index) {
  const m = await core();
  return m.original_attachment(raw, index);
}

/** A `.p7m` signed document's check: signers, integrity, trust (qualified list or not-checked). */
export async function signedDocument(bytes, qualifiedJson) {
  const m = await core();
  return JSON.parse(m.signed_document(bytes, qualifiedJson ?? undefined));
}

/** The document inside a `.p7m`. */
export async function signedDocumentContent(bytes) {
  const m = await core();
  return m.signed_document_content(bytes);
}

/** The actions the core allows this person now (wire names, as the companion's `allowed_actions`). */
export async function allowedActions(facts, person) {
  const m = await core();
  return Array.from(m.allowed_actions(JSON.stringify(facts), JSON.stringify(person)));
}

/** A sent message's acceptance and per-recipient delivery from receipts the pane holds. */
export async function reconcile(input) {
  const m = await core();
  return JSON.parse(m.reconcile(JSON.stringify(input)));
}

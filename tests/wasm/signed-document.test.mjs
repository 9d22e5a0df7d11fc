// original(), original_attachment(), signed_document() and signed_document_content() of
// the WebAssembly core, on the synthetic CAdES fixtures of shared/tests/fixtures/cades/
// (made by its make.sh with `openssl cms -sign -nodetach`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { repo, wasm } from './load.mjs';

const cades = join(repo, 'shared', 'tests', 'fixtures', 'cades');
const read = (name) => new Uint8Array(readFileSync(join(cades, name)));
const pemBody = (name) =>
  readFileSync(join(cades, name), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('-----'))
    .join('');

/** The list the companion serves at /addin/trust/qualified.json, naming the test CA. */
const QUALIFIED = JSON.stringify({
  format: 'pecdesk-qualified-cas/1',
  source: 'test',
  cas: [{ name: 'Autorità di Certificazione di Prova S.p.A.', service: 'CA qualificata di prova', country: 'IT', certificates: [pemBody('qualified-ca.pem')] }],
});

const open = (name, list, fileName) => JSON.parse(wasm.signed_document(read(name), list, fileName));

test('a signed PDF with the qualified list is valid and names its signer', () => {
  const doc = open('documento.pdf.p7m', QUALIFIED, 'documento.pdf.p7m');
  assert.equal(doc.status, 'valid');
  assert.equal(doc.name, 'documento.pdf');
  assert.equal(doc.content_type, 'application/pdf');
  assert.deepEqual(doc.problems, []);
  assert.equal(doc.signers.length, 1);
  const [s] = doc.signers;
  assert.equal(s.common_name, 'Mario Rossi');
  assert.equal(s.organization, 'Comune di Prova');
  assert.equal(s.serial_number, 'TINIT-RSSMRA80A01H501U');
  assert.equal(s.issuer, 'PecDesk Test Qualified CA');
  assert.match(s.signing_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(s.integrity, 'ok');
  assert.equal(s.trust, 'qualified');
  assert.equal(s.reason, null);
  for (const key of ['name', 'content_type', 'signers', 'status', 'problems']) assert.ok(key in doc, key);
});

test('without a list the signature is not checked and never valid', () => {
  for (const list of [undefined, null]) {
    const doc = open('documento.pdf.p7m', list);
    assert.equal(doc.status, 'integrity-only');
    assert.equal(doc.name, null);
    assert.equal(doc.signers[0].trust, 'not-checked');
    assert.equal(doc.signers[0].reason, 'firma integra, firmatario Mario Rossi; elenco delle CA qualificate non caricato');
  }
  // Two arguments only, as the first version of the export was called.
  assert.equal(JSON.parse(wasm.signed_document(read('documento.pdf.p7m'))).status, 'integrity-only');
});

test('a changed byte of the document is broken: invalid', () => {
  const doc = open('alterato.pdf.p7m', QUALIFIED);
  assert.equal(doc.status, 'invalid');
  assert.equal(doc.signers[0].integrity, 'broken');
  assert.match(doc.problems[0], /modificato dopo la firma/);
});

test('a nested p7m.p7m gives both signers and the innermost document', () => {
  const doc = open('documento.pdf.p7m.p7m', QUALIFIED, 'documento.pdf.p7m.p7m');
  assert.equal(doc.status, 'valid');
  assert.equal(doc.name, 'documento.pdf');
  assert.deepEqual(doc.signers.map((s) => s.common_name), ['Giulia Bianchi', 'Mario Rossi']);
  assert.deepEqual(wasm.signed_document_content(read('documento.pdf.p7m.p7m')), read('documento.pdf'));
});

test('PEM and bare base64 forms open like DER', () => {
  assert.equal(open('nota.txt.p7m', QUALIFIED, 'nota.txt.p7m').status, 'valid');
  const xml = open('fattura.xml.p7m', QUALIFIED, 'fattura.xml.p7m');
  assert.equal(xml.status, 'valid');
  assert.equal(xml.content_type, 'application/xml');
  assert.deepEqual(wasm.signed_document_content(read('nota.txt.p7m')), read('nota.txt'));
});

test('not qualified, expired and ECDSA signers are never valid', () => {
  assert.equal(open('esterno.txt.p7m', QUALIFIED).signers[0].trust, 'not-qualified');
  assert.equal(open('scaduto.txt.p7m', QUALIFIED).signers[0].trust, 'not-qualified');
  const ecdsa = open('ecdsa.txt.p7m', QUALIFIED);
  assert.equal(ecdsa.signers[0].integrity, 'unsupported');
  assert.equal(ecdsa.status, 'integrity-only');
  assert.match(ecdsa.signers[0].reason, /ECDSA/);
});

test('errors read "italiano / English"', () => {
  assert.throws(() => wasm.signed_document(read('staccata.p7s')), /^Error: firma staccata.* \/ a detached signature/);
  assert.throws(() => wasm.signed_document(read('documento.pdf')), /non è un documento firmato .* \/ not a signed document/);
  assert.throws(() => wasm.signed_document_content(new Uint8Array()), /il file è vuoto \/ the file is empty/);
  assert.throws(() => wasm.signed_document(read('documento.pdf.p7m'), '{"format": "x", "cas": []}'), /formato .* sconosciuto \/ unknown qualified CA list format/);
});

test('random bytes throw an Error, never crash the module', () => {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  for (let i = 0; i < 300; i++) {
    const bytes = Uint8Array.from({ length: 1 + (i % 200) }, rand);
    if (i % 3 === 0) bytes[0] = 0x30;
    try {
      JSON.parse(wasm.signed_document(bytes, QUALIFIED, 'x.p7m'));
    } catch (e) {
      assert.ok(e instanceof Error && / \/ /.test(e.message), String(e));
    }
  }
  // The module still works afterwards.
  assert.equal(open('documento.pdf.p7m', QUALIFIED).status, 'valid');
});

function envelope(p7m) {
  const b64 = Buffer.from(p7m).toString('base64').replace(/.{76}/g, '$&\r\n');
  const inner = [
    'From: Mario Rossi <mario.rossi@pec.comune.test>',
    'To: ufficio@pec.ente.test',
    'Cc: archivio@pec.ente.test',
    'Subject: Determina firmata',
    'Date: Mon, 30 Nov 2026 10:00:00 +0100',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="in"',
    '',
    '--in',
    'Content-Type: text/html; charset=utf-8',
    '',
    '<p>In allegato</p><img src=x onerror=alert(1)>',
    '--in',
    'Content-Type: application/octet-stream; name="documento.pdf.p7m"',
    'Content-Disposition: attachment; filename="documento.pdf.p7m"',
    'Content-Transfer-Encoding: base64',
    '',
    b64,
    '--in--',
    '',
  ].join('\r\n');
  return Buffer.from(
    [
      'From: "Per conto di: mario.rossi@pec.comune.test" <posta-certificata@pec.gestore.test>',
      'To: ufficio@pec.ente.test',
      'Subject: POSTA CERTIFICATA: Determina firmata',
      'X-Trasporto: posta-certificata',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="env"',
      '',
      '--env',
      'Content-Type: text/plain',
      '',
      'Messaggio di posta certificata',
      '--env',
      'Content-Type: message/rfc822; name="postacert.eml"',
      'Content-Disposition: inline; filename="postacert.eml"',
      '',
      inner,
      '--env--',
      '',
    ].join('\r\n'),
  );
}

test('original() shows the postacert.eml, raw html, and a signed attachment', () => {
  const p7m = read('documento.pdf.p7m');
  const raw = new Uint8Array(envelope(p7m));
  const view = JSON.parse(wasm.original(raw));
  assert.equal(view.source, 'postacert');
  assert.equal(view.from, 'mario.rossi@pec.comune.test');
  assert.equal(view.from_name, 'Mario Rossi');
  assert.deepEqual(view.to, ['ufficio@pec.ente.test']);
  assert.deepEqual(view.cc, ['archivio@pec.ente.test']);
  assert.equal(view.subject, 'Determina firmata');
  assert.equal(view.date, '2026-11-30T10:00:00+01:00');
  assert.match(view.html, /onerror=alert/, 'html comes raw: the pane sanitises');
  assert.deepEqual(view.attachments, [
    { index: 0, name: 'documento.pdf.p7m', content_type: 'application/octet-stream', size: p7m.length, signed: true },
  ]);
  const bytes = wasm.original_attachment(raw, 0);
  assert.ok(bytes instanceof Uint8Array);
  assert.deepEqual(bytes, p7m);
  assert.equal(JSON.parse(wasm.signed_document(bytes, QUALIFIED, view.attachments[0].name)).status, 'valid');
  assert.throws(() => wasm.original_attachment(raw, 1), /allegato 1 assente \/ no attachment 1/);
  assert.throws(() => wasm.original(new Uint8Array()), /non è un messaggio di posta \/ not an e-mail message/);
});

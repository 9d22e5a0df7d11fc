// The Outlook manifest as a real companion serves it (`/addin/manifest.xml`, filled with its
// public URL), checked structurally (support/manifest-check.mjs: Microsoft's XSDs cannot be
// had here, see there), with the loopback URL and with an https public URL; mutated copies
// must fail the check; `office-addin-manifest info` reads it as a smoke check.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { startCompanion } from './support/companion.mjs';
import { checkManifest, manifestUrls } from './support/manifest-check.mjs';

const run = promisify(execFile);
const PUBLIC = 'https://pecdesk.esempio.it';

async function served(companion) {
  const r = await fetch(`${companion.url}/addin/manifest.xml`);
  assert.equal(r.status, 200, `GET /addin/manifest.xml: ${r.status}`);
  assert.match(r.headers.get('content-type') ?? '', /xml/);
  return r.text();
}

describe('Outlook manifest served by the companion', () => {
  let loop;
  let pub;
  let loopXml;
  let pubXml;

  before(async () => {
    [loop, pub] = await Promise.all([
      startCompanion(),
      startCompanion({ env: { PECDESK_PUBLIC_URL: PUBLIC } }),
    ]);
    [loopXml, pubXml] = await Promise.all([served(loop), served(pub)]);
  });
  after(async () => {
    await Promise.all([loop?.stop(), pub?.stop()]);
  });

  test('passes the structural check on the loopback URL', () => {
    assert.deepEqual(checkManifest(loopXml, { publicUrl: loop.url }), []);
    assert.ok(loopXml.includes(`${loop.url}/addin/outlook/commands.html`));
  });

  test('passes the structural check on an https public URL, every URL on it', () => {
    assert.deepEqual(checkManifest(pubXml, { publicUrl: PUBLIC }), []);
    const urls = manifestUrls(pubXml);
    assert.ok(urls.length >= 8, `only ${urls.length} URLs`);
    for (const u of urls) assert.ok(u === PUBLIC || u.startsWith(`${PUBLIC}/`), u);
    // The same manifest checked against another origin fails: the check can fail.
    assert.notDeepEqual(checkManifest(pubXml, { publicUrl: 'https://altro.esempio.it' }), []);
  });

  test('every URL it names is served by the companion (icons as PNG, pages as HTML)', async () => {
    // A bare origin (the AppDomain) names a site, not a page.
    const pages = manifestUrls(loopXml).filter((u) => u !== new URL(u).origin);
    assert.ok(pages.length >= 8, pages.join('\n'));
    for (const u of pages) {
      const r = await fetch(u);
      assert.equal(r.status, 200, `GET ${u}: ${r.status}`);
      const type = r.headers.get('content-type') ?? '';
      if (u.endsWith('.png')) assert.match(type, /^image\/png/, u);
      else if (u.endsWith('.js')) assert.match(type, /javascript/, u);
      else assert.match(type, /^text\/html/, u);
      await r.arrayBuffer();
    }
  });

  test('office-addin-manifest info reads it (smoke check)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pecdesk-manifest-'));
    try {
      const file = join(dir, 'manifest.xml');
      writeFileSync(file, pubXml);
      const { stdout } = await run(join(import.meta.dirname, 'node_modules', '.bin', 'office-addin-manifest'), ['info', file], {
        timeout: 60_000,
      });
      assert.match(stdout, /Id: 80fbc2a2-1b59-4a0f-97a1-d3f40af1f26c/);
      assert.match(stdout, /Type: MailApp/);
      assert.match(stdout, /Default Locale: it-IT/);
      assert.match(stdout, /Hosts: Mailbox/);
      assert.match(stdout, /Permissions: ReadWriteMailbox/);
      assert.match(stdout, new RegExp(`Icon Url: ${PUBLIC.replaceAll('.', '\\.')}/addin/icons/icon-64\\.png`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Each mutation must be caught, with a problem matching `expect`.
  const mutations = [
    {
      name: 'Version before Id (out of order under OfficeApp)',
      edit: (x) => x.replace(/(\s*<Id>[^<]*<\/Id>)(\s*<Version>[^<]*<\/Version>)/, '$2$1'),
      expect: /out of order in <OfficeApp>/,
    },
    {
      name: 'Permissions after Rule',
      edit: (x) => x.replace(/(\s*<Permissions>[^<]*<\/Permissions>)([\s\S]*?<\/Rule>)/, '$2$1'),
      expect: /out of order in <OfficeApp>/,
    },
    {
      name: 'Runtimes after DesktopFormFactor',
      edit: (x) => x.replace(/(\s*<Runtimes>[\s\S]*?<\/Runtimes>)(\s*<DesktopFormFactor>[\s\S]*?<\/DesktopFormFactor>)/, '$2$1'),
      expect: /out of order in <Host>/,
    },
    {
      name: 'an icon on another origin',
      edit: (x, base) => x.replace(`${base}/addin/icons/icon-80.png`, 'https://cdn.altrove.example/icon-80.png'),
      expect: /off the companion's origin: https:\/\/cdn\.altrove\.example/,
    },
    {
      name: 'the task pane on plain http elsewhere',
      edit: (x, base) => x.replace(`<SourceLocation DefaultValue="${base}/addin/?host=outlook"/>`, '<SourceLocation DefaultValue="http://pecdesk.esempio.it/addin/?host=outlook"/>'),
      expect: /off the companion's origin: http:\/\/pecdesk\.esempio\.it/,
    },
    {
      name: 'a resid that names no resource',
      edit: (x) => x.replace('<Label resid="ReadButton.Label"/>', '<Label resid="ReadButton.Etichetta"/>'),
      expect: /resid "ReadButton\.Etichetta" non definito/,
    },
    {
      name: 'a tooltip resid pointing at a short string',
      edit: (x) => x.replace('<Description resid="ComposeButton.Tooltip"/>', '<Description resid="ComposeButton.Label"/>'),
      expect: /resid "ComposeButton\.Label" non definito in \/ not defined in bt:LongStrings/,
    },
    {
      name: 'a button without its 80 px icon',
      edit: (x) => x.replace(/\s*<bt:Image size="80" resid="Icon\.80"\/>/, ''),
      expect: /missing icon size 80/,
    },
    {
      name: 'no OnMessageSend LaunchEvent',
      edit: (x) => x.replace(/<LaunchEvent Type="OnMessageSend"/, '<LaunchEvent Type="OnNewMessageCompose"'),
      expect: /missing <LaunchEvent Type="OnMessageSend">/,
    },
    {
      name: 'OnMessageSend without a blocking SendMode',
      edit: (x) => x.replace('SendMode="SoftBlock"', 'SendMode="PromptUser"'),
      expect: /SendMode deve essere/,
    },
    {
      name: 'a lower requirement set',
      edit: (x) => x.replace('<Set Name="Mailbox" MinVersion="1.14"/>', '<Set Name="Mailbox" MinVersion="1.3"/>'),
      expect: /Mailbox 1\.3 < 1\.14/,
    },
    {
      name: 'a TaskPaneApp',
      edit: (x) => x.replace('xsi:type="MailApp"', 'xsi:type="TaskPaneApp"'),
      expect: /must be "MailApp"/,
    },
    {
      name: 'an unknown element',
      edit: (x) => x.replace('<DisableEntityHighlighting>', '<Colore>blu</Colore>\n  <DisableEntityHighlighting>'),
      expect: /<Colore> .* element not allowed in <OfficeApp>/,
    },
    {
      name: 'a label longer than 125 characters',
      edit: (x) => x.replace('DefaultValue="Apri PecDesk"', `DefaultValue="${'Apri PecDesk '.repeat(11)}"`),
      expect: /longer than 125 characters/,
    },
    {
      name: 'a placeholder left unfilled',
      edit: (x, base) => x.replace(`${base}/addin/icons/icon-16.png`, '{{PUBLIC_URL}}/addin/icons/icon-16.png'),
      expect: /placeholder left unreplaced/,
    },
    {
      name: 'broken XML',
      edit: (x) => x.replace('</Hosts>', '</Host>'),
      expect: /not well-formed XML/,
    },
  ];
  for (const m of mutations) {
    test(`fails when mutated: ${m.name}`, () => {
      for (const [xml, base] of [[loopXml, loop.url], [pubXml, PUBLIC]]) {
        const mutated = m.edit(xml, base);
        assert.notEqual(mutated, xml, 'the mutation changed nothing');
        const problems = checkManifest(mutated, { publicUrl: base });
        assert.ok(problems.some((p) => m.expect.test(p)), `expected ${m.expect} in:\n${problems.join('\n')}`);
      }
    });
  }
});

// Shows a message (by header Message-ID) in the 3-pane window's message pane and clicks the
// extension's message display action button, which opens the pane (pane/index.html) in its
// popup. args: {folderUri, headerMessageId, waitMs}. Resolves to {button, popup, url, cert,
// text}: the pane's certification panel (`data-cert` of its badge and its text).
const [args, done] = arguments;
(async () => {
  const win = Services.wm.getMostRecentWindow('mail:3pane');
  win.resizeTo(1400, 900);
  // A fresh profile greets with the account hub: close it (the account exists already).
  for (const d of win.document.querySelectorAll('dialog[open]')) d.close();
  for (const hub of win.document.querySelectorAll('account-hub-container')) {
    for (const d of hub.shadowRoot?.querySelectorAll('dialog[open]') ?? []) d.close();
    hub.remove();
  }
  win.document.getElementById('accountHubDialog')?.close?.();
  const tabmail = win.document.getElementById('tabmail');
  tabmail.switchToTab(0);
  const about3Pane = tabmail.currentAbout3Pane;
  if (about3Pane.gFolder?.URI !== args.folderUri) {
    about3Pane.displayFolder(args.folderUri);
    await new Promise((r) => setTimeout(r, 1500));
  }
  const view = about3Pane.gDBView;
  let index = -1;
  for (let i = 0; i < view.rowCount; i++) {
    if (view.getMsgHdrAt(i).messageId === args.headerMessageId) index = i;
  }
  if (index < 0) throw new Error('message not in the list');
  about3Pane.threadTree.selectedIndex = index;
  await new Promise((r) => setTimeout(r, 2500));
  const aboutMessage = about3Pane.messageBrowser.contentWindow;
  const button = aboutMessage.document.querySelector('[id$="-messageDisplayAction-toolbarbutton"]');
  if (!button) throw new Error('no message display action button in the message header');
  button.click();
  // The popup's browser (an extension page, out of process): a frame script reads the pane's
  // certification panel once the wasm core has filled it.
  const deadline = Date.now() + (args.waitMs ?? 20000);
  let panel = null;
  let cert = null;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    const docs = [win.document, about3Pane.document, aboutMessage.document];
    panel = docs.flatMap((d) => [...d.querySelectorAll('panel')]).find((p) => p.state === 'open' && p.querySelector('browser'));
    const browser = panel?.querySelector('browser');
    if (!browser?.messageManager) continue;
    cert = await readCertification(browser);
    if (cert?.cert) break;
  }
  // Let the rest of the pane (work panel, original message) settle for the screenshot.
  await new Promise((r) => setTimeout(r, 2000));
  return { button: button.id, popup: panel?.state ?? null, ...cert };
})().then(done, (e) => done({ error: String(e), stack: e.stack }));

/** {url, cert, text, by} of the pane in `browser` (cert null until the panel is there). */
function readCertification(browser) {
  const mm = browser.messageManager;
  const code = `
    const d = content.document;
    const section = d.querySelector('section[data-view="certification"]');
    sendAsyncMessage('pecdesk-test:cert', JSON.stringify({
      url: content.location.href,
      cert: section?.querySelector('[data-cert]')?.getAttribute('data-cert') ?? null,
      text: section?.innerText ?? d.body?.innerText?.slice(0, 2000) ?? '',
    }));
  `;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 3000);
    mm.addMessageListener('pecdesk-test:cert', function l(m) {
      mm.removeMessageListener('pecdesk-test:cert', l);
      clearTimeout(timer);
      resolve(JSON.parse(m.data));
    });
    mm.loadFrameScript('data:,' + encodeURIComponent(code), false);
  });
}

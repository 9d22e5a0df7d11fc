// Shows a message (by header Message-ID) in the 3-pane window's message pane and clicks the
// extension's message display action button, which opens the pane (pane/index.html) in its
// popup. args: {folderUri, headerMessageId, waitMs}. Resolves to {button, popup}.
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
  await new Promise((r) => setTimeout(r, args.waitMs ?? 6000));
  const panel = aboutMessage.document.querySelector('panel[state="open"], panel.webextension-popup-panel');
  return { button: button.id, popup: panel?.state ?? null };
})().then(done, (e) => done({ error: String(e), stack: e.stack }));

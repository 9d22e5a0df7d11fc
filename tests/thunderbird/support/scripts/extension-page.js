// Opens one of the extension's pages in a Thunderbird tab (extension pages run in the
// extension process) and, from inside that page, calls the extension like the pane does:
// `browser.runtime.sendMessage(args.message)` to the background. With `args.headerMessageId`
// the page first finds that message (`messages.query`) and passes its id as
// `message.messageId`. With `args.redirectUrl` instead of a message, resolves to the page's
// `identity.getRedirectURL()` (what the organisation registers at its IdP). With
// `args.replyByHand` the page itself opens the reply form on that message
// (`compose.beginReply`, as a user pressing Reply: the background is not told) and resolves
// to {tabId}.
// Resolves to the background's answer.
const [args, done] = arguments;
const { ExtensionParent } = ChromeUtils.importESModule('resource://gre/modules/ExtensionParent.sys.mjs');
(async () => {
  const ext = ExtensionParent.GlobalManager.getExtension(args.id);
  const win = Services.wm.getMostRecentWindow('mail:3pane');
  const tabmail = win.document.getElementById('tabmail');
  const url = ext.baseURL + (args.page ?? 'icon.svg');
  let tab = tabmail.tabInfo.find((t) => t.browser?.currentURI?.spec === url);
  if (!tab) {
    tab = tabmail.openTab('contentTab', { url, background: true });
    await new Promise((r) => setTimeout(r, 1500));
  }
  const mm = tab.browser.messageManager;
  const code = `
    const b = content.wrappedJSObject.browser;
    const args = ${JSON.stringify({ message: args.message ?? {}, headerMessageId: args.headerMessageId ?? null, redirectUrl: Boolean(args.redirectUrl), replyByHand: Boolean(args.replyByHand) })};
    (async () => {
      if (args.redirectUrl) return b.identity.getRedirectURL();
      if (args.headerMessageId) {
        const found = await b.messages.query(Cu.cloneInto({ headerMessageId: args.headerMessageId }, content));
        const list = found.messages ?? found;
        if (!list.length) throw new Error('no message ' + args.headerMessageId + ' in Thunderbird');
        args.message.messageId = list[0].id;
      }
      if (args.replyByHand) {
        const tab = await b.compose.beginReply(args.message.messageId);
        return { tabId: tab.id };
      }
      return b.runtime.sendMessage(Cu.cloneInto(args.message, content));
    })().then(
      (v) => sendAsyncMessage('pecdesk-test:answer', JSON.stringify(v ?? null)),
      (e) => sendAsyncMessage('pecdesk-test:answer', JSON.stringify({ error: String(e) })));
  `;
  return new Promise((resolve) => {
    mm.addMessageListener('pecdesk-test:answer', function l(m) {
      mm.removeMessageListener('pecdesk-test:answer', l);
      resolve(JSON.parse(m.data));
    });
    mm.loadFrameScript('data:,' + encodeURIComponent(code), false);
  });
})().then(done, (e) => done({ error: String(e), stack: e.stack }));

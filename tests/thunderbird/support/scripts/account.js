// Adds an IMAP account on the test Dovecot (plain, password login) with an SMTP server for
// its identity, then syncs the inbox until `args.expect` messages are there.
//   args: {user, password, email, name, imapPort, smtpPort, expect}
// Resolves to {accountId, folderUri, count, messageIds: [header Message-IDs]}.
const [args, done] = arguments;
const { MailServices } = ChromeUtils.importESModule('resource:///modules/MailServices.sys.mjs');
(async () => {
  const server = MailServices.accounts.createIncomingServer(args.user, '127.0.0.1', 'imap');
  server.port = args.imapPort;
  server.socketType = Ci.nsMsgSocketType.plain;
  server.authMethod = Ci.nsMsgAuthMethod.passwordCleartext;
  server.password = args.password;
  // Keep the password across reconnects, as a user who ticked "remember" would.
  const login = Cc['@mozilla.org/login-manager/loginInfo;1'].createInstance(Ci.nsILoginInfo);
  login.init(`imap://127.0.0.1`, null, `imap://127.0.0.1`, args.user, args.password, '', '');
  try { await Services.logins.addLoginAsync(login); } catch { /* already there */ }

  const outgoing = (MailServices.outgoingServer ?? MailServices.smtp).createServer('smtp');
  outgoing.QueryInterface(Ci.nsISmtpServer);
  outgoing.hostname = '127.0.0.1';
  outgoing.port = args.smtpPort;
  outgoing.socketType = Ci.nsMsgSocketType.plain;
  outgoing.authMethod = Ci.nsMsgAuthMethod.none;

  const identity = MailServices.accounts.createIdentity();
  identity.email = args.email;
  identity.fullName = args.name;
  identity.smtpServerKey = outgoing.key;
  identity.doFcc = false;

  const account = MailServices.accounts.createAccount();
  account.incomingServer = server;
  account.addIdentity(identity);

  const inbox = server.rootFolder.getFolderWithFlags(Ci.nsMsgFolderFlags.Inbox);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const msgWindow = null;
    inbox.updateFolder(msgWindow);
    await new Promise((r) => setTimeout(r, 1000));
    if (inbox.getTotalMessages(false) >= args.expect) break;
    if (Date.now() > deadline) throw new Error(`inbox has ${inbox.getTotalMessages(false)} of ${args.expect} messages`);
  }
  const ids = [];
  for (const hdr of inbox.messages) ids.push(hdr.messageId);
  return { accountId: account.key, folderUri: inbox.URI, count: inbox.getTotalMessages(false), messageIds: ids };
})().then(done, (e) => done({ error: String(e), stack: e.stack }));

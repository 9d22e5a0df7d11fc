// The compose windows: {count, windows: [{subject, to}]}; with args.send, presses "Send"
// (cmd_sendNow) in the most recent one and waits args.waitMs for the outcome; with
// args.close, closes them all unsaved.
const [args, done] = arguments;
(async () => {
  const list = () => [...Services.wm.getEnumerator('msgcompose')].filter((w) => !w.closed);
  if (args.send) {
    const w = list().pop();
    if (!w) throw new Error('no compose window to send from');
    w.goDoCommand('cmd_sendNow');
    await new Promise((r) => setTimeout(r, args.waitMs ?? 5000));
  }
  if (args.close) {
    // Closes them without saving (the test is done with them).
    for (const w of list()) {
      w.gContentChanged = false;
      w.close();
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  const windows = list().map((w) => ({
    subject: w.document.getElementById('msgSubject')?.value ?? null,
  }));
  return { count: windows.length, windows };
})().then(done, (e) => done({ error: String(e), stack: e.stack }));

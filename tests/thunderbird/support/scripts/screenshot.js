// A PNG (data URL) of the 3-pane window with the extension's open popup (the pane) drawn
// where it shows: the window and the popup's browser are snapshotted separately (a popup is
// a widget of its own) and composed.
const [args, done] = arguments;
(async () => {
  const win = Services.wm.getMostRecentWindow('mail:3pane');
  const scale = 1;
  const whole = await win.browsingContext.currentWindowGlobal.drawSnapshot(null, scale, 'white');
  const canvas = win.document.createElementNS('http://www.w3.org/1999/xhtml', 'canvas');
  canvas.width = whole.width;
  canvas.height = whole.height;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(whole, 0, 0);
  let popup = null;
  const about3Pane = win.document.getElementById('tabmail').currentAbout3Pane;
  const docs = [win.document, about3Pane?.document, about3Pane?.messageBrowser?.contentDocument].filter(Boolean);
  for (const d of docs) {
    for (const panel of d.querySelectorAll('panel')) {
      if (panel.state !== 'open') continue;
      const browser = panel.querySelector('browser');
      if (!browser?.browsingContext?.currentWindowGlobal) continue;
      const b = browser.getBoundingClientRect();
      const shot = await browser.browsingContext.currentWindowGlobal.drawSnapshot(null, scale, 'white');
      // The browser's position in the window: screen coordinates minus the window's.
      const x = browser.screenX - win.mozInnerScreenX;
      const y = browser.screenY - win.mozInnerScreenY;
      ctx.fillStyle = 'rgba(0,0,0,0.25)';
      ctx.fillRect(x - 1, y - 1, b.width + 4, b.height + 4);
      ctx.drawImage(shot, x, y);
      popup = { x, y, width: b.width, height: b.height, url: browser.currentURI?.spec };
    }
  }
  return { png: canvas.toDataURL('image/png'), popup };
})().then(done, (e) => done({ error: String(e), stack: e.stack }));

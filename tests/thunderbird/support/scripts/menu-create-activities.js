// Selects every message of the folder in the 3-pane message list, opens the list's context
// menu as a right click does, and chooses the extension's item (its menus.onClicked runs
// with the selection). args: {folderUri, itemId}. Resolves to {label, selected}.
const [args, done] = arguments;
(async () => {
  const win = Services.wm.getMostRecentWindow('mail:3pane');
  const tabmail = win.document.getElementById('tabmail');
  tabmail.switchToTab(0);
  const about3Pane = tabmail.currentAbout3Pane;
  if (about3Pane.gFolder?.URI !== args.folderUri) {
    about3Pane.displayFolder(args.folderUri);
    await new Promise((r) => setTimeout(r, 1500));
  }
  about3Pane.gDBView.selection.selectAll();
  const menu = about3Pane.document.getElementById('mailContext');
  const row = about3Pane.threadTree.getRowAtIndex(0);
  const rect = row.getBoundingClientRect();
  const shown = new Promise((r) => menu.addEventListener('popupshown', r, { once: true }));
  row.dispatchEvent(new about3Pane.MouseEvent('contextmenu', {
    bubbles: true, cancelable: true, button: 2, clientX: rect.x + 5, clientY: rect.y + 5,
  }));
  await shown;
  const item = [...menu.querySelectorAll('menuitem')].find((m) => m.id.endsWith(`-menuitem-_${args.itemId}`));
  if (!item) throw new Error('the extension\'s menu item is not in the message list\'s context menu');
  const label = item.label;
  item.doCommand();
  menu.hidePopup();
  return { label, selected: about3Pane.gDBView.numSelected };
})().then(done, (e) => done({ error: String(e), stack: e.stack }));

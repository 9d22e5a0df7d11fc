// The extension's state as the add-on manager sees it.
const [args, done] = arguments;
const { AddonManager } = ChromeUtils.importESModule('resource://gre/modules/AddonManager.sys.mjs');
AddonManager.getAddonByID(args.id).then((a) => done(a ? {
  id: a.id, version: a.version, active: a.isActive, disabled: a.userDisabled, appDisabled: a.appDisabled,
  signed: a.signedState, scope: a.scope, blocklisted: a.blocklistState,
} : null), (e) => done({ error: String(e) }));

// A structural check of the Outlook XML manifest, written from Microsoft's published manifest
// reference (the XSD sequences of OfficeAppManifestV1_1, MailAppVersionOverrides V1_0/V1_1 and
// OfficeAppBasicTypesV1_0, and the element pages for Runtimes and LaunchEvent, which those
// XSDs predate). Microsoft's XSDs are not shipped by any npm package (checked: npm
// office-addin-manifest, office-addin-manifest-converter, office-addin-validator ship none)
// and nothing else can be downloaded here, so this is not an XSD validation: it checks the
// elements PecDesk uses, in their schema order, and refuses any element it does not know.
//
//   const problems = checkManifest(xmlText, { publicUrl: 'https://pecdesk.example.it' });
//   // [] when the manifest is fine, else one sentence per problem.
//
// What it checks: well-formed XML; the root `OfficeApp` of `xsi:type="MailApp"` in the 1.1
// namespace; every element's parent, namespace, order and count (xs:sequence min/maxOccurs);
// required attributes; string lengths (ShortString 125, LongString 250, resource ids 32);
// the Mailbox requirement sets (base 1.14, VersionOverrides not lower); VersionOverrides 1.0
// with a nested 1.1 holding the read and compose command surfaces and the OnMessageSend
// LaunchEvent with its runtime; every `resid` defined in the right resource collection of its
// own VersionOverrides; unique control and group ids; every URL on the public URL's origin,
// HTTPS unless that origin is loopback; no `{{...}}` placeholder left.
import sax from 'sax';

export const NS = {
  app: 'http://schemas.microsoft.com/office/appforoffice/1.1',
  vo10: 'http://schemas.microsoft.com/office/mailappversionoverrides',
  vo11: 'http://schemas.microsoft.com/office/mailappversionoverrides/1.1',
  bt: 'http://schemas.microsoft.com/office/officeappbasictypes/1.0',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
};

/** Parses XML into {name, ns, attrs: {localName: value}, type (xsi:type), children, text, line}. */
export function parseXml(text) {
  const parser = sax.parser(true, { xmlns: true, position: true });
  const root = { children: [] };
  const stack = [root];
  let error = null;
  parser.onerror = (e) => {
    error ??= e;
    parser.error = null;
    parser.resume();
  };
  parser.onopentag = (node) => {
    const attrs = {};
    let type = null;
    for (const a of Object.values(node.attributes)) {
      if (a.uri === NS.xsi && a.local === 'type') type = a.value;
      else if (a.prefix !== 'xmlns' && a.name !== 'xmlns') attrs[a.local] = a.value;
    }
    const el = { name: node.local, ns: node.uri, attrs, type, children: [], text: '', line: parser.line + 1 };
    stack.at(-1).children.push(el);
    stack.push(el);
  };
  parser.onclosetag = () => { stack.pop(); };
  parser.ontext = (t) => { if (stack.length > 1) stack.at(-1).text += t; };
  parser.oncdata = (t) => { if (stack.length > 1) stack.at(-1).text += t; };
  parser.write(text).close();
  if (error) throw new Error(`XML non ben formato / not well-formed XML: ${error.message.split('\n')[0]}`);
  if (root.children.length !== 1) throw new Error('XML: expected exactly one root element');
  return root.children[0];
}

// Content models. Each entry of `seq` is [localName, namespace key, min, max, child model];
// the child model is a model name, or {xsiType: model name} for elements typed by xsi:type.
// `vo` stands for the namespace of the VersionOverrides the element sits in.
const INF = Infinity;
const MODELS = {
  MailApp: {
    attrs: [],
    seq: [
      ['Id', 'app', 1, 1, 'Uuid'],
      ['AlternateId', 'app', 0, 1, 'Text'],
      ['Version', 'app', 1, 1, 'VersionText'],
      ['ProviderName', 'app', 1, 1, 'ShortText'],
      ['DefaultLocale', 'app', 1, 1, 'Culture'],
      ['DisplayName', 'app', 1, 1, 'ShortSetting'],
      ['Description', 'app', 1, 1, 'LongSetting'],
      ['IconUrl', 'app', 0, 1, 'UrlSetting'],
      ['HighResolutionIconUrl', 'app', 0, 1, 'UrlSetting'],
      ['SupportUrl', 'app', 0, 1, 'UrlSetting'],
      ['AppDomains', 'app', 0, 1, 'AppDomains'],
      ['Hosts', 'app', 0, 1, 'AppHosts'],
      // MailApp's extension of OfficeApp: always after the base sequence.
      ['Requirements', 'app', 1, 1, 'AppRequirements'],
      ['FormSettings', 'app', 1, 1, 'FormSettings'],
      ['Permissions', 'app', 0, 1, 'Permissions'],
      ['Rule', 'app', 1, 1, { RuleCollection: 'RuleCollection', ItemIs: 'ItemIs' }],
      ['DisableEntityHighlighting', 'app', 0, 1, 'Bool'],
      ['VersionOverrides', 'vo10', 0, 1, { VersionOverridesV1_0: 'VersionOverrides10' }],
    ],
  },
  ShortSetting: { attrs: ['DefaultValue'], limit: 125, seq: [['Override', 'app', 0, INF, 'ShortOverride']] },
  LongSetting: { attrs: ['DefaultValue'], limit: 250, seq: [['Override', 'app', 0, INF, 'LongOverride']] },
  UrlSetting: { attrs: ['DefaultValue'], url: ['DefaultValue'], seq: [['Override', 'app', 0, INF, 'UrlOverride']] },
  ShortOverride: { attrs: ['Locale', 'Value'], limit: 125, seq: [] },
  LongOverride: { attrs: ['Locale', 'Value'], limit: 250, seq: [] },
  UrlOverride: { attrs: ['Locale', 'Value'], url: ['Value'], seq: [] },
  AppDomains: { attrs: [], seq: [['AppDomain', 'app', 0, INF, 'UrlText']] },
  AppHosts: { attrs: [], seq: [['Host', 'app', 1, INF, 'AppHost']] },
  AppHost: { attrs: ['Name'], seq: [] },
  AppRequirements: { attrs: [], seq: [['Sets', 'app', 1, 1, 'AppSets']] },
  AppSets: { attrs: [], optional: ['DefaultMinVersion'], seq: [['Set', 'app', 1, INF, 'AppSet']] },
  AppSet: { attrs: ['Name'], optional: ['MinVersion'], seq: [] },
  FormSettings: { attrs: [], seq: [['Form', 'app', 1, 2, { ItemRead: 'ItemRead', ItemEdit: 'ItemEdit' }]] },
  ItemRead: {
    attrs: [],
    seq: [
      ['DesktopSettings', 'app', 1, 1, 'ReadDesktop'],
      ['TabletSettings', 'app', 0, 1, 'ReadDesktop'],
      ['PhoneSettings', 'app', 0, 1, 'EditSettings'],
    ],
  },
  ItemEdit: {
    attrs: [],
    seq: [
      ['DesktopSettings', 'app', 1, 1, 'EditSettings'],
      ['TabletSettings', 'app', 0, 1, 'EditSettings'],
      ['PhoneSettings', 'app', 0, 1, 'EditSettings'],
    ],
  },
  ReadDesktop: { attrs: [], seq: [['SourceLocation', 'app', 1, 1, 'UrlSetting'], ['RequestedHeight', 'app', 1, 1, 'Height']] },
  EditSettings: { attrs: [], seq: [['SourceLocation', 'app', 1, 1, 'UrlSetting']] },
  RuleCollection: { attrs: ['Mode'], seq: [['Rule', 'app', 1, INF, { RuleCollection: 'RuleCollection', ItemIs: 'ItemIs' }]] },
  ItemIs: { attrs: ['ItemType', 'FormType'], optional: ['ItemClass', 'IncludeSubClasses'], seq: [] },

  VersionOverrides10: {
    attrs: [],
    seq: [
      ['Description', 'vo', 0, 1, 'ShortRef'],
      ['Requirements', 'vo', 0, 1, 'VoRequirements'],
      ['Hosts', 'vo', 1, 1, 'VoHosts'],
      ['Resources', 'vo', 0, 1, 'Resources'],
      ['VersionOverrides', 'vo11', 0, 1, { VersionOverridesV1_1: 'VersionOverrides11' }],
    ],
  },
  VersionOverrides11: {
    attrs: [],
    seq: [
      ['Description', 'vo', 0, 1, 'ShortRef'],
      ['Requirements', 'vo', 0, 1, 'VoRequirements'],
      ['Hosts', 'vo', 1, 1, 'VoHosts'],
      ['Resources', 'vo', 0, 1, 'Resources'],
    ],
  },
  VoRequirements: { attrs: [], seq: [['Sets', 'bt', 1, 1, 'BtSets']] },
  BtSets: { attrs: [], optional: ['DefaultMinVersion'], seq: [['Set', 'bt', 1, INF, 'AppSet']] },
  VoHosts: { attrs: [], seq: [['Host', 'vo', 1, INF, { MailHost: 'MailHost' }]] },
  MailHost: {
    attrs: [],
    seq: (vo) => (vo === 'vo11'
      ? [
          ['Runtimes', 'vo', 0, 1, 'Runtimes'],
          ['DesktopFormFactor', 'vo', 0, 1, 'FormFactor'],
          ['MobileFormFactor', 'vo', 0, 1, 'FormFactor'],
        ]
      : [['DesktopFormFactor', 'vo', 0, 1, 'FormFactor']]),
  },
  Runtimes: { attrs: [], seq: [['Runtime', 'vo', 1, INF, 'Runtime']] },
  Runtime: { attrs: ['resid'], optional: ['lifetime'], seq: [['Override', 'vo', 0, INF, 'RuntimeOverride']] },
  RuntimeOverride: { attrs: ['type', 'resid'], seq: [] },
  FormFactor: {
    attrs: [],
    seq: (vo) => [
      ['SupportsSharedFolders', 'vo', 0, 1, 'Bool'],
      ['FunctionFile', 'vo', 0, 1, 'UrlRef'],
      ['ExtensionPoint', 'vo', 1, INF, vo === 'vo11'
        ? { MessageReadCommandSurface: 'CommandSurface', MessageComposeCommandSurface: 'CommandSurface', LaunchEvent: 'LaunchEventPoint' }
        : { MessageReadCommandSurface: 'CommandSurface', MessageComposeCommandSurface: 'CommandSurface' }],
    ],
  },
  CommandSurface: { attrs: [], seq: [['OfficeTab', 'vo', 0, INF, 'OfficeTab'], ['CustomTab', 'vo', 0, INF, 'CustomTab']] },
  OfficeTab: { attrs: ['id'], seq: [['Group', 'vo', 1, INF, 'Group']] },
  CustomTab: { attrs: ['id'], seq: [['Group', 'vo', 1, INF, 'Group'], ['Label', 'vo', 1, 1, 'ShortRef']] },
  Group: { attrs: ['id'], seq: [['Label', 'vo', 1, 1, 'ShortRef'], ['Control', 'vo', 1, INF, { Button: 'Button' }]] },
  Button: {
    attrs: ['id'],
    seq: [
      ['Label', 'vo', 1, 1, 'ShortRef'],
      ['Supertip', 'vo', 1, 1, 'Supertip'],
      ['Icon', 'vo', 1, 1, 'Icon'],
      ['Action', 'vo', 1, 1, { ShowTaskpane: 'ShowTaskpane', ExecuteFunction: 'ExecuteFunction' }],
    ],
  },
  Supertip: { attrs: [], seq: [['Title', 'vo', 1, 1, 'ShortRef'], ['Description', 'vo', 1, 1, 'LongRef']] },
  Icon: { attrs: [], seq: [['Image', 'bt', 1, INF, 'ImageRef']] },
  ShowTaskpane: {
    attrs: [],
    seq: (vo) => [
      ['SourceLocation', 'vo', 1, 1, 'UrlRef'],
      ...(vo === 'vo11' ? [['SupportsPinning', 'vo', 0, 1, 'Bool']] : []),
    ],
  },
  ExecuteFunction: { attrs: [], seq: [['FunctionName', 'vo', 1, 1, 'Text']] },
  LaunchEventPoint: { attrs: [], seq: [['LaunchEvents', 'vo', 1, 1, 'LaunchEvents'], ['SourceLocation', 'vo', 1, 1, 'UrlRef']] },
  LaunchEvents: { attrs: [], seq: [['LaunchEvent', 'vo', 1, INF, 'LaunchEvent']] },
  LaunchEvent: { attrs: ['Type', 'FunctionName'], optional: ['SendMode'], seq: [] },
  ShortRef: { attrs: ['resid'], seq: [] },
  LongRef: { attrs: ['resid'], seq: [] },
  UrlRef: { attrs: ['resid'], seq: [] },
  ImageRef: { attrs: ['size', 'resid'], seq: [] },
  Resources: {
    attrs: [],
    seq: [
      ['Images', 'bt', 0, 1, 'Images'],
      ['Urls', 'bt', 0, 1, 'Urls'],
      ['ShortStrings', 'bt', 0, 1, 'ShortStrings'],
      ['LongStrings', 'bt', 0, 1, 'LongStrings'],
    ],
  },
  Images: { attrs: [], seq: [['Image', 'bt', 1, INF, 'UrlResource']] },
  Urls: { attrs: [], seq: [['Url', 'bt', 1, INF, 'UrlResource']] },
  ShortStrings: { attrs: [], seq: [['String', 'bt', 1, INF, 'ShortResource']] },
  LongStrings: { attrs: [], seq: [['String', 'bt', 1, INF, 'LongResource']] },
  UrlResource: { attrs: ['id', 'DefaultValue'], url: ['DefaultValue'], seq: [['Override', 'bt', 0, INF, 'UrlOverride']] },
  ShortResource: { attrs: ['id', 'DefaultValue'], limit: 125, seq: [['Override', 'bt', 0, INF, 'ShortOverride']] },
  LongResource: { attrs: ['id', 'DefaultValue'], limit: 250, seq: [['Override', 'bt', 0, INF, 'LongOverride']] },
};
// Simple-content elements: text, no children, no attributes.
const SIMPLE = {
  Text: (t) => t.length > 0,
  ShortText: (t) => t.length > 0 && t.length <= 125,
  Uuid: (t) => /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(t),
  VersionText: (t) => /^[0-9]{1,5}(\.[0-9]{1,5}){0,3}$/.test(t),
  Culture: (t) => /^[a-zA-Z]{2,3}-[a-zA-Z0-9]{2,8}$/.test(t),
  Bool: (t) => t === 'true' || t === 'false',
  Height: (t) => /^[0-9]+$/.test(t) && Number(t) >= 32 && Number(t) <= 450,
  Permissions: (t) => ['Restricted', 'ReadItem', 'ReadWriteItem', 'ReadWriteMailbox'].includes(t),
  UrlText: (t) => t.length > 0,
};

const where = (el) => `<${el.name}> (riga/line ${el.line})`;

/** Checks `el` against `model` inside VersionOverrides namespace `vo`; pushes problems. */
function checkElement(el, modelName, vo, out, ctx) {
  if (SIMPLE[modelName]) {
    if (el.children.length) out.push(`${where(el)}: non deve avere elementi figli / must not have child elements`);
    const text = el.text.trim();
    if (!SIMPLE[modelName](text)) out.push(`${where(el)}: valore non valido / invalid value "${text}"`);
    if (modelName === 'UrlText') ctx.urls.push({ url: text, el, domain: true });
    return;
  }
  const model = MODELS[modelName];
  if (!model) throw new Error(`manifest check: no model ${modelName}`);
  for (const a of model.attrs) {
    if (el.attrs[a] === undefined || el.attrs[a] === '') out.push(`${where(el)}: manca l'attributo / missing attribute ${a}`);
  }
  const known = new Set([...model.attrs, ...(model.optional ?? [])]);
  for (const a of Object.keys(el.attrs)) {
    if (!known.has(a)) out.push(`${where(el)}: attributo sconosciuto / unknown attribute ${a}`);
  }
  if (model.limit) {
    for (const a of ['DefaultValue', 'Value']) {
      const v = el.attrs[a];
      if (v !== undefined && v.length > model.limit) out.push(`${where(el)}: ${a} supera ${model.limit} caratteri / longer than ${model.limit} characters`);
    }
  }
  for (const a of model.url ?? []) if (el.attrs[a] !== undefined) ctx.urls.push({ url: el.attrs[a], el });
  if (el.text.trim()) out.push(`${where(el)}: testo inatteso / unexpected text`);
  ctx.visit(el, modelName, vo);

  const seq = typeof model.seq === 'function' ? model.seq(vo) : model.seq;
  const nsOf = (key) => NS[key === 'vo' ? vo : key];
  // Walk the children along the sequence: each child must match the current or a later
  // entry; going back means out of order.
  let i = 0;
  const counts = new Array(seq.length).fill(0);
  for (const child of el.children) {
    let j = i;
    while (j < seq.length && !(seq[j][0] === child.name && nsOf(seq[j][1]) === child.ns)) j += 1;
    if (j === seq.length) {
      const earlier = seq.findIndex(([n, k]) => n === child.name && nsOf(k) === child.ns);
      if (earlier >= 0) out.push(`${where(child)}: fuori ordine in / out of order in <${el.name}>: must come before <${seq[i][0]}> (order: ${seq.map((s) => s[0]).join(', ')})`);
      else out.push(`${where(child)}: elemento non ammesso in <${el.name}> / element not allowed in <${el.name}> (namespace ${child.ns})`);
      continue;
    }
    i = j;
    counts[j] += 1;
    const [, , , max, childModel] = seq[j];
    if (counts[j] > max) out.push(`${where(child)}: troppi <${child.name}> in <${el.name}> / too many (max ${max})`);
    let childName = childModel;
    if (typeof childModel === 'object') {
      childName = childModel[child.type];
      if (!childName) {
        out.push(`${where(child)}: xsi:type "${child.type}" non ammesso / not allowed (${Object.keys(childModel).join(', ')})`);
        continue;
      }
    } else if (child.type) {
      out.push(`${where(child)}: xsi:type inatteso / unexpected xsi:type "${child.type}"`);
    }
    const childVo = child.name === 'VersionOverrides' ? (child.ns === NS.vo11 ? 'vo11' : 'vo10') : vo;
    checkElement(child, childName, childVo, out, ctx);
  }
  seq.forEach(([name, , min], k) => {
    if (counts[k] < min) out.push(`${where(el)}: manca <${name}> / missing <${name}>`);
  });
}

const version = (v) => (v ?? '0').split('.').map(Number);
const atLeast = (a, b) => {
  const [x, y] = [version(a), version(b)];
  for (let k = 0; k < Math.max(x.length, y.length); k += 1) {
    if ((x[k] ?? 0) !== (y[k] ?? 0)) return (x[k] ?? 0) > (y[k] ?? 0);
  }
  return true;
};
const isLoopback = (host) => ['127.0.0.1', 'localhost', '[::1]'].includes(host) || host.startsWith('127.');

/**
 * Checks a manifest's text. `publicUrl`: the companion's public URL every URL must be on.
 * Returns the problems found (empty: fine).
 */
export function checkManifest(text, { publicUrl }) {
  const out = [];
  if (/\{\{[^}]*\}\}/.test(text)) out.push('segnaposto non sostituito / placeholder left unreplaced ({{...}})');
  let root;
  try {
    root = parseXml(text);
  } catch (e) {
    return [e.message];
  }
  if (root.name !== 'OfficeApp' || root.ns !== NS.app) return [`radice / root: expected <OfficeApp xmlns="${NS.app}">, got <${root.name}> in ${root.ns}`];
  if (root.type !== 'MailApp') out.push(`<OfficeApp>: xsi:type deve essere "MailApp" / must be "MailApp" (is "${root.type}")`);

  // Facts gathered while walking, per VersionOverrides.
  const vos = { vo10: { refs: [], resources: {}, controls: new Map(), launch: [], runtimes: [], surfaces: [], requirements: null }, vo11: null };
  vos.vo11 = { refs: [], resources: {}, controls: new Map(), launch: [], runtimes: [], surfaces: [], requirements: null };
  const ctx = {
    urls: [],
    visit(el, model, vo) {
      const v = vos[vo];
      const kind = { ShortRef: 'ShortStrings', LongRef: 'LongStrings', UrlRef: 'Urls', ImageRef: 'Images', Runtime: 'Urls', RuntimeOverride: 'Urls' }[model];
      if (kind && el.attrs.resid) {
        v.refs.push({ kind, resid: el.attrs.resid, el });
        if (el.attrs.resid.length > 32) out.push(`${where(el)}: resid più lungo di 32 caratteri / resid longer than 32 characters`);
      }
      if (['UrlResource', 'ShortResource', 'LongResource'].includes(model) && el.attrs.id) {
        const coll = { Image: 'Images', Url: 'Urls' }[el.name] ?? (model === 'ShortResource' ? 'ShortStrings' : 'LongStrings');
        v.resources[coll] ??= new Map();
        if (v.resources[coll].has(el.attrs.id)) out.push(`${where(el)}: id ripetuto / duplicate id ${el.attrs.id}`);
        v.resources[coll].set(el.attrs.id, el);
        if (el.attrs.id.length > 32) out.push(`${where(el)}: id più lungo di 32 caratteri / id longer than 32 characters`);
      }
      if (['Button', 'Group'].includes(model)) {
        const key = `${el.name}:${el.attrs.id}`;
        v.controls.set(key, (v.controls.get(key) ?? 0) + 1);
      }
      if (model === 'Icon') {
        // Outlook's command buttons need these three sizes.
        const sizes = el.children.map((c) => c.attrs.size);
        for (const need of ['16', '32', '80']) if (!sizes.includes(need)) out.push(`${where(el)}: manca l'icona / missing icon size ${need}`);
      }
      if (model === 'CommandSurface') v.surfaces.push(el);
      if (model === 'LaunchEvent') v.launch.push(el);
      if (model === 'Runtime') v.runtimes.push(el);
      if (model === 'BtSets') v.requirements = el;
    },
  };
  checkElement(root, 'MailApp', 'vo10', out, ctx);

  // Locales: Italian first, English second.
  const child = (el, name) => el?.children.find((c) => c.name === name);
  const children = (el, name) => el?.children.filter((c) => c.name === name) ?? [];
  if (child(root, 'DefaultLocale')?.text.trim() !== 'it-IT') out.push('<DefaultLocale> deve essere it-IT / must be it-IT');
  for (const name of ['DisplayName', 'Description']) {
    if (!children(child(root, name), 'Override').some((o) => o.attrs.Locale === 'en-US')) out.push(`<${name}>: manca l'override en-US / no en-US override`);
  }

  // Requirement sets: the base needs Mailbox 1.14 (getAsFileAsync); VersionOverrides may
  // only be as strict or stricter.
  const baseSet = children(child(child(root, 'Requirements'), 'Sets'), 'Set').find((s) => s.attrs.Name === 'Mailbox');
  const baseMin = baseSet?.attrs.MinVersion ?? child(child(root, 'Requirements'), 'Sets')?.attrs.DefaultMinVersion;
  if (!baseSet) out.push('<Requirements>: manca il set Mailbox / no Mailbox requirement set');
  else if (!atLeast(baseMin, '1.14')) out.push(`<Requirements>: Mailbox ${baseMin} < 1.14 (getAsFileAsync)`);
  if (!children(child(root, 'Hosts'), 'Host').some((h) => h.attrs.Name === 'Mailbox')) out.push('<Hosts>: manca / missing <Host Name="Mailbox">');
  const forms = children(child(root, 'FormSettings'), 'Form').map((f) => f.type);
  for (const f of ['ItemRead', 'ItemEdit']) if (!forms.includes(f)) out.push(`<FormSettings>: manca / missing <Form xsi:type="${f}">`);
  const rules = children(child(root, 'Rule'), 'Rule').map((r) => `${r.attrs.ItemType}/${r.attrs.FormType}`);
  for (const r of ['Message/Read', 'Message/Edit']) {
    if (!rules.includes(r) && !rules.includes(r.replace(/Read|Edit/, 'ReadOrEdit'))) out.push(`<Rule>: manca la regola / no rule ItemIs ${r}`);
  }
  if (child(root, 'Permissions')?.text.trim() !== 'ReadWriteMailbox') out.push('<Permissions> deve essere ReadWriteMailbox / must be ReadWriteMailbox');

  const vo10 = child(root, 'VersionOverrides');
  const vo11 = child(vo10, 'VersionOverrides');
  if (!vo10) out.push('manca / missing <VersionOverrides xsi:type="VersionOverridesV1_0">');
  if (!vo11) out.push('manca / missing <VersionOverrides xsi:type="VersionOverridesV1_1"> dentro / inside 1.0');

  for (const [key, present] of [['vo10', vo10], ['vo11', vo11]]) {
    if (!present) continue;
    const v = vos[key];
    const label = key === 'vo10' ? 'VersionOverrides 1.0' : 'VersionOverrides 1.1';
    // Every resid names a resource of the right kind in this VersionOverrides.
    for (const ref of v.refs) {
      if (!v.resources[ref.kind]?.has(ref.resid)) out.push(`${label}: ${where(ref.el)} resid "${ref.resid}" non definito in / not defined in bt:${ref.kind}`);
    }
    for (const [k, n] of v.controls) if (n > 1) out.push(`${label}: id ripetuto / duplicate id ${k}`);
    const vMin = v.requirements?.attrs.DefaultMinVersion ?? '1.0';
    if (baseMin && !atLeast(vMin, baseMin)) out.push(`${label}: requisiti / requirements ${vMin} più deboli del manifest base / weaker than the base manifest's ${baseMin}`);
    const surfaces = v.surfaces.map((s) => s.type);
    for (const s of ['MessageReadCommandSurface', 'MessageComposeCommandSurface']) {
      if (!surfaces.includes(s)) out.push(`${label}: manca / missing <ExtensionPoint xsi:type="${s}">`);
    }
    // Each command surface opens the task pane.
    for (const s of v.surfaces) {
      const actions = [];
      const walk = (e) => { if (e.name === 'Action') actions.push(e); e.children.forEach(walk); };
      walk(s);
      if (!actions.some((a) => a.type === 'ShowTaskpane')) out.push(`${label}: ${s.type} senza / without a ShowTaskpane button`);
    }
  }
  if (vo11) {
    const v = vos.vo11;
    const urlOf = (resid) => v.resources.Urls?.get(resid)?.attrs.DefaultValue;
    const send = v.launch.find((l) => l.attrs.Type === 'OnMessageSend');
    if (!send) out.push('VersionOverrides 1.1: manca / missing <LaunchEvent Type="OnMessageSend">');
    else {
      if (send.attrs.FunctionName !== 'onMessageSendHandler') out.push(`<LaunchEvent>: FunctionName "${send.attrs.FunctionName}" ≠ onMessageSendHandler (Office.actions.associate in addin/outlook/launchevent.js)`);
      if (!['SoftBlock', 'Block'].includes(send.attrs.SendMode)) out.push(`<LaunchEvent>: SendMode deve essere / must be SoftBlock or Block (is ${send.attrs.SendMode})`);
    }
    const runtime = v.runtimes[0];
    if (!runtime) out.push('VersionOverrides 1.1: manca / missing <Runtimes><Runtime> (event-based activation)');
    else {
      if (!(urlOf(runtime.attrs.resid) ?? '').endsWith('/addin/outlook/commands.html')) out.push('<Runtime>: deve puntare a / must point to /addin/outlook/commands.html');
      const js = runtime.children.find((c) => c.name === 'Override' && c.attrs.type === 'javascript');
      if (!js || !(urlOf(js.attrs.resid) ?? '').endsWith('/addin/outlook/launchevent.js')) out.push('<Runtime>: manca / missing <Override type="javascript"> → /addin/outlook/launchevent.js (classic Outlook on Windows)');
      // The LaunchEvent extension point runs in that runtime.
      const point = send ? findParent(root, send, 2) : null;
      const src = point?.children.find((c) => c.name === 'SourceLocation')?.attrs.resid;
      if (send && src !== runtime.attrs.resid) out.push(`<ExtensionPoint xsi:type="LaunchEvent">: SourceLocation "${src}" ≠ Runtime resid "${runtime.attrs.resid}"`);
    }
  }

  // URLs: on the companion's origin; https unless loopback.
  let origin;
  try {
    origin = new URL(publicUrl);
  } catch {
    return [...out, `publicUrl non valido / invalid: ${publicUrl}`];
  }
  if (origin.protocol !== 'https:' && !isLoopback(origin.hostname)) out.push(`publicUrl ${publicUrl}: deve essere https fuori da loopback / must be https outside loopback`);
  // Any attribute or text that looks like a URL, not only the URL-typed ones.
  const all = [];
  const walk = (e) => {
    for (const [a, val] of Object.entries(e.attrs)) if (/^[a-z][a-z0-9+.-]*:\/\//i.test(val)) all.push({ url: val, el: e, attr: a });
    const t = e.text.trim();
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) all.push({ url: t, el: e });
    e.children.forEach(walk);
  };
  walk(root);
  for (const u of ctx.urls) {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(u.url)) out.push(`${where(u.el)}: URL non assoluto / not an absolute URL "${u.url}"`);
  }
  for (const { url, el } of all) {
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      out.push(`${where(el)}: URL non valido / invalid URL ${url}`);
      continue;
    }
    if (parsed.origin !== origin.origin) out.push(`${where(el)}: URL fuori dal companion / URL off the companion's origin: ${url} (atteso / expected ${origin.origin})`);
    else if (parsed.protocol !== 'https:' && !isLoopback(parsed.hostname)) out.push(`${where(el)}: URL non https / not https: ${url}`);
  }
  return out;
}

/** The ancestor `levels` above `target` (1 = its parent). */
function findParent(root, target, levels) {
  const path = [];
  const dfs = (e) => {
    if (e === target) return true;
    for (const c of e.children) {
      path.push(e);
      if (dfs(c)) return true;
      path.pop();
    }
    return false;
  };
  dfs(root);
  return path[path.length - levels] ?? null;
}

/** Every URL of the manifest (attributes and texts that are absolute URLs). */
export function manifestUrls(text) {
  const root = parseXml(text);
  const urls = new Set();
  const walk = (e) => {
    for (const v of Object.values(e.attrs)) if (/^https?:\/\//.test(v)) urls.add(v);
    if (/^https?:\/\//.test(e.text.trim())) urls.add(e.text.trim());
    e.children.forEach(walk);
  };
  walk(root);
  return [...urls];
}

// An allowlist HTML sanitiser over DOMParser for the original message's HTML body.
// What survives: text formatting, lists, tables, links (http, https, mailto: opened outside),
// inline images only as data: URLs. Everything else — scripts, styles, event handlers,
// forms, frames, remote images, unknown attributes — is dropped. The result is shown in a
// sandboxed iframe (no scripts, no same-origin) with its own CSP, so even a miss here runs
// nothing.

const TAGS = new Set([
  'a', 'abbr', 'b', 'blockquote', 'br', 'caption', 'center', 'code', 'dd', 'del', 'div', 'dl', 'dt',
  'em', 'font', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'hr', 'i', 'img', 'ins', 'li', 'ol', 'p', 'pre',
  'q', 's', 'small', 'span', 'strike', 'strong', 'sub', 'sup', 'table', 'tbody', 'td', 'tfoot', 'th',
  'thead', 'tr', 'u', 'ul',
]);
// Elements removed with everything inside them.
const DROP = new Set(['script', 'style', 'noscript', 'template', 'iframe', 'frame', 'frameset', 'object',
  'embed', 'applet', 'form', 'input', 'button', 'select', 'textarea', 'svg', 'math', 'link', 'meta',
  'base', 'head', 'title', 'audio', 'video', 'source', 'canvas']);
const ATTRS = new Set(['align', 'alt', 'colspan', 'rowspan', 'title', 'width', 'height', 'valign', 'dir', 'lang', 'color', 'size', 'face']);
const SAFE_LINK = /^(https?:|mailto:)/i;
const DATA_IMAGE = /^data:image\/(png|gif|jpe?g|webp);base64,[a-z0-9+/=\s]+$/i;

/** Sanitises `html`; returns {html, blockedImages}. */
export function sanitizeHtml(html) {
  const doc = new DOMParser().parseFromString(String(html), 'text/html');
  const out = document.implementation.createHTMLDocument('');
  let blockedImages = 0;

  function copy(node, parent) {
    for (const child of Array.from(node.childNodes)) {
      if (child.nodeType === Node.TEXT_NODE) {
        parent.appendChild(out.createTextNode(child.data));
        continue;
      }
      if (child.nodeType !== Node.ELEMENT_NODE) continue; // comments, processing instructions
      const tag = child.localName;
      if (DROP.has(tag)) continue;
      if (!TAGS.has(tag)) {
        copy(child, parent); // unknown wrapper (html, body, custom tags): keep its text
        continue;
      }
      if (tag === 'img') {
        const src = child.getAttribute('src') ?? '';
        if (!DATA_IMAGE.test(src)) {
          blockedImages += 1;
          continue;
        }
      }
      const el = out.createElement(tag);
      for (const { name, value } of Array.from(child.attributes)) {
        if (ATTRS.has(name)) el.setAttribute(name, value);
      }
      if (tag === 'img') el.setAttribute('src', child.getAttribute('src'));
      if (tag === 'a') {
        const href = (child.getAttribute('href') ?? '').trim();
        if (SAFE_LINK.test(href)) {
          el.setAttribute('href', href);
          el.setAttribute('target', '_blank');
          el.setAttribute('rel', 'noopener noreferrer');
        }
      }
      parent.appendChild(el);
      copy(child, el);
    }
  }

  copy(doc.body ?? doc.documentElement, out.body);
  return { html: out.body.innerHTML, blockedImages };
}

/**
 * The srcdoc of the sandboxed iframe that shows sanitised HTML. Its own CSP allows only
 * inline data: images and the one stylesheet `cssUrl` (the pane's CSP forbids inline
 * styles, and a srcdoc frame inherits it).
 */
export function frameDocument(safeHtml, cssUrl) {
  const css = cssUrl ? String(cssUrl).replace(/"/g, '%22') : '';
  const origin = css ? new URL(css).origin : "'none'";
  return '<!doctype html><html><head><meta charset="utf-8">'
    + `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src ${origin}">`
    + (css ? `<link rel="stylesheet" href="${css}">` : '')
    + '</head><body>' + safeHtml + '</body></html>';
}

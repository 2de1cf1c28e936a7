// Model output -> safe DOM. Model text is untrusted: marked turns markdown into HTML with
// every raw HTML tag in the text escaped (shown as text, never parsed), then DOMPurify removes
// anything that could still run or fetch: only http(s) links survive (opened in a new tab with
// rel="noopener noreferrer"), only inline data: images are shown. The page's CSP blocks inline
// script and foreign requests as a second line.
import { Marked } from "/static/vendor/marked.esm.js";
import DOMPurify from "/static/vendor/purify.es.mjs";

const SAFE_IMAGE = /^data:image\/(?:png|jpe?g|gif|webp);base64,[a-z0-9+/=\s]+$/i;
const SAFE_LINK = /^https?:\/\//i;

export function escapeHtml(text) {
  return String(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

const marked = new Marked({
  gfm: true,
  async: false,
  renderer: {
    // Raw HTML in model output is shown as the text it is.
    html({ text }) {
      return escapeHtml(text);
    },
    // A picture is fetched only if it is inline data: no tracking pixels, no remote loads.
    image({ href, text }) {
      if (SAFE_IMAGE.test(href || "")) {
        return `<img src="${escapeHtml(href)}" alt="${escapeHtml(text)}">`;
      }
      return `<span class="image-ref">[image${text ? ": " + escapeHtml(text) : ""}]</span>`;
    },
  },
});

const purifier = DOMPurify(window);
purifier.addHook("afterSanitizeAttributes", (node) => {
  if (node.nodeName === "A") {
    const href = node.getAttribute("href") || "";
    if (SAFE_LINK.test(href)) {
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
    } else {
      node.removeAttribute("href");
    }
  } else if (node.nodeName === "IMG" && !SAFE_IMAGE.test(node.getAttribute("src") || "")) {
    node.remove();
  }
});

const PURIFY = {
  ALLOWED_URI_REGEXP: /^(?:https?:|data:image\/(?:png|jpe?g|gif|webp);base64,)/i,
  FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select", "svg", "math"],
  FORBID_ATTR: ["style", "id", "name"],
  ALLOW_DATA_ATTR: false,
};

const PURIFY_DOM = { ...PURIFY, RETURN_DOM_FRAGMENT: true };

/** Markdown (or marked's tokens) -> sanitized nodes, code blocks labelled, with a copy button. */
function safeFragment(html) {
  const fragment = purifier.sanitize(html, PURIFY_DOM);
  for (const pre of fragment.querySelectorAll("pre")) decorateCode(pre);
  return fragment;
}

/** Render markdown into ``el``. */
export function renderMarkdown(el, text) {
  streamed.delete(el);
  el.replaceChildren(safeFragment(marked.parse(text || "")));
}

// For each element rendered by renderStreaming: the text it showed, and its top-level blocks,
// each with the markdown source it came from and the DOM nodes it made.
const streamed = new WeakMap();

/**
 * Render a growing answer. The text is split into top-level blocks (paragraphs, lists, code
 * blocks...); while the text only grows, the blocks before the last two are final, so only
 * the text from there on is parsed again and only the blocks whose source changed are rendered
 * again (usually just the last). A frame then costs in proportion to the last block, not to the
 * whole answer. The answer is rendered whole once it is complete (renderMarkdown), which
 * settles the rare construct that spans blocks (a reference link defined further down).
 */
export function renderStreaming(el, text) {
  text ||= "";
  const before = streamed.get(el) || { source: "", blocks: [] };
  const old = before.blocks;
  let settled = 0;
  let offset = 0;
  if (old.length && text.startsWith(before.source)) {
    settled = Math.max(0, old.length - 2);
    for (let i = 0; i < settled; i++) offset += old[i].raw.length;
  } else {
    el.replaceChildren();
    old.length = 0;
  }
  const tokens = marked.lexer(text.slice(offset));
  let same = 0;
  while (settled + same < old.length && same < tokens.length && tokens[same].raw === old[settled + same].raw) {
    same++;
  }
  for (const block of old.slice(settled + same)) for (const node of block.nodes) node.remove();
  const blocks = old.slice(0, settled + same);
  for (const token of tokens.slice(same)) {
    const one = [token];
    one.links = tokens.links;
    const fragment = safeFragment(marked.parser(one));
    const nodes = [...fragment.childNodes];
    el.append(fragment);
    blocks.push({ raw: token.raw, nodes });
  }
  streamed.set(el, { source: text, blocks });
}

function decorateCode(pre) {
  const code = pre.querySelector("code");
  if (!code) return;
  const match = /(?:^|\s)language-([\w+#.-]{1,30})/.exec(code.className);
  const bar = document.createElement("div");
  bar.className = "code-bar";
  const label = document.createElement("span");
  label.className = "code-lang";
  label.textContent = match ? match[1] : "text";
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "copy-code";
  copy.textContent = "Copy";
  copy.setAttribute("aria-label", `Copy ${label.textContent} code`);
  bar.append(label, copy);
  pre.prepend(bar);
}

/** Copy text to the clipboard; false when the browser refused. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Not a secure context (a LAN address over http): the old way still works.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

let highlighter = null;

/** Syntax-highlight the finished code blocks in ``el`` (highlight.js is loaded on first use). */
export async function highlightIn(el) {
  const blocks = [...el.querySelectorAll("pre code[class*='language-']:not(.hljs)")];
  if (!blocks.length) return;
  highlighter ??= import("/static/vendor/highlight.min.js").then((m) => m.default);
  let hljs;
  try {
    hljs = await highlighter;
  } catch {
    return; // plain code blocks are still fine
  }
  for (const code of blocks) {
    const lang = /language-([\w+#.-]+)/.exec(code.className)?.[1];
    if (lang && hljs.getLanguage(lang) && code.isConnected) hljs.highlightElement(code);
  }
}

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

/** Markdown -> sanitized HTML string. */
export function markdownToHtml(text) {
  return purifier.sanitize(marked.parse(text || ""), PURIFY);
}

/** Render markdown into ``el`` and give each code block a language label and a copy button. */
export function renderMarkdown(el, text) {
  streamed.delete(el);
  el.innerHTML = markdownToHtml(text);
  for (const pre of el.querySelectorAll("pre")) decorateCode(pre);
}

// For each element rendered by renderStreaming: its top-level blocks, each with the markdown
// source it came from and the DOM nodes it made.
const streamed = new WeakMap();

/**
 * Render a growing answer: the text is split into top-level blocks (paragraphs, lists, code
 * blocks...) and only the blocks from the first one whose source changed are rendered again,
 * usually just the last. Re-rendering the whole answer on every frame costs time (and layout)
 * in proportion to its length; this costs in proportion to the last block.
 */
export function renderStreaming(el, text) {
  const tokens = marked.lexer(text || "");
  const before = streamed.get(el) || [];
  let keep = 0;
  while (keep < before.length && keep < tokens.length && tokens[keep].raw === before[keep].raw) {
    keep++;
  }
  if (!before.length) el.replaceChildren();
  for (const block of before.slice(keep)) for (const node of block.nodes) node.remove();
  const blocks = before.slice(0, keep);
  for (const token of tokens.slice(keep)) {
    const one = [token];
    one.links = tokens.links;
    const template = document.createElement("template");
    template.innerHTML = purifier.sanitize(marked.parser(one), PURIFY);
    for (const pre of template.content.querySelectorAll("pre")) decorateCode(pre);
    const nodes = [...template.content.childNodes];
    el.append(template.content);
    blocks.push({ raw: token.raw, nodes });
  }
  streamed.set(el, blocks);
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

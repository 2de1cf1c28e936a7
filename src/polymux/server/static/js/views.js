// One message on the page: the DOM of a question or an answer, drawn from its stored form.
// Text goes in as text (textContent); only render.js turns model output into HTML.
import { renderMarkdown, renderStreaming } from "./render.js";

export const SAFE_DATA_IMAGE = /^data:image\/(?:png|jpe?g|gif|webp);base64,/i;

/** A new element; its text, if any, set as text (never parsed as HTML). */
export function h(tag, className = "", text = null) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function messageShell(role, index, label, ...actions) {
  const article = h("article", `msg ${role}`);
  article.dataset.index = index;
  article.setAttribute("aria-label", label);
  const bar = h("div", "actions");
  bar.append(...actions);
  return [article, bar];
}

export function userView(m, index) {
  const [article, actions] = messageShell("user", index, "You", button("Copy", "copy"), button("Edit", "edit"));
  const body = h("div", "bubble");
  if (m.mode === "image") body.append(h("span", "tag", "image prompt"), " ");
  body.append(h("span", "text", m.content));
  const pics = (m.images || []).filter((u) => SAFE_DATA_IMAGE.test(u));
  if (pics.length) {
    const row = h("div", "thumbs");
    for (const url of pics) {
      const img = h("img");
      img.src = url;
      img.alt = "attached image";
      row.append(img);
    }
    body.append(row);
  }
  article.append(body, actions);
  return article;
}

export function assistantView(m, index) {
  const [article, actions] = messageShell(
    "assistant", index, "Answer", ...(m.kind === "images" ? [] : [button("Copy", "copy")]),
    button("Regenerate", "regenerate"),
  );
  const reasoning = h("details", "reasoning");
  reasoning.hidden = true;
  const summary = h("summary", "", "Reasoning");
  const reasoningText = h("div", "reasoning-text");
  reasoning.append(summary, reasoningText);
  // Opened by the person: stays open when the answer is drawn again (at its end, on reload).
  reasoning.open = Boolean(m.reasoningOpen);
  reasoning.addEventListener("toggle", () => (m.reasoningOpen = reasoning.open));
  const tools = h("div", "tool-calls");
  tools.hidden = true;
  const md = h("div", "md");
  const images = h("div", "generated");
  const error = h("p", "msg-error");
  error.hidden = true;
  const meta = h("p", "meta");
  article.append(reasoning, tools, md, images, error, meta, actions);
  article.view = { reasoning, summary, reasoningText, tools, md, images, error, meta, shown: null };
  updateAssistant(article, m, false);
  return article;
}

function metaText(m) {
  const meta = m.meta || {};
  const parts = [];
  if (meta.model) parts.push(meta.model);
  if (meta.provider) parts.push(`via ${meta.provider}`);
  if (meta.promptTokens != null || meta.completionTokens != null) {
    parts.push(`${meta.promptTokens ?? "?"} → ${meta.completionTokens ?? "?"} tokens`);
  }
  if (meta.ttftMs != null) parts.push(`first token ${seconds(meta.ttftMs)}`);
  if (meta.totalMs != null) parts.push(`${seconds(meta.totalMs)} total`);
  if (meta.stopped) parts.push("stopped");
  return parts.join(" · ");
}

/** Bring an answer's view up to date with its message; cheap when little changed. */
export function updateAssistant(article, m, streaming) {
  const v = article.view;
  if (m.reasoning) {
    v.reasoning.hidden = false;
    v.summary.textContent = streaming && !m.content ? "Reasoning…" : "Reasoning";
    if (v.reasoningText.textContent !== m.reasoning) v.reasoningText.textContent = m.reasoning;
  }
  if (m.toolCalls?.length) {
    v.tools.hidden = false;
    v.tools.replaceChildren(
      ...m.toolCalls.map((t) => {
        const box = h("div", "tool-call");
        box.append(h("div", "tool-name", `Tool call: ${t.name || "(unnamed)"}`), h("pre", "", t.arguments || ""));
        return box;
      }),
    );
  }
  if (v.shown !== m.content) {
    (streaming ? renderStreaming : renderMarkdown)(v.md, m.content);
    v.shown = m.content;
  }
  if (m.kind === "images" && v.images.childElementCount !== (m.images || []).length) {
    v.images.replaceChildren(...(m.images || []).map(imageFigure));
  }
  const err = m.meta?.error;
  v.error.hidden = !err;
  v.error.textContent = err || "";
  v.meta.textContent = metaText(m);
}

function imageFigure(url, i) {
  const figure = h("figure");
  const link = h("a", "btn", "Download");
  if (SAFE_DATA_IMAGE.test(url) || isSameOrigin(url)) {
    const img = h("img");
    img.src = url;
    img.alt = `generated image ${i + 1}`;
    figure.append(img);
    link.href = url;
    const ext = /^data:image\/(\w+)/.exec(url)?.[1]?.replace("jpeg", "jpg") || "png";
    link.download = `polymux-image-${i + 1}.${ext}`;
  } else if (/^https?:\/\//i.test(url)) {
    // Another host's URL: the page fetches nothing from elsewhere; the person may open it.
    link.href = url;
    link.textContent = "Open the image (on the provider's site)";
    link.target = "_blank";
    link.rel = "noopener noreferrer";
  }
  figure.append(link);
  return figure;
}

function isSameOrigin(url) {
  try {
    return new URL(url, location.href).origin === location.origin;
  } catch {
    return false;
  }
}

export function button(label, action, extra = {}) {
  const b = h("button", "link-btn", label);
  b.type = "button";
  b.dataset.action = action;
  for (const [k, v] of Object.entries(extra)) b.setAttribute(k, v);
  return b;
}

function seconds(ms) {
  return ms == null ? "" : `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

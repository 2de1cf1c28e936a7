// The chat page: conversations, the composer, streaming answers, images, settings.
// Everything the model or an imported file says reaches the DOM as text (textContent) or
// through render.js's sanitizing markdown renderer, never as raw HTML.
import { auth, describeError, GatewayError, getJSON, streamChat } from "./api.js";
import { copyText, highlightIn } from "./render.js";
import * as store from "./store.js";
import { assistantView, button, h, SAFE_DATA_IMAGE, updateAssistant, userView } from "./views.js";

// This gateway's request limits (server/limits.py), put in the page by the gateway: images
// are checked against them before anything is uploaded.
const LIMITS = (() => {
  try {
    return JSON.parse(document.querySelector("meta[name=polymux-limits]")?.content || "{}");
  } catch {
    return {};
  }
})();
const MAX_IMAGE_BYTES = LIMITS.max_image_bytes || 10 * 1024 * 1024;
const MAX_IMAGES = LIMITS.max_images || 20;
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

const $ = (id) => document.getElementById(id);
const el = {
  app: document.querySelector(".app"),
  sidebar: $("sidebar"),
  openSidebar: $("open-sidebar"),
  closeSidebar: $("close-sidebar"),
  newChat: $("new-chat"),
  convSearch: $("conv-search"),
  convList: $("conv-list"),
  exportBtn: $("export-btn"),
  importBtn: $("import-btn"),
  importFile: $("import-file"),
  settingsBtn: $("settings-btn"),
  modelSearch: $("model-search"),
  modelSelect: $("model-select"),
  messages: $("messages"),
  empty: $("empty"),
  alert: $("alert"),
  composer: $("composer"),
  editing: $("editing"),
  cancelEdit: $("cancel-edit"),
  attachments: $("attachments"),
  attachBtn: $("attach-btn"),
  attachFile: $("attach-file"),
  prompt: $("prompt"),
  send: $("send-btn"),
  stop: $("stop-btn"),
  status: $("status"),
  settingsDialog: $("settings-dialog"),
  keyDialog: $("key-dialog"),
  keyInput: $("key-input"),
  keyReason: $("key-reason"),
  keyState: $("key-state"),
  renameDialog: $("rename-dialog"),
  renameInput: $("rename-input"),
};

const state = {
  conversations: [],
  current: null,
  models: [],
  attachments: [],
  editing: null,
  controller: null,
};

// -- settings (localStorage) ------------------------------------------------------------------
const SETTINGS = "polymux.settings";
const MODEL = "polymux.model";
const CURRENT = "polymux.current";

function settings() {
  try {
    return { system: "", temperature: "", maxTokens: "", ...JSON.parse(localStorage.getItem(SETTINGS) || "{}") };
  } catch {
    return { system: "", temperature: "", maxTokens: "" };
  }
}

function mode() {
  return document.querySelector("input[name=mode]:checked").value;
}

// -- small UI helpers ---------------------------------------------------------------------------
function announce(text) {
  el.status.textContent = "";
  requestAnimationFrame(() => (el.status.textContent = text));
}

let alertTimer = null;
function showAlert(text, err) {
  clearInterval(alertTimer);
  el.alert.hidden = false;
  el.alert.textContent = text;
  if (err instanceof GatewayError && err.status === 429 && err.retryAfter) {
    let left = err.retryAfter;
    alertTimer = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        clearInterval(alertTimer);
        el.alert.textContent = "The rate limit has passed: you can send again.";
      } else {
        el.alert.textContent = text.replace(/try again in \d+ s/, `try again in ${left} s`);
      }
    }, 1000);
  }
}

function clearAlert() {
  clearInterval(alertTimer);
  el.alert.hidden = true;
  el.alert.textContent = "";
}

function setBusy(busy) {
  el.send.hidden = busy;
  el.stop.hidden = !busy;
  el.messages.setAttribute("aria-busy", busy ? "true" : "false");
  for (const b of el.messages.querySelectorAll("[data-action=edit],[data-action=regenerate]")) {
    b.disabled = busy;
  }
  // The button that had focus (Send or Stop) was just hidden: keep the keyboard in the box.
  if (document.activeElement === document.body || document.activeElement?.hidden) {
    el.prompt.focus();
  }
}

function nearBottom() {
  const m = el.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
}

function toBottom() {
  el.messages.scrollTop = el.messages.scrollHeight;
}

// -- messages -----------------------------------------------------------------------------------
function renderConversation() {
  const conv = state.current;
  const views = (conv?.messages || []).map((m, i) =>
    m.role === "user" ? userView(m, i) : assistantView(m, i),
  );
  el.messages.replaceChildren(...(views.length ? views : [el.empty]));
  const last = views.at(-1);
  for (const b of el.messages.querySelectorAll("[data-action=regenerate]")) {
    b.hidden = b.closest("article") !== last;
  }
  highlightIn(el.messages);
  toBottom();
}

// -- conversations ------------------------------------------------------------------------------
async function refreshList() {
  state.conversations = await store.listConversations();
  renderList();
}

function matches(conv, q) {
  if (!q) return true;
  if (conv.title.toLowerCase().includes(q)) return true;
  return conv.messages.some((m) => typeof m.content === "string" && m.content.toLowerCase().includes(q));
}

function renderList() {
  const q = el.convSearch.value.trim().toLowerCase();
  const items = state.conversations.filter((c) => matches(c, q)).map((c) => {
    const li = h("li", "conv");
    li.dataset.id = c.id;
    const open = button(c.title, "open");
    open.className = "conv-open";
    if (state.current?.id === c.id) open.setAttribute("aria-current", "true");
    const rename = button("✎", "rename", { "aria-label": `Rename ${c.title}`, title: "Rename" });
    const del = button("×", "delete", { "aria-label": `Delete ${c.title}`, title: "Delete" });
    li.append(open, rename, del);
    return li;
  });
  if (!items.length) {
    items.push(h("li", "conv-none", q ? "No conversation matches." : "No conversations yet."));
  }
  el.convList.replaceChildren(...items);
}

function openConversation(conv) {
  if (state.controller) return;
  state.current = conv;
  if (conv) localStorage.setItem(CURRENT, conv.id);
  else localStorage.removeItem(CURRENT);
  cancelEdit();
  renderConversation();
  renderList();
  closeSidebar();
}

async function persist(conv) {
  conv.updated = Date.now();
  await store.saveConversation(conv);
  await refreshList();
}

function newConversation(firstText) {
  const now = Date.now();
  return {
    id: store.newId(),
    title: (firstText || "New conversation").replace(/\s+/g, " ").trim().slice(0, 60) || "New conversation",
    created: now,
    updated: now,
    messages: [],
  };
}

// -- the model picker ---------------------------------------------------------------------------
async function loadModels() {
  try {
    const data = await getJSON("/v1/models");
    state.models = Array.isArray(data?.data) ? data.data.filter((m) => typeof m?.id === "string") : [];
  } catch (err) {
    state.models = [];
    showAlert(`Could not list the models. ${describeError(err)}`, err);
  }
  fillModels();
}

function fillModels() {
  const q = el.modelSearch.value.trim().toLowerCase();
  const wanted = el.modelSelect.value || localStorage.getItem(MODEL) || "";
  const shown = state.models.filter((m) => !q || m.id.toLowerCase().includes(q));
  const groups = new Map();
  for (const m of shown) {
    // Aliases and fallback groups are the gateway's own names: listed first.
    const group = m.owned_by === "polymux" ? "Aliases and fallback groups" : m.provider || m.owned_by || "Models";
    if (!groups.has(group)) groups.set(group, []);
    groups.get(group).push(m);
  }
  const nodes = [];
  if (!state.models.length) nodes.push(new Option("gateway default", ""));
  for (const [name, list] of groups) {
    const og = document.createElement("optgroup");
    og.label = name;
    og.append(...list.map((m) => new Option(m.id, m.id)));
    nodes.push(og);
  }
  if (state.models.length && !shown.length) nodes.push(new Option("no model matches", "", false, false));
  el.modelSelect.replaceChildren(...nodes);
  const ids = new Set(shown.map((m) => m.id));
  if (ids.has(wanted)) el.modelSelect.value = wanted;
}

function model() {
  return el.modelSelect.value;
}

// -- attachments --------------------------------------------------------------------------------
function megabytes(bytes) {
  return bytes >= 1024 * 1024 ? `${+(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
}

function readAsDataURL(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

async function addFiles(files) {
  const refused = [];
  for (const file of files) {
    if (!IMAGE_TYPES.has(file.type)) {
      refused.push(`${file.name || "that file"} is not a PNG, JPEG, GIF or WebP image`);
    } else if (file.size > MAX_IMAGE_BYTES) {
      refused.push(`${file.name} is ${megabytes(file.size)}; this gateway accepts images up to ${megabytes(MAX_IMAGE_BYTES)}`);
    } else if (state.attachments.length >= MAX_IMAGES) {
      refused.push(`at most ${MAX_IMAGES} images per message`);
      break;
    } else {
      state.attachments.push({ name: file.name || "pasted image", url: await readAsDataURL(file) });
    }
  }
  if (refused.length) showAlert(`Not attached: ${refused.join("; ")}.`);
  renderAttachments();
}

function renderAttachments() {
  el.attachments.replaceChildren(
    ...state.attachments.map((a, i) => {
      const li = h("li");
      const img = h("img");
      img.src = a.url;
      img.alt = "";
      const name = h("span", "", a.name);
      const remove = button("×", "remove-attachment", { "aria-label": `Remove ${a.name}` });
      remove.dataset.index = i;
      li.append(img, name, remove);
      return li;
    }),
  );
}

// -- sending --------------------------------------------------------------------------------------
function wireMessages(messages) {
  const out = [];
  const system = settings().system.trim();
  if (system) out.push({ role: "system", content: system });
  for (const m of messages) {
    if (m.mode === "image" || m.kind === "images") continue; // image mode is not chat history
    if (m.role === "user") {
      const pics = (m.images || []).filter((u) => SAFE_DATA_IMAGE.test(u));
      if (!pics.length) out.push({ role: "user", content: m.content });
      else {
        const parts = m.content ? [{ type: "text", text: m.content }] : [];
        for (const url of pics) parts.push({ type: "image_url", image_url: { url } });
        out.push({ role: "user", content: parts });
      }
    } else if (m.role === "assistant" && m.content) {
      out.push({ role: "assistant", content: m.content });
    }
  }
  return out;
}

function chatBody(conv) {
  const s = settings();
  const body = {
    model: model(),
    messages: wireMessages(conv.messages.slice(0, -1)),
    stream: true,
    stream_options: { include_usage: true },
  };
  if (s.temperature !== "" && s.temperature != null) body.temperature = Number(s.temperature);
  if (s.maxTokens !== "" && s.maxTokens != null) body.max_tokens = Number(s.maxTokens);
  return body;
}

let submitting = false;

async function submit() {
  // A second Enter while the first one is still being saved must not send twice.
  if (state.controller || submitting) return;
  submitting = true;
  try {
    await send();
  } finally {
    submitting = false;
  }
}

async function send() {
  const text = el.prompt.value.trim();
  if (!text && !state.attachments.length) return;
  clearAlert();
  const imageMode = mode() === "image";
  if (imageMode && !text) return showAlert("Describe the image to generate.");
  let conv = state.current;
  if (!conv) {
    conv = newConversation(text || "Image");
    state.current = conv;
    localStorage.setItem(CURRENT, conv.id);
  }
  if (state.editing != null) conv.messages = conv.messages.slice(0, state.editing);
  const message = { role: "user", content: text };
  if (imageMode) message.mode = "image";
  else if (state.attachments.length) message.images = state.attachments.map((a) => a.url);
  conv.messages.push(message);
  el.prompt.value = "";
  autosize();
  state.attachments = [];
  renderAttachments();
  cancelEdit();
  await persist(conv);
  renderConversation();
  await (imageMode ? paint(conv) : answer(conv));
}

async function answer(conv) {
  const m = { role: "assistant", content: "", reasoning: "", toolCalls: [], meta: { model: model() } };
  conv.messages.push(m);
  const body = chatBody(conv);
  const view = assistantView(m, conv.messages.length - 1);
  el.empty.remove();
  el.messages.append(view);
  toBottom();
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  announce("Answering…");
  performance.mark("polymux:stream-start");
  const started = performance.now();
  let first = null;
  let frame = 0;
  const paintSoon = () => {
    frame ||= requestAnimationFrame(() => {
      frame = 0;
      const stick = nearBottom();
      updateAssistant(view, m, true);
      if (stick) toBottom();
    });
  };
  try {
    for await (const chunk of streamChat(body, controller.signal)) {
      if (chunk.model) m.meta.model = chunk.model;
      if (chunk.provider) m.meta.provider = chunk.provider;
      if (chunk.usage) {
        m.meta.promptTokens = chunk.usage.prompt_tokens;
        m.meta.completionTokens = chunk.usage.completion_tokens;
      }
      const choice = (chunk.choices || []).find((c) => (c.index ?? 0) === 0);
      const delta = choice?.delta;
      if (delta) {
        if (delta.content || delta.reasoning_content) first ??= performance.now();
        if (delta.content) m.content += delta.content;
        if (delta.reasoning_content) m.reasoning += delta.reasoning_content;
        for (const t of delta.tool_calls || []) {
          const slot = (m.toolCalls[t.index ?? 0] ??= { id: "", name: "", arguments: "" });
          if (t.id) slot.id = t.id;
          if (t.function?.name) slot.name += t.function.name;
          if (t.function?.arguments) slot.arguments += t.function.arguments;
        }
        if (delta.tool_calls) first ??= performance.now();
      }
      paintSoon();
    }
    announce("Answer complete.");
  } catch (err) {
    if (err.name === "AbortError") {
      m.meta.stopped = true;
      announce("Stopped.");
    } else {
      m.meta.error = describeError(err);
      showAlert(m.meta.error, err);
    }
  } finally {
    cancelAnimationFrame(frame);
    performance.mark("polymux:stream-end"); // User Timing marks: for devtools and the benchmark
    m.toolCalls = m.toolCalls.filter(Boolean);
    m.meta.ttftMs = first == null ? null : first - started;
    m.meta.totalMs = performance.now() - started;
    state.controller = null;
    setBusy(false);
    await persist(conv);
    if (state.current === conv) renderConversation();
  }
}

function imageType(b64) {
  if (b64.startsWith("/9j/")) return "jpeg";
  if (b64.startsWith("R0lG")) return "gif";
  if (b64.startsWith("UklG")) return "webp";
  return "png";
}

async function paint(conv) {
  const prompt = conv.messages.at(-1).content;
  const m = { role: "assistant", kind: "images", content: "", images: [], meta: { model: model() } };
  conv.messages.push(m);
  const view = assistantView(m, conv.messages.length - 1);
  view.view.meta.textContent = "Generating the image…";
  el.messages.append(view);
  toBottom();
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  const started = performance.now();
  try {
    const body = { prompt, n: 1, response_format: "b64_json" };
    if (model()) body.model = model();
    const res = await getJSON("/v1/images/generations", { method: "POST", body, signal: controller.signal });
    if (res.provider) m.meta.provider = res.provider;
    for (const item of res.data || []) {
      if (typeof item.b64_json === "string") {
        m.images.push(`data:image/${imageType(item.b64_json)};base64,${item.b64_json}`);
      } else if (typeof item.url === "string") {
        m.images.push(item.url);
      }
      if (item.revised_prompt) m.content = String(item.revised_prompt);
    }
    announce(`${m.images.length} image${m.images.length === 1 ? "" : "s"} generated.`);
  } catch (err) {
    if (err.name === "AbortError") m.meta.stopped = true;
    else {
      m.meta.error = describeError(err);
      showAlert(m.meta.error, err);
    }
  } finally {
    m.meta.totalMs = performance.now() - started;
    state.controller = null;
    setBusy(false);
    await persist(conv);
    if (state.current === conv) renderConversation();
  }
}

function stop() {
  state.controller?.abort();
}

async function regenerate() {
  const conv = state.current;
  if (!conv || state.controller || conv.messages.at(-1)?.role !== "assistant") return;
  clearAlert();
  conv.messages.pop();
  renderConversation();
  await (conv.messages.at(-1)?.mode === "image" ? paint(conv) : answer(conv));
}

function startEdit(index) {
  const m = state.current?.messages[index];
  if (!m || state.controller) return;
  state.editing = index;
  el.prompt.value = m.content;
  state.attachments = (m.images || []).map((url, i) => ({ name: `image ${i + 1}`, url }));
  for (const r of document.querySelectorAll("input[name=mode]")) r.checked = r.value === (m.mode || "chat");
  applyMode();
  renderAttachments();
  el.editing.hidden = false;
  autosize();
  el.prompt.focus();
}

function cancelEdit() {
  if (state.editing == null) return;
  state.editing = null;
  el.editing.hidden = true;
}

// -- dialogs ----------------------------------------------------------------------------------------
let asking = null;
auth.ask = (reason) => {
  asking ??= new Promise((resolve) => {
    el.keyReason.textContent = reason ? `The gateway says: ${reason}` : "";
    el.keyInput.value = "";
    el.keyDialog.returnValue = "";
    el.keyDialog.showModal();
    el.keyDialog.addEventListener(
      "close",
      () => {
        asking = null;
        resolve(el.keyDialog.returnValue === "ok" ? el.keyInput.value.trim() : "");
      },
      { once: true },
    );
  });
  return asking;
};

function showKeyState() {
  const key = auth.key;
  el.keyState.textContent = key
    ? `Signed in with a gateway key ending in …${key.slice(-4)}.`
    : "No gateway key stored (none is needed while the gateway has no keys).";
  $("sign-out").disabled = !key;
}

function openSettings() {
  const s = settings();
  $("set-system").value = s.system;
  $("set-temperature").value = s.temperature;
  $("set-max-tokens").value = s.maxTokens;
  showKeyState();
  el.settingsDialog.returnValue = "";
  el.settingsDialog.showModal();
}

el.settingsDialog.addEventListener("close", () => {
  if (el.settingsDialog.returnValue !== "save") return;
  const temperature = $("set-temperature").value;
  const maxTokens = $("set-max-tokens").value;
  localStorage.setItem(
    SETTINGS,
    JSON.stringify({ system: $("set-system").value, temperature, maxTokens }),
  );
  announce("Settings saved.");
});

$("sign-out").addEventListener("click", () => {
  auth.key = "";
  showKeyState();
  announce("Signed out: the key is forgotten.");
});

$("sign-in").addEventListener("click", async () => {
  const key = await auth.ask("");
  if (key) auth.key = key;
  showKeyState();
  if (key) loadModels();
});

function rename(conv) {
  el.renameInput.value = conv.title;
  el.renameDialog.returnValue = "";
  el.renameDialog.showModal();
  el.renameDialog.addEventListener(
    "close",
    async () => {
      const title = el.renameInput.value.trim();
      if (el.renameDialog.returnValue !== "ok" || !title) return;
      conv.title = title.slice(0, 200);
      await persist(conv);
    },
    { once: true },
  );
}

// -- export / import ---------------------------------------------------------------------------------
async function exportConversations() {
  const data = await store.exportAll();
  const blob = new Blob([JSON.stringify(data, null, 1)], { type: "application/json" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `polymux-conversations-${new Date().toISOString().slice(0, 10)}.json`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  announce(`Exported ${data.conversations.length} conversations.`);
}

async function importConversations(file) {
  try {
    const count = await store.importAll(JSON.parse(await file.text()));
    await refreshList();
    announce(`Imported ${count} conversations.`);
    if (!state.current && state.conversations.length) openConversation(state.conversations[0]);
  } catch (err) {
    showAlert(`Import failed: ${err.message}`);
  }
}

// -- layout -------------------------------------------------------------------------------------------
function closeSidebar() {
  el.app.classList.remove("sidebar-open");
  el.openSidebar.setAttribute("aria-expanded", "false");
}

function autosize() {
  el.prompt.style.height = "auto";
  el.prompt.style.height = `${Math.min(el.prompt.scrollHeight, 240)}px`;
}

// -- events ---------------------------------------------------------------------------------------------
el.composer.addEventListener("submit", (e) => {
  e.preventDefault();
  submit();
});
el.prompt.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  }
});
el.prompt.addEventListener("input", autosize);
el.prompt.addEventListener("paste", (e) => {
  const files = [...(e.clipboardData?.files || [])];
  if (files.length) {
    e.preventDefault();
    addFiles(files);
  }
});
el.stop.addEventListener("click", stop);
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape" || document.querySelector("dialog[open]")) return;
  if (state.controller) stop();
  else if (state.editing != null) cancelEdit();
  else closeSidebar();
});
el.attachBtn.addEventListener("click", () => el.attachFile.click());
el.attachFile.addEventListener("change", () => {
  addFiles([...el.attachFile.files]);
  el.attachFile.value = "";
});
el.attachments.addEventListener("click", (e) => {
  const b = e.target.closest("[data-action=remove-attachment]");
  if (!b) return;
  state.attachments.splice(Number(b.dataset.index), 1);
  renderAttachments();
  el.prompt.focus();
});
const dropZone = document.querySelector(".main");
dropZone.addEventListener("dragover", (e) => {
  if ([...e.dataTransfer.types].includes("Files")) {
    e.preventDefault();
    dropZone.classList.add("dropping");
  }
});
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dropping"));
dropZone.addEventListener("drop", (e) => {
  dropZone.classList.remove("dropping");
  if (!e.dataTransfer.files.length) return;
  e.preventDefault();
  addFiles([...e.dataTransfer.files]);
});
el.cancelEdit.addEventListener("click", () => {
  cancelEdit();
  el.prompt.value = "";
  state.attachments = [];
  renderAttachments();
});

el.messages.addEventListener("click", async (e) => {
  const target = e.target.closest("button");
  if (!target) return;
  if (target.classList.contains("copy-code")) {
    const code = target.closest("pre")?.querySelector("code")?.textContent || "";
    const ok = await copyText(code);
    target.textContent = ok ? "Copied" : "Copy failed";
    setTimeout(() => (target.textContent = "Copy"), 1500);
    announce(ok ? "Code copied." : "The browser refused to copy.");
    return;
  }
  const index = Number(target.closest("article")?.dataset.index);
  const m = state.current?.messages[index];
  if (!m) return;
  if (target.dataset.action === "copy") {
    const ok = await copyText(m.content);
    announce(ok ? "Message copied." : "The browser refused to copy.");
  } else if (target.dataset.action === "edit") startEdit(index);
  else if (target.dataset.action === "regenerate") regenerate();
});

el.convList.addEventListener("click", async (e) => {
  const b = e.target.closest("button");
  const id = b?.closest("li")?.dataset.id;
  const conv = state.conversations.find((c) => c.id === id);
  if (!conv) return;
  if (b.dataset.action === "open") openConversation(conv);
  else if (b.dataset.action === "rename") rename(conv);
  else if (b.dataset.action === "delete" && !state.controller) {
    if (!confirm(`Delete “${conv.title}”? This cannot be undone.`)) return;
    await store.deleteConversation(conv.id);
    if (state.current?.id === conv.id) openConversation(null);
    await refreshList();
    announce("Conversation deleted.");
  }
});
el.convSearch.addEventListener("input", renderList);
el.newChat.addEventListener("click", () => {
  openConversation(null);
  el.prompt.focus();
});
el.exportBtn.addEventListener("click", exportConversations);
el.importBtn.addEventListener("click", () => el.importFile.click());
el.importFile.addEventListener("change", () => {
  const file = el.importFile.files[0];
  el.importFile.value = "";
  if (file) importConversations(file);
});
el.settingsBtn.addEventListener("click", openSettings);
el.modelSearch.addEventListener("input", fillModels);
el.modelSearch.addEventListener("keydown", (e) => {
  if (e.key === "Enter") {
    e.preventDefault();
    el.modelSelect.focus();
  }
});
el.modelSelect.addEventListener("change", () => localStorage.setItem(MODEL, model()));
el.openSidebar.addEventListener("click", () => {
  el.app.classList.add("sidebar-open");
  el.openSidebar.setAttribute("aria-expanded", "true");
  el.convSearch.focus();
});
el.closeSidebar.addEventListener("click", closeSidebar);
function applyMode() {
  el.prompt.placeholder = mode() === "image" ? "Describe an image to generate" : "Message polymux";
  el.attachBtn.disabled = mode() === "image";
}
for (const r of document.querySelectorAll("input[name=mode]")) r.addEventListener("change", applyMode);

// -- start ---------------------------------------------------------------------------------------------
async function start() {
  applyMode();
  await Promise.all([loadModels(), refreshList()]);
  const current = localStorage.getItem(CURRENT);
  const conv = state.conversations.find((c) => c.id === current);
  if (conv) openConversation(conv);
  document.documentElement.dataset.ready = "true";
  window.polymuxReadyAt = performance.now();
  el.prompt.focus();
}

start();

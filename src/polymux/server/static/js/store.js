// Conversations, kept in this browser's IndexedDB only (never sent anywhere but the gateway,
// and there only as the messages of a request). Export and import use one JSON format.

const DB_NAME = "polymux-chat";
const STORE = "conversations";
export const EXPORT_FORMAT = "polymux-conversations";

let opening = null;

function db() {
  opening ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore(STORE, { keyPath: "id" });
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opening;
}

async function run(mode, work) {
  const database = await db();
  return new Promise((resolve, reject) => {
    const tx = database.transaction(STORE, mode);
    const request = work(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(request?.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}

export function newId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Every conversation, most recently changed first. */
export async function listConversations() {
  const all = (await run("readonly", (store) => store.getAll())) || [];
  return all.sort((a, b) => b.updated - a.updated);
}

export function saveConversation(conversation) {
  return run("readwrite", (store) => store.put(conversation));
}

export function deleteConversation(id) {
  return run("readwrite", (store) => store.delete(id));
}

export async function exportAll() {
  return {
    format: EXPORT_FORMAT,
    version: 1,
    exported: new Date().toISOString(),
    conversations: await listConversations(),
  };
}

const ROLES = new Set(["user", "assistant", "system"]);

function validMessage(m) {
  return (
    m &&
    typeof m === "object" &&
    ROLES.has(m.role) &&
    (typeof m.content === "string" || Array.isArray(m.content))
  );
}

/** Import an export file's conversations; returns how many; throws on a foreign file. */
export async function importAll(data) {
  if (!data || data.format !== EXPORT_FORMAT || !Array.isArray(data.conversations)) {
    throw new Error("not a polymux conversations file (exported from this page)");
  }
  let count = 0;
  for (const c of data.conversations) {
    if (!c || typeof c.id !== "string" || !Array.isArray(c.messages)) continue;
    if (!c.messages.every(validMessage)) continue;
    await saveConversation({
      id: c.id,
      title: String(c.title || "Imported conversation").slice(0, 200),
      created: Number(c.created) || Date.now(),
      updated: Number(c.updated) || Date.now(),
      messages: c.messages,
    });
    count++;
  }
  return count;
}

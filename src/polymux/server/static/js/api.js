// Calls to the gateway that served this page (same origin only: the CSP allows nothing else).
// The gateway key, when the gateway wants one, is asked for on the first 401, kept in this
// browser's localStorage and sent as a Bearer token; the providers' keys never reach the page.

const KEY_STORAGE = "polymux.key";

export class GatewayError extends Error {
  constructor(status, message, { code = null, retryAfter = null } = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export const auth = {
  get key() {
    return localStorage.getItem(KEY_STORAGE) || "";
  },
  set key(value) {
    if (value) localStorage.setItem(KEY_STORAGE, value);
    else localStorage.removeItem(KEY_STORAGE);
  },
  /** Set by the page: shows the key dialog, resolves to the key typed or "" if cancelled. */
  ask: async () => "",
};

function headers(json) {
  const out = {};
  if (json) out["content-type"] = "application/json";
  if (auth.key) out.authorization = `Bearer ${auth.key}`;
  return out;
}

async function errorOf(res) {
  let message = `${res.status} ${res.statusText}`;
  let code = null;
  try {
    const body = await res.json();
    if (body?.error?.message) message = String(body.error.message);
    code = body?.error?.code ?? null;
  } catch {
    // not JSON: the status line says enough
  }
  const wait = Number.parseInt(res.headers.get("retry-after") || "", 10);
  return new GatewayError(res.status, message, {
    code,
    retryAfter: Number.isFinite(wait) ? wait : null,
  });
}

/** fetch() on the gateway: JSON in, errors as GatewayError, a 401 asks for the key once. */
const GATEWAY_KEY_CODES = new Set(["missing_api_key", "invalid_api_key"]);

export async function call(path, { method = "GET", body, signal } = {}) {
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        cache: "no-store",
        credentials: "omit",
      });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new GatewayError(0, `cannot reach the gateway at ${location.origin}`);
    }
    if (res.ok) return res;
    const error = await errorOf(res);
    // Only the gateway's own 401 is about this page's key; a provider's 401 passes through
    // with the code upstream_401 and is the operator's to fix.
    if (res.status === 401 && GATEWAY_KEY_CODES.has(error.code) && attempt === 0) {
      const key = await auth.ask(error.message);
      if (key) {
        auth.key = key;
        continue;
      }
    }
    throw error;
  }
}

export async function getJSON(path, options) {
  return (await call(path, options)).json();
}

// The gateway's error types (server/errormap.py) -> the status it would have answered with.
const STREAM_ERROR_STATUS = {
  authentication_error: 401,
  permission_error: 403,
  rate_limit_error: 429,
  upstream_error: 502,
  timeout: 504,
  server_error: 500,
  invalid_request_error: 400,
};

/**
 * Stream a chat completion: yields each chunk object of the SSE answer. An in-band error
 * event (the gateway's way to report a failure after the answer started) is thrown.
 */
export async function* streamChat(body, signal) {
  const res = await call("/v1/chat/completions", { method: "POST", body, signal });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = event
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (!data) continue;
        if (data === "[DONE]") return;
        const chunk = JSON.parse(data);
        if (chunk.error) {
          // After the answer started the status line is gone: the error's type tells it.
          const status = STREAM_ERROR_STATUS[chunk.error.type] || 502;
          throw new GatewayError(status, String(chunk.error.message || "the stream failed"));
        }
        yield chunk;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** What to tell the person about a failed call. */
export function describeError(err) {
  if (!(err instanceof GatewayError)) return `Something went wrong in the page: ${err.message}`;
  switch (err.status) {
    case 0:
      return `Cannot reach the gateway (${location.origin}). Is \`polymux serve\` running?`;
    case 401:
      return GATEWAY_KEY_CODES.has(err.code)
        ? `This gateway needs an API key (${err.message}). Open Settings to sign in.`
        : `The provider refused the gateway's credentials: ${err.message}`;
    case 403:
      return `The gateway refused the request: ${err.message}`;
    case 413:
      return `Too large for this gateway: ${err.message}. Send smaller or fewer images.`;
    case 429:
      return err.retryAfter != null
        ? `Rate limited by the provider: try again in ${err.retryAfter} s. (${err.message})`
        : `Rate limited by the provider: wait a moment and try again. (${err.message})`;
    case 502:
      return `The provider failed to answer: ${err.message}`;
    case 504:
      return `The provider took too long to answer: ${err.message}`;
    default:
      return `Error ${err.status}: ${err.message}`;
  }
}

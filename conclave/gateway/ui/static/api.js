// The public HTTP API, as any client calls it: JSON routes and the round event stream
// (POST /v1/rounds, server-sent events). The API key lives in this browser only.

const KEY = "conclave.apiKey";

export class AuthError extends Error {}

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

export function apiKey() { return localStorage.getItem(KEY) || ""; }
export function setApiKey(key) { key ? localStorage.setItem(KEY, key) : localStorage.removeItem(KEY); }

function headers(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function failure(response) {
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    message = body.error?.message || message;
  } catch { /* not JSON: the status line says it */ }
  if (response.status === 401) return new AuthError(message);
  return new ApiError(response.status, message);
}

export async function getJSON(path, signal) {
  const response = await fetch(path, { headers: headers(), signal });
  if (!response.ok) throw await failure(response);
  return response.json();
}

export async function getBlobURL(path, signal) {
  const response = await fetch(path, { headers: headers(), signal });
  if (!response.ok) throw await failure(response);
  return URL.createObjectURL(await response.blob());
}

// Runs a round and calls onEvent(name, data) for each of its events, in order. Aborting
// `signal` closes the stream, which cancels the round on the gateway and the agents.
export async function streamRound(body, onEvent, signal) {
  const response = await fetch("/v1/rounds", {
    method: "POST",
    headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let name = "message";
      const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

// DOM helpers: every value from the API goes in as text, never as HTML.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function kv(pairs) {
  return el("dl", { class: "kv" },
    pairs.filter(([, v]) => v !== undefined && v !== null && v !== "")
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
}

export function status(text, kind = text) {
  return el("span", { class: `status ${kind}` }, text);
}

export function ms(value) {
  if (!value) return "–";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${Math.round(value)} ms`;
}

export function num(value, digits = 1) {
  return value === undefined || value === null || Number.isNaN(Number(value))
    ? "–" : Number(value).toFixed(digits);
}

export function pct(value) {
  return value === undefined || value === null ? "–" : `${Math.round(Number(value) * 100)}%`;
}

export function bytes(value) {
  const n = Number(value || 0);
  if (!n) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0, v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(v >= 10 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export function when(unixSeconds) {
  if (!unixSeconds) return "–";
  return new Date(Number(unixSeconds) * 1000).toLocaleString();
}

export function ago(unixMs) {
  const s = Math.max(0, Math.round((Date.now() - unixMs) / 1000));
  return s < 2 ? "just now" : s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

// Tokens per second of decoding: the tokens after the first over the time after it.
export function decodeRate(c) {
  const tokens = Number(c.completion_tokens || 0);
  const span = Number(c.latency_ms || 0) - Number(c.first_token_ms || 0);
  return tokens > 1 && span > 0 ? (tokens - 1) / (span / 1000) : null;
}

export function errorBox(error) {
  return el("p", { class: "error", role: "alert" }, String(error.message || error));
}

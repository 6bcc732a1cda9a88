// Blades: every agent service the leader knows (GET /v1/agents), refreshed live.
import { AuthError, getJSON } from "./api.js";
import { ago, bytes, el, kv, num, status } from "./util.js";

const REFRESH_MS = 3000;

export async function render(root, _args, ctx) {
  const grid = el("div", { class: "blades", id: "blades" });
  const note = el("p", { class: "muted", id: "blades-note" });
  root.append(el("h1", {}, "Blades"), note, grid);
  const seen = new Map(); // agent address -> when it last answered (this page's clock)
  let stopped = false;
  let timer = null;

  async function load() {
    try {
      const agents = (await getJSON("/v1/agents")).data;
      if (stopped) return;
      const now = Date.now();
      for (const a of agents) if (a.info) seen.set(a.address, now);
      grid.replaceChildren(...agents.map((a) => card(a, seen.get(a.address))));
      note.textContent = agents.length
        ? `${agents.length} agent service(s); refreshed every ${REFRESH_MS / 1000} s.`
        : "The leader knows no agent service.";
    } catch (error) {
      ctx.fail(error);
      if (error instanceof AuthError) return;
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }
  await load();
  return () => { stopped = true; clearTimeout(timer); };
}

function card(a, lastSeen) {
  const info = a.info;
  const head = el("h2", {}, a.name || a.address, " ",
    info ? status(Number(info.slots_busy) ? "busy" : "ok") : status("down"));
  if (!info) {
    return el("article", { class: "card blade", dataset: { agent: a.name } }, head,
      kv([["address", a.address], ["source", a.source], ["error", a.error || "no answer"],
        ["last seen", lastSeen ? ago(lastSeen) : "never (on this page)"]]));
  }
  const hw = info.hardware || {};
  const busy = Number(info.slots_busy || 0);
  const total = Number(info.slots_total || 0);
  const ramTotal = Number(hw.ram_total_bytes || 0);
  const ramUsed = ramTotal - Number(hw.ram_available_bytes || 0);
  const pi = hw.raspberry_pi;
  const served = (info.models || []).map((m) => `${m.id}${m.loaded ? " (loaded)" : ""}`);
  return el("article", { class: "card blade", dataset: { agent: a.name } }, head,
    el("div", { class: "slots", dataset: { busy: String(busy), total: String(total) } },
      `slots ${busy}/${total} busy`),
    el("div", { class: "meter", role: "meter", "aria-label": "slots busy",
      "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": busy },
    el("div", { style: `width:${total ? (100 * busy) / total : 0}%` })),
    kv([
      ["address", a.address],
      ["source", a.source],
      ["health", a.error ? `error: ${a.error}` : "serving"],
      ["model", info.model?.id],
      ["serves", served.join(", ")],
      ["voices", (a.participants || []).join(", ")],
      ["queue", `${info.queue_depth} / ${info.queue_limit}`],
      ["tok/s", num(info.tokens_per_second)],
      ["CPU", `${hw.cpu_model || "?"} · ${hw.logical_cores || "?"} threads · ${info.threads} used`],
      ["RAM", ramTotal ? `${bytes(ramUsed)} / ${bytes(ramTotal)} used` : "–"],
      ["temperature", hw.temperature_c !== undefined ? `${num(hw.temperature_c)} °C` : "–"],
      ["throttling", pi ? (pi.throttled ? `yes: ${(pi.throttle_flags || []).join(", ")}` : "no")
        : "not a Pi"],
      ["Pi", pi?.model],
      ["uptime", `${Math.round(Number(info.uptime_seconds || 0))} s`],
      ["version", info.version],
      ["last seen", lastSeen ? ago(lastSeen) : "–"],
    ]));
}

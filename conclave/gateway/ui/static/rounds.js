// Rounds: the newest rounds, refreshed live (new ones appear without a reload),
// filtered by strategy, status and tag through GET /v1/rounds's own filters.
import { AuthError, getJSON } from "./api.js";
import { el, ms, pct, status, when } from "./util.js";

const STRATEGIES = ["", "vote", "parallel", "round_robin", "moa"];
const STATUSES = ["", "decided", "no_quorum", "failed", "running", "interrupted"];
const REFRESH_MS = 2000;

export async function render(root, _args, ctx) {
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  const strategy = el("select", { id: "f-strategy" },
    STRATEGIES.map((s) => el("option", { value: s }, s || "any")));
  const state = el("select", { id: "f-status" },
    STATUSES.map((s) => el("option", { value: s }, s || "any")));
  const tag = el("input", { id: "f-tag", placeholder: "key=value", size: 16 });
  const body = el("tbody");
  const note = el("p", { class: "muted", id: "rounds-note" });
  root.append(
    el("h1", {}, "Rounds"),
    el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(); } },
      el("div", {}, el("label", { for: "f-strategy" }, "Strategy"), strategy),
      el("div", {}, el("label", { for: "f-status" }, "Status"), state),
      el("div", {}, el("label", { for: "f-tag" }, "Tag"), tag),
      el("button", { type: "submit" }, "Filter")),
    el("div", { class: "table-wrap" }, el("table", { id: "rounds-table" },
      el("thead", {}, el("tr", {},
        ["When", "Round", "Strategy", "Status", "Answer", "Agreement", "Voices", "Wall"]
          .map((h, i) => el("th", { class: i === 1 || i === 6 ? "hide-narrow" : null }, h)))),
      body)),
    note);
  strategy.value = query.get("strategy") || "";
  strategy.addEventListener("change", load);
  state.addEventListener("change", load);

  let stopped = false;
  let timer = null;
  async function load() {
    clearTimeout(timer);
    const params = new URLSearchParams({ limit: "50" });
    if (strategy.value) params.set("strategy", strategy.value);
    if (state.value) params.set("status", state.value);
    if (tag.value.trim()) params.set("tag", tag.value.trim());
    try {
      const page = await getJSON(`/v1/rounds?${params}`);
      if (stopped) return;
      body.replaceChildren(...page.data.map(row));
      note.textContent = page.data.length
        ? `Newest ${page.data.length}; refreshed every ${REFRESH_MS / 1000} s.`
        : "No rounds yet match. Ask one on the Ask page.";
    } catch (error) {
      ctx.fail(error);
      if (error instanceof AuthError || error.status === 400) return;
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }
  await load();
  return () => { stopped = true; clearTimeout(timer); };
}

function row(r) {
  const open = () => { location.hash = `#/rounds/${r.id}`; };
  return el("tr", {
    class: "clickable", tabindex: 0, dataset: { roundId: r.id },
    onclick: open, onkeydown: (e) => { if (e.key === "Enter") open(); },
  },
  el("td", {}, when(r.created_at)),
  el("td", { class: "mono hide-narrow" }, el("a", { href: `#/rounds/${r.id}` }, r.id)),
  el("td", {}, r.strategy, el("span", { class: "muted" }, ` / ${r.method}`)),
  el("td", {}, status(r.status)),
  el("td", {}, r.answer || "–"),
  el("td", {}, pct(r.agreement)),
  el("td", { class: "hide-narrow" }, r.candidates),
  el("td", {}, ms(r.wall_ms)));
}

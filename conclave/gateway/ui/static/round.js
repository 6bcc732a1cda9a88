// One round: the question, each candidate with its numbers, the critique turns as a
// timeline (who saw what, who revised), the tally, quorum and timeouts, the raw JSON.
import { getJSON } from "./api.js";
import { tally } from "./chart.js";
import { decodeRate, el, kv, ms, num, pct, status, when } from "./util.js";

const ANSWERED = new Set(["stop", "length"]);

export async function render(root, [id]) {
  const round = await getJSON(`/v1/rounds/${encodeURIComponent(id)}`);
  const d = round.decision || {};
  const personas = new Map((round.participants || []).map((p) => [p.name, p]));
  const turns = [...new Set(round.candidates.map((c) => c.turn))].sort((a, b) => a - b);
  const last = turns.length ? turns[turns.length - 1] : 0;
  const usable = round.candidates.filter((c) => c.turn === last && ANSWERED.has(c.finish_reason));
  const timedOut = [...new Set(round.candidates.filter((c) => c.finish_reason === "timeout")
    .map((c) => c.participant))];
  const winner = d.winner !== undefined && d.winner !== null ? round.candidates[d.winner] : null;
  const question = round.messages.filter((m) => m.role === "user").map((m) => m.content)
    .join("\n\n");

  root.append(
    el("p", {}, el("a", { href: "#/rounds" }, "← Rounds")),
    el("h1", {}, "Round ", el("span", { class: "mono" }, round.id), " ", status(round.status)),
    el("section", { class: "card", id: "round-summary" },
      el("h2", {}, "Question"), el("pre", { id: "round-question" }, question),
      kv([
        ["when", when(round.created_at)],
        ["strategy", `${round.strategy} / ${round.method}`],
        ["answer", d.answer || "(none)"],
        ["winner", winner ? winner.participant : "none"],
        ["agreement", pct(d.agreement)],
        ["dissent", (d.dissent || []).join(", ") || "none"],
        ["quorum", `${usable.length} usable of ${round.quorum} needed: ${
          usable.length >= round.quorum ? "reached" : "NOT reached"}`],
        ["timed out", timedOut.join(", ") || "none"],
        ["wall", ms(round.wall_ms)],
        ["params", Object.entries(round.params || {}).map(([k, v]) => `${k}=${v}`).join(", ")],
        ["tags", Object.entries(round.tags || {}).map(([k, v]) => `${k}=${v}`).join(", ")],
        ["error", round.error],
        ["detail", d.detail],
      ])),
    el("section", { class: "card", id: "round-tally" }, el("h2", {}, "Tally"), tally(round)),
    el("section", {}, el("h2", {}, "Candidates"), candidates(round, personas)),
    turns.length > 1 ? el("section", { class: "card", id: "round-timeline" },
      el("h2", {}, "Critique turns"), timeline(round, turns)) : "",
    el("section", { class: "card" }, el("h2", {}, "Raw JSON"),
      el("p", {}, el("a", { href: `/v1/rounds/${encodeURIComponent(round.id)}`,
        id: "round-raw-link" }, `/v1/rounds/${round.id}`),
      el("span", { class: "muted" }, " (needs the API key as a Bearer header when one is set)")),
      el("details", {}, el("summary", {}, "Show the JSON here"),
        el("pre", { id: "round-json" }, JSON.stringify(round, null, 2)))));
}

function candidates(round, personas) {
  return el("div", { class: "table-wrap" }, el("table", { id: "round-candidates" },
    el("thead", {}, el("tr", {}, ["#", "Voice", "Model", "Persona", "Turn", "Text", "Finish",
      "Tokens", "TTFT", "Decode tok/s"].map((h) => el("th", {}, h)))),
    el("tbody", {}, round.candidates.map((c, i) => {
      const p = personas.get(c.participant) || {};
      const rate = decodeRate(c);
      return el("tr", { dataset: { index: String(i), participant: c.participant } },
        el("td", {}, i),
        el("td", {}, c.participant, el("div", { class: "muted" }, p.agent || c.service)),
        el("td", {}, p.model || "default"),
        el("td", {}, p.system_prompt ? el("span", { title: p.system_prompt },
          p.system_prompt.slice(0, 60)) : "–"),
        el("td", {}, c.turn),
        el("td", {}, el("div", { class: "turn-text" }, c.text || "–"),
          c.error ? el("div", { class: "error" }, c.error) : ""),
        el("td", {}, c.finish_reason),
        el("td", { class: "mono tokens", title: "prompt + completion tokens; cached: prompt "
          + "tokens the agent found in its KV cache instead of prefilling" },
          `${c.prompt_tokens} + ${c.completion_tokens}`,
          c.cached_prompt_tokens ? el("div", { class: "muted" }, `${c.cached_prompt_tokens} cached`)
            : ""),
        el("td", {}, ms(c.first_token_ms)),
        el("td", {}, rate === null ? "–" : num(rate)));
    }))));
}

// Each turn after the first: every voice saw the others' latest answers (parallel) or
// those before it (round robin) and answered again; "revised" when its text changed.
function timeline(round, turns) {
  const previous = new Map();
  return el("ol", { class: "timeline" }, turns.map((turn) => {
    const here = round.candidates.filter((c) => c.turn === turn);
    const before = round.candidates.filter((c) => c.turn === turn - 1);
    const items = here.map((c) => {
      const key = `${c.participant}|${c.sample_index}`;
      const was = previous.get(key);
      previous.set(key, c.text);
      const change = turn === turns[0] ? "answered"
        : was === undefined ? "joined" : was.trim() === c.text.trim() ? "kept" : "revised";
      const saw = before.filter((b) => b.participant !== c.participant).map((b) => b.participant);
      return el("li", { dataset: { participant: c.participant, change } },
        el("strong", {}, c.participant), " ", el("span", { class: `chip` }, change),
        turn !== turns[0] && saw.length ? el("span", { class: "muted" },
          ` · saw ${[...new Set(saw)].join(", ")}`) : "",
        el("div", { class: "turn-text" }, c.text || "–"));
    });
    return el("li", { dataset: { turn: String(turn) } },
      el("h3", {}, turn === turns[0] ? "Answers" : `Critique turn ${turn}`),
      el("ul", {}, items));
  }));
}

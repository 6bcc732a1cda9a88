// The tally as a bar chart: one bar per answer group, its length the group's weight.
import { el } from "./util.js";

export function tally(round) {
  const decision = round.decision || {};
  const groups = [...(decision.groups || [])].sort((a, b) => b.weight - a.weight);
  if (!groups.length) return el("p", { class: "muted" }, "No votes: nothing could be voted on.");
  const top = Math.max(...groups.map((g) => g.weight), 1e-9);
  const winner = decision.winner;
  const names = (members) => members.map((i) => round.candidates?.[i]?.participant ?? `#${i}`);
  return el("div", { class: "tally", role: "list", "aria-label": "Tally" },
    groups.map((g) => {
      const won = winner !== undefined && winner !== null && g.members.includes(winner);
      const label = g.answer === "" ? "(empty)" : g.answer;
      return el("div", {
        class: "bar-row", role: "listitem",
        dataset: { answer: g.answer, weight: String(g.weight), members: String(g.members.length) },
        title: `${label}: ${names(g.members).join(", ")}`,
      },
      el("span", { class: "bar-label" }, won ? `★ ${label}` : label),
      el("div", { class: "bar-track" },
        el("div", { class: won ? "bar winner" : "bar", style: `width:${(100 * g.weight) / top}%` })),
      el("span", { class: "bar-weight mono" }, Number(g.weight).toFixed(g.weight % 1 ? 2 : 0)));
    }));
}

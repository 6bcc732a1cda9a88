// Experiments: the runs in the folder the gateway was given (GET /v1/experiments),
// each with its summary table and its plot.
import { getBlobURL, getJSON } from "./api.js";
import { el, num, pct, when } from "./util.js";

// The summary columns worth a glance first; every other column follows.
const FIRST = ["cell", "strategy", "method", "voices", "accuracy", "accuracy_se", "agreement",
  "tokens_per_q", "wall_s_per_q", "rounds", "failed"];

export async function render(root, [name]) {
  root.append(el("h1", {}, "Experiments"));
  const runs = (await getJSON("/v1/experiments")).data;
  if (!runs.length) {
    root.append(el("p", { class: "muted" }, "No run in the experiments folder yet."));
    return;
  }
  root.append(el("div", { class: "table-wrap" }, el("table", { id: "experiments-table" },
    el("thead", {}, el("tr", {}, ["Run", "Experiment", "Cells", "Updated", "Files"]
      .map((h) => el("th", {}, h)))),
    el("tbody", {}, runs.map((r) => el("tr", { dataset: { run: r.name } },
      el("td", {}, el("a", { href: `#/experiments/${encodeURIComponent(r.name)}` }, r.name)),
      el("td", {}, r.experiment), el("td", {}, r.cell_count), el("td", {}, when(r.modified)),
      el("td", {}, r.files.join(", "))))))));
  const chosen = name || runs[0].name;
  const run = await getJSON(`/v1/experiments/${encodeURIComponent(chosen)}`);
  const section = el("section", { class: "card", id: "experiment-run",
    dataset: { run: run.name } }, el("h2", {}, `${run.experiment} — ${run.run_id}`));
  root.append(section);
  section.append(summaryTable(run.cells));
  if (run.files.includes("accuracy_vs_tokens.png")) {
    const url = await getBlobURL(filePath(run.name, "accuracy_vs_tokens.png"));
    section.append(el("h3", {}, "Accuracy against tokens"),
      el("img", { class: "plot", id: "experiment-plot", src: url,
        alt: `accuracy against tokens per question, ${run.experiment}` }));
  }
  const links = run.files.filter((f) => f !== "accuracy_vs_tokens.png").map((f) =>
    el("button", { type: "button", class: "quiet", onclick: async () => {
      const url = await getBlobURL(filePath(run.name, f));
      const a = el("a", { href: url, download: `${run.name}-${f}` });
      a.click();
    } }, `Download ${f}`));
  section.append(el("div", { class: "actions" }, links));
}

function filePath(run, file) {
  return `/v1/experiments/${encodeURIComponent(run)}/files/${encodeURIComponent(file)}`;
}

function summaryTable(cells) {
  if (!cells.length) return el("p", { class: "muted" }, "No summary yet (the run is going).");
  const keys = Object.keys(cells[0]);
  const columns = [...FIRST.filter((k) => keys.includes(k)),
    ...keys.filter((k) => !FIRST.includes(k))];
  const show = (k, v) => (typeof v === "number"
    ? (["accuracy", "accuracy_se", "agreement"].includes(k) ? pct(v)
      : Number.isInteger(v) ? v : num(v, 2))
    : typeof v === "object" && v !== null ? JSON.stringify(v) : v);
  return el("div", { class: "table-wrap" }, el("table", { id: "experiment-summary" },
    el("thead", {}, el("tr", {}, columns.map((k) => el("th", {}, k)))),
    el("tbody", {}, cells.map((c) => el("tr", { dataset: { cell: String(c.cell) } },
      columns.map((k) => el("td", {}, show(k, c[k]))))))));
}

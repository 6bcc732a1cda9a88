// Ask: one question to the swarm, every voice streaming side by side as it generates
// (POST /v1/rounds), the critique turns under each voice, then the tally and decision.
import { AuthError, getJSON, streamRound } from "./api.js";
import { tally } from "./chart.js";
import { el, errorBox, kv, pct, status } from "./util.js";

const METHODS = ["", "majority", "similarity", "quality", "fastest", "weighted", "two_phase",
  "judge"];

export async function render(root, _args, ctx) {
  const models = (await getJSON("/v1/models")).data;
  const modelSelect = el("select", { id: "ask-model" },
    models.map((m) => el("option", { value: m.id }, m.conclave?.strategy
      ? `${m.id} — ${m.conclave.description}` : m.id)));
  const method = el("select", { id: "ask-method" },
    METHODS.map((m) => el("option", { value: m }, m || "(strategy default)")));
  const params = el("textarea", { id: "ask-params", rows: 2,
    placeholder: "key=value per line, e.g. extract=number or critique_rounds=2" });
  const maxTokens = el("input", { id: "ask-max-tokens", type: "number", min: 1, value: 48 });
  const temperature = el("input", { id: "ask-temperature", type: "number", min: 0, max: 2,
    step: 0.1, value: 0.7 });
  const samples = el("input", { id: "ask-samples", type: "number", min: 1, max: 16,
    placeholder: "1" });
  const question = el("textarea", { id: "ask-question", rows: 3, required: true,
    placeholder: "What is the capital of France?" });
  const go = el("button", { id: "ask-go", type: "submit" }, "Ask");
  const cancel = el("button", { id: "ask-cancel", type: "button", class: "danger",
    disabled: true }, "Cancel round");
  const defaults = el("p", { class: "muted", id: "ask-defaults" });
  const live = el("section", { id: "ask-live", "aria-label": "Voices" });
  const result = el("section", { id: "ask-result", "aria-live": "polite" });
  let running = null;

  const describe = () => {
    const card = models.find((m) => m.id === modelSelect.value);
    const d = card?.conclave?.defaults;
    defaults.textContent = d ? `Defaults: ${Object.entries(d).map(([k, v]) => `${k}=${v}`)
      .join(", ")}` : card?.conclave?.agent ? `One voice on agent ${card.conclave.agent}` : "";
  };
  modelSelect.addEventListener("change", describe);
  describe();

  const form = el("form", { class: "card", id: "ask-form" },
    el("h1", {}, "Ask the conclave"),
    el("div", { class: "form" },
      el("div", { class: "wide" }, el("label", { for: "ask-question" }, "Question"), question),
      el("div", {}, el("label", { for: "ask-model" }, "Strategy or voice (model)"), modelSelect),
      el("div", {}, el("label", { for: "ask-method" }, "Voting method"), method),
      el("div", {}, el("label", { for: "ask-max-tokens" }, "Max tokens"), maxTokens),
      el("div", {}, el("label", { for: "ask-temperature" }, "Temperature"), temperature),
      el("div", {}, el("label", { for: "ask-samples" }, "Samples per voice"), samples),
      el("div", { class: "wide" }, el("label", { for: "ask-params" }, "Parameters"), params)),
    defaults,
    el("div", { class: "actions" }, go, cancel));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (running) return;
    let body;
    try {
      body = request();
    } catch (error) {
      result.replaceChildren(errorBox(error));
      return;
    }
    running = new AbortController();
    go.disabled = true;
    cancel.disabled = false;
    live.replaceChildren();
    result.replaceChildren(el("p", { class: "muted" }, "Waiting for the first voice…"));
    const view = new RoundView(live, result);
    try {
      await streamRound(body, (name, data) => view.on(name, data), running.signal);
    } catch (error) {
      if (error.name === "AbortError") view.cancelled();
      else if (error instanceof AuthError) ctx.fail(error);
      else result.replaceChildren(errorBox(error));
    } finally {
      running = null;
      go.disabled = false;
      cancel.disabled = true;
    }
  });
  cancel.addEventListener("click", () => running?.abort());

  function request() {
    const conclave = {};
    if (method.value) conclave.method = method.value;
    const knobs = {};
    for (const line of params.value.split(/[\n,]/).map((l) => l.trim()).filter(Boolean)) {
      const at = line.indexOf("=");
      if (at < 1) throw new Error(`a parameter must look like key=value: ${line}`);
      knobs[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    if (Object.keys(knobs).length) conclave.params = knobs;
    if (samples.value) conclave.samples_per_participant = Number(samples.value);
    conclave.tags = { ui: "ask" };
    return {
      model: modelSelect.value,
      messages: [{ role: "user", content: question.value }],
      max_tokens: Number(maxTokens.value),
      temperature: Number(temperature.value),
      conclave,
    };
  }

  root.append(form, live, result);
  question.focus();
  return () => running?.abort();
}

// What the events of one round draw: a lane per voice, a block per turn and sample.
class RoundView {
  constructor(live, result) {
    this.live = live;
    this.result = result;
    this.lanes = new Map();
    this.blocks = new Map();
    this.roundId = null;
  }

  on(name, data) {
    if (name === "round.started") this.started(data);
    else if (name === "candidate.delta") this.block(data).text.append(data.text);
    else if (name === "candidate.done") this.done(data);
    else if (name === "round.decided") this.decided(data);
    else if (name === "error") this.result.replaceChildren(errorBox(data.error));
  }

  started(data) {
    this.roundId = data.round_id;
    this.live.replaceChildren(
      el("h2", {}, "Round ", el("a", { href: `#/rounds/${data.round_id}`, class: "mono" },
        data.round_id), ` — ${data.strategy} / ${data.method}`),
      this.grid = el("div", { class: "lanes" }));
    for (const p of data.participants) this.lane(p);
    this.result.replaceChildren(el("p", { class: "muted" }, "The voices are answering…"));
  }

  lane(participant) {
    let lane = this.lanes.get(participant);
    if (!lane) {
      lane = el("article", { class: "lane", dataset: { participant },
        "aria-label": `Voice ${participant}` }, el("h3", {}, participant));
      this.lanes.set(participant, lane);
      (this.grid || this.live).append(lane);
    }
    return lane;
  }

  block({ participant, turn, sample_index: sample }) {
    const key = `${participant}|${turn}|${sample}`;
    let block = this.blocks.get(key);
    if (!block) {
      const label = el("div", { class: "turn-label" },
        turn > 0 ? `critique turn ${turn}` : turn < 0 ? "judge" : "answer",
        sample > 0 ? ` · sample ${sample}` : "");
      const text = el("div", { class: "turn-text" });
      const node = el("div", { class: "turn", dataset: { turn: String(turn),
        sample: String(sample) } }, label, text);
      this.lane(participant).append(node);
      block = { node, label, text };
      this.blocks.set(key, block);
    }
    return block;
  }

  done(c) {
    const block = this.block(c);
    if (!block.text.textContent && c.text) block.text.textContent = c.text;
    block.node.dataset.finish = c.finish_reason;
    block.label.append(` · ${c.finish_reason}, ${c.completion_tokens} tokens`);
    if (c.error) block.node.append(el("div", { class: "error" }, c.error));
  }

  decided(round) {
    for (const lane of this.lanes.values()) lane.classList.add("done");
    const d = round.decision;
    const winner = d.winner !== undefined && d.winner !== null ? round.candidates[d.winner] : null;
    this.result.replaceChildren(el("div", { class: "card", id: "ask-decision" },
      el("h2", {}, "Decision ", status(round.status)),
      kv([
        ["answer", d.answer || "(none)"],
        ["winner", winner ? winner.participant : "none"],
        ["agreement", pct(d.agreement)],
        ["dissent", (d.dissent || []).join(", ") || "none"],
        ["method", d.method],
      ]),
      el("h3", {}, "Tally"), tally(round),
      el("p", {}, el("a", { href: `#/rounds/${round.id}`, id: "ask-round-link" },
        "Open the round"))));
  }

  cancelled() {
    this.result.replaceChildren(el("p", { id: "ask-cancelled", role: "status" },
      "Cancelled: the round was stopped and its voices freed. ",
      this.roundId ? el("a", { href: `#/rounds/${this.roundId}` }, "See what was heard") : ""));
  }
}

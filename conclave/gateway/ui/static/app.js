// The page shell: a hash router over the four pages, and the API key gate. No page
// shows anything until the API answers it (with the key, when the gateway wants one).
import { AuthError, getJSON, setApiKey } from "./api.js";
import * as ask from "./ask.js";
import * as blades from "./blades.js";
import * as experiments from "./experiments.js";
import * as round from "./round.js";
import * as rounds from "./rounds.js";
import { errorBox } from "./util.js";

const routes = [
  [/^#\/ask$/, ask, "ask"],
  [/^#\/rounds\/([^/]+)$/, round, "rounds"],
  [/^#\/rounds$/, rounds, "rounds"],
  [/^#\/blades$/, blades, "blades"],
  [/^#\/experiments(?:\/([^/]+))?$/, experiments, "experiments"],
];

const page = document.getElementById("page");
const gate = document.getElementById("key-gate");
let cleanup = null;

function needKey(message) {
  stop();
  page.replaceChildren();
  gate.hidden = false;
  document.getElementById("key-reason").textContent = message
    ? `The gateway refused: ${message}. Give its API key; it is kept in this browser only.`
    : "This gateway needs an API key. It is kept in this browser only.";
  document.getElementById("key-input").focus();
}

function stop() {
  if (cleanup) cleanup();
  cleanup = null;
}

async function show() {
  stop();
  const hash = location.hash || "#/ask";
  const found = routes.find(([pattern]) => pattern.test(hash));
  if (!found) { location.hash = "#/ask"; return; }
  const [pattern, module, name] = found;
  for (const a of document.querySelectorAll("nav a")) {
    a.toggleAttribute("aria-current", a.dataset.page === name);
    if (a.dataset.page === name) a.setAttribute("aria-current", "page");
  }
  try {
    await getJSON("/v1/models"); // the key check: nothing renders before it passes
  } catch (error) {
    if (error instanceof AuthError) { needKey(error.message); return; }
  }
  gate.hidden = true;
  const container = document.createElement("div");
  page.replaceChildren(container);
  const args = hash.match(pattern).slice(1).map((a) => (a ? decodeURIComponent(a) : a));
  const context = {
    fail(error) {
      if (error instanceof AuthError) needKey(error.message);
      else if (error.name !== "AbortError") container.append(errorBox(error));
    },
    needKey,
  };
  try {
    cleanup = (await module.render(container, args, context)) || null;
  } catch (error) {
    context.fail(error);
  }
}

document.getElementById("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  setApiKey(document.getElementById("key-input").value.trim());
  document.getElementById("key-input").value = "";
  show();
});
document.getElementById("key-forget").addEventListener("click", () => { setApiKey(""); show(); });
document.getElementById("key-change").addEventListener("click", () => needKey(""));
window.addEventListener("hashchange", show);
show();

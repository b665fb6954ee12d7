// The walker-status tiles shown by the live page and the big-screen viewer: whether the
// walker is fully in view, the camera view, walking backwards, the setting and the cadence.
import { isNum } from "./api.js";
import { DIRECTION_WORDS } from "./words.js";

const CADENCE_WINDOW_S = 15;
const TILES = [
  ["inview", "Fully in view"],
  ["view", "Camera view"],
  ["backward", "Walking backwards"],
  ["setting", "Setting"],
  ["cadence", "Cadence"],
];

export function setIndicator(node, state, text) {
  node.dataset.state = state;
  node.querySelector(".ind-value").textContent = text;
}

// Fills `section` with the tiles (the setting tile only with `setting: true`) and returns
// them by name: { inview, view, backward, setting?, cadence }.
export function buildStatusTiles(section, { setting = false } = {}) {
  const tiles = {};
  for (const [name, label] of TILES) {
    if (name === "setting" && !setting) continue;
    const node = document.createElement("div");
    node.className = name === "cadence" ? "indicator indicator-num" : "indicator";
    node.id = `ind-${name}`;
    node.dataset.state = "unknown";
    for (const [cls, text] of [["ind-label", label], ["ind-value", "–"]]) {
      const span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      node.append(span);
    }
    if (name === "cadence") {
      const sub = document.createElement("span");
      sub.className = "ind-sub";
      sub.textContent = "0 steps";
      node.append(sub);
    }
    section.append(node);
    tiles[name] = node;
  }
  return tiles;
}

export function resetStatus(tiles) {
  for (const node of Object.values(tiles)) setIndicator(node, "unknown", "–");
  tiles.cadence.querySelector(".ind-sub").textContent = "0 steps";
}

// One live result on the tiles; its steps' times are added to `stepTimes` for the cadence.
export function showStatus(tiles, msg, stepTimes) {
  const m = msg.metrics;
  if (!msg.person) setIndicator(tiles.inview, "no", "No one seen");
  else if (m.fully_in_frame === true) setIndicator(tiles.inview, "yes", "Yes");
  else if (m.fully_in_frame === false) setIndicator(tiles.inview, "no", "No");
  else setIndicator(tiles.inview, "unknown", "–");

  const view = msg.person ? m.view : null;
  setIndicator(tiles.view, view === "side" ? "yes" : view && view !== "unknown" ? "warn" : "unknown",
    view && view !== "unknown" ? view.charAt(0).toUpperCase() + view.slice(1) : "–");

  // Nothing is said while the direction is not known (a new window filling after a jump).
  const dir = msg.person && m.direction !== "unknown" ? m.direction : null;
  setIndicator(tiles.backward, dir === "backward" ? "yes" : dir === "forward" ? "no" : dir ? "warn" : "unknown",
    dir ? DIRECTION_WORDS[dir] ?? dir : "–");

  if (tiles.setting) {
    const where = { overground: "Overground", treadmill: "Treadmill" }[msg.setting];
    setIndicator(tiles.setting, where ? "num" : "unknown",
      where ? where + (msg.on_rails ? ", on the rails (fine)" : "") : "–");
  }

  for (const st of msg.steps) stepTimes.push(isNum(st.time_s) ? st.time_s : msg.t);
  const recent = stepTimes.filter((t) => t >= (msg.t ?? 0) - CADENCE_WINDOW_S);
  const cadence = recent.length >= 3 ? ((recent.length - 1) / (recent[recent.length - 1] - recent[0])) * 60 : null;
  setIndicator(tiles.cadence, stepTimes.length ? "num" : "unknown", isNum(cadence) ? `${Math.round(cadence)}/min` : "–");
  tiles.cadence.querySelector(".ind-sub").textContent = `${stepTimes.length} step${stepTimes.length === 1 ? "" : "s"}`;
}

// The start-up check (a result's `setup`) on its tiles, `setup-<check name>` in `section`
// (made from the check's own label where the page has none); the same on the phone and the big
// screen. Returns the line for the cue: the first advice while it runs, then the verdict
// (`done` says which).
export function showSetupChecks(section, setup) {
  for (const check of setup.checks) {
    let node = section.querySelector(`#setup-${check.name}`);
    if (!node) {
      node = document.createElement("div");
      node.className = "indicator";
      node.id = `setup-${check.name}`;
      for (const [cls, text] of [["ind-label", check.label], ["ind-value", "–"]]) {
        const span = document.createElement("span");
        span.className = cls;
        span.textContent = text;
        node.append(span);
      }
      section.append(node);
    }
    const state = check.passed === true ? "yes" : check.passed === false ? "no" : "unknown";
    const text = check.passed === true ? "OK" : check.passed === false ? "Change" : setup.done ? "Can't tell" : "Checking";
    setIndicator(node, state, text);
    node.title = check.message || "";
  }
  if (!setup.done) return { text: setup.advice.length ? setup.advice[0] : "Checking your set-up…", severity: "info", done: false };
  const text = setup.passed ? "Set-up looks good. Start walking backwards." : `To set up: ${setup.message}`;
  return { text, severity: setup.passed ? "good" : "warning", done: true };
}

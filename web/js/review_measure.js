// Measuring on a paused frame of the review page: an angle (three points, the vertex in the
// middle) or a distance (two points), clicked on the clip. The server works out the value
// (degrees; metres from the walker's height, else leg lengths) and keeps it with the session
// (review.json); each one is listed with its frame time, drawn when the clip shows that frame,
// and can be removed.
import { announce, el, getJSON, isNum, sendJSON, showError } from "./api.js";
import { fmtFrameTime } from "./review_frames.js";

const $ = (id) => document.getElementById(id);
const POINTS = { angle: 3, distance: 2 };
const HINTS = {
  angle: "Click three points on the paused frame: the angle is measured at the middle one.",
  distance: "Click the two ends of the distance on the paused frame.",
};
const UNIT = { deg: "°", m: " m", leg: " leg lengths" };
const SHOWN_WHILE_PLAYING_S = 0.4;
const COLOR = "#FFD23F";
const PENDING = "#6CC4FF";

/** "90.0°", "0.41 m", "0.52 leg lengths". */
export function valueText(m) {
  if (!isNum(m.value)) return "–";
  return `${m.value.toFixed(m.unit === "deg" ? 1 : 2)}${UNIT[m.unit] ?? ""}`;
}

export function measuring(player, sessionId, frames) {
  const wrap = $("player-wrap");
  const canvas = $("measure-canvas");
  const ctx = canvas.getContext("2d");
  const base = `/api/sessions/${encodeURIComponent(sessionId)}/review`;
  let tool = null;
  let pending = [];
  let list = [];
  const state = { get list() { return list; }, drawn: [], setTool, draw, load };

  /** The picture's rectangle inside the video element (it keeps its proportions). */
  function pictureBox() {
    const w = canvas.clientWidth, h = canvas.clientHeight;
    const vw = player.videoWidth || w, vh = player.videoHeight || h;
    const scale = Math.min(w / vw, h / vh);
    return { x: (w - vw * scale) / 2, y: (h - vh * scale) / 2, w: vw * scale, h: vh * scale };
  }

  function fit() {
    const dpr = window.devicePixelRatio || 1;
    const w = Math.round(canvas.clientWidth * dpr), h = Math.round(canvas.clientHeight * dpr);
    if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }

  function setTool(next) {
    tool = next && tool !== next ? next : null;
    pending = [];
    if (tool && !player.paused) player.pause();
    wrap.classList.toggle("measuring", Boolean(tool));
    player.controls = !tool; // the clip's own controls would sit over the points clicked
    for (const b of document.querySelectorAll(".tool")) {
      b.setAttribute("aria-pressed", String(b.dataset.tool === tool));
    }
    $("tool-hint").textContent = tool ? HINTS[tool] : "";
    draw(player.currentTime || 0, frames.rowAt(player.currentTime || 0));
  }

  function toCanvas(p, box) { return [box.x + p.x * box.w, box.y + p.y * box.h]; }

  function drawShape(points, box, color, label) {
    const xy = points.map((p) => toCanvas(p, box));
    ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 3;
    ctx.beginPath();
    xy.forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    ctx.stroke();
    for (const [x, y] of xy) { ctx.beginPath(); ctx.arc(x, y, 5, 0, 2 * Math.PI); ctx.fill(); }
    if (label) {
      const [x, y] = xy.length === 3 ? xy[1] : [(xy[0][0] + xy[1][0]) / 2, (xy[0][1] + xy[1][1]) / 2];
      ctx.font = "bold 16px system-ui, sans-serif";
      const w = ctx.measureText(label).width;
      const lx = Math.min(Math.max(x + 8, 2), canvas.clientWidth - w - 10);
      const ly = Math.max(y - 10, 20);
      ctx.fillStyle = "rgba(0, 0, 0, 0.75)";
      ctx.fillRect(lx - 4, ly - 16, w + 8, 22);
      ctx.fillStyle = color;
      ctx.fillText(label, lx, ly);
    }
  }

  /** Draw the measurements of the frame shown at `t` (row `row`), and the points clicked. */
  function draw(t, row) {
    fit();
    ctx.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
    const box = pictureBox();
    const frameTime = frames.timeOf(row);
    const shown = list.filter((m) => Math.abs(m.time_s - frameTime) < 1e-3
      || (!player.paused && t >= m.time_s && t - m.time_s < SHOWN_WHILE_PLAYING_S));
    for (const m of shown) drawShape(m.points, box, COLOR, valueText(m));
    if (pending.length) drawShape(pending, box, PENDING, null);
    state.drawn = shown.map((m) => m.id);
    for (const b of document.querySelectorAll(".measure-go")) {
      b.classList.toggle("current", state.drawn.includes(b.dataset.id));
    }
  }

  async function finish() {
    const kind = tool;
    const body = { kind, time_s: Math.max(0, player.currentTime || 0), points: pending };
    try {
      const made = await sendJSON("POST", `${base}/measurements`, body);
      list = [...list, made].sort((a, b) => a.time_s - b.time_s);
      renderList();
      announce(`${kind === "angle" ? "Angle" : "Distance"} ${valueText(made)} saved at ${fmtFrameTime(made.time_s)}.`);
    } catch (err) {
      showError(`The ${kind} could not be saved: ${err.message}`);
    }
    setTool(null);
  }

  canvas.addEventListener("click", (ev) => {
    if (!tool) return;
    const rect = canvas.getBoundingClientRect();
    const box = pictureBox();
    const x = (ev.clientX - rect.left - box.x) / box.w;
    const y = (ev.clientY - rect.top - box.y) / box.h;
    if (!(x >= 0 && x <= 1 && y >= 0 && y <= 1)) return;
    pending.push({ x, y });
    if (pending.length >= POINTS[tool]) { finish(); return; }
    draw(player.currentTime || 0, frames.rowAt(player.currentTime || 0));
  });

  async function remove(m) {
    try {
      await sendJSON("DELETE", `${base}/measurements/${encodeURIComponent(m.id)}`);
      list = list.filter((x) => x.id !== m.id);
      renderList();
      announce(`Removed the ${m.kind} at ${fmtFrameTime(m.time_s)}.`);
    } catch (err) {
      showError(`Could not remove it: ${err.message}`);
    }
  }

  function renderList() {
    const box = $("measure-list");
    if (!list.length) {
      box.replaceChildren(el("li", { class: "empty" }, "None yet: pause on a frame and choose a tool."));
    } else {
      box.replaceChildren(...list.map((m) => el("li", { "data-id": m.id },
        el("button", {
          type: "button", class: "measure-go", "data-id": m.id,
          "aria-label": `Show the ${m.kind} of ${valueText(m)} at ${fmtFrameTime(m.time_s)}`,
          onclick: () => { player.pause(); player.currentTime = m.time_s + frames.dt / 2; },
        }, el("span", { class: "t" }, fmtFrameTime(m.time_s)), `${m.kind} ${valueText(m)}`),
        el("button", {
          type: "button", class: "btn measure-remove",
          "aria-label": `Remove the ${m.kind} of ${valueText(m)} at ${fmtFrameTime(m.time_s)}`,
          onclick: () => remove(m),
        }, "Remove"))));
    }
    draw(player.currentTime || 0, frames.rowAt(player.currentTime || 0));
  }

  /** Load the note and measurements kept with the session. */
  async function load() {
    const review = await getJSON(base); // SessionReview
    list = [...review.measurements];
    renderList();
    return review;
  }

  for (const b of document.querySelectorAll(".tool")) b.addEventListener("click", () => setTool(b.dataset.tool));
  new ResizeObserver(() => draw(player.currentTime || 0, frames.rowAt(player.currentTime || 0))).observe(canvas);
  return state;
}

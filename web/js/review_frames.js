// The review page's clip, frame by frame: one frame back or forward (the session's own frame
// interval, from GET /api/sessions/{id}/frames), slow motion, and the readout of the frame
// shown (trunk lean, head angle, foot down, cue in force) from the session's metrics.csv.
import { getJSON, isNum } from "./api.js";

const $ = (id) => document.getElementById(id);
const FALLBACK_FPS = 30;

/** A time in the clip to the hundredth of a second: m:ss.cc. */
export function fmtFrameTime(seconds) {
  if (!isNum(seconds)) return "–";
  const s = Math.max(0, seconds);
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(2).padStart(5, "0")}`;
}

function signedLean(v) {
  if (!isNum(v)) return "–";
  const words = v > 0 ? " forward" : v < 0 ? " backward" : "";
  return `${v > 0 ? "+" : v < 0 ? "\u2212" : ""}${Math.abs(v).toFixed(1)}°${words}`;
}

/**
 * Frame stepping and the readout for `player`. `onFrame(t, row)` is called whenever the frame
 * shown may have changed (while playing, on every animation frame).
 */
export function frameStepper(player, sessionId, { onFrame }) {
  let readout = null; // FrameReadout
  let dt = 1 / FALLBACK_FPS;
  const state = {
    get dt() { return dt; },
    get readout() { return readout; },
    rowAt,
    timeOf: (row) => (readout && row >= 0 && row < readout.time_s.length ? readout.time_s[row] : row * dt),
    step,
    setRate,
    toggle,
    render,
    ready: null,
  };

  /** The row of the frame shown at time t: the last one starting at or before it. */
  function rowAt(t) {
    const times = readout ? readout.time_s : null;
    if (!times || !times.length) return Math.max(0, Math.floor(t / dt + 1e-6));
    let lo = 0, hi = times.length - 1;
    if (t < times[0]) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (times[mid] <= t + 1e-4) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /** Move `n` frames (negative: back), paused, to the middle of the frame's interval. */
  function step(n) {
    if (!player.paused) player.pause();
    const here = Math.floor(player.currentTime / dt + 1e-6);
    const end = isNum(player.duration) ? player.duration : Infinity;
    const last = Math.max(0, Math.floor(end / dt - 0.5));
    const frame = Math.min(Math.max(here + n, 0), last);
    player.currentTime = (frame + 0.5) * dt;
    render();
  }

  function setRate(rate) {
    player.playbackRate = rate;
    for (const b of document.querySelectorAll(".speed")) {
      b.setAttribute("aria-pressed", String(Number(b.dataset.rate) === rate));
    }
  }

  function toggle() {
    if (player.paused) player.play().catch(() => {}); else player.pause();
  }

  function render() {
    const t = player.currentTime || 0;
    const row = rowAt(t);
    $("ro-time").textContent = fmtFrameTime(t);
    if (readout && readout.time_s.length) {
      $("ro-frame").textContent = `${row + 1} of ${readout.time_s.length}`;
      $("ro-trunk").textContent = signedLean(readout.trunk_lean_deg[row]);
      const head = readout.head_angle_deg[row];
      $("ro-head").textContent = isNum(head) ? `${head.toFixed(1)}°` : "–";
      $("ro-foot").textContent = readout.foot_down[row] ?? "–";
      const cue = readout.cue[row];
      $("ro-cue").textContent = cue === null || cue === undefined ? "none" : readout.cues[cue].message;
    }
    onFrame(t, row);
  }

  function loop() {
    render();
    if (!player.paused && !player.ended) requestAnimationFrame(loop);
  }

  const playButton = $("play");
  player.addEventListener("play", () => { playButton.textContent = "Pause"; requestAnimationFrame(loop); });
  player.addEventListener("pause", () => { playButton.textContent = "Play"; render(); });
  for (const ev of ["seeked", "loadedmetadata", "timeupdate", "ratechange"]) player.addEventListener(ev, render);
  playButton.addEventListener("click", toggle);
  $("step-back").addEventListener("click", () => step(-1));
  $("step-forward").addEventListener("click", () => step(1));
  for (const b of document.querySelectorAll(".speed")) {
    b.addEventListener("click", () => setRate(Number(b.dataset.rate)));
  }

  state.ready = getJSON(`/api/sessions/${encodeURIComponent(sessionId)}/frames`).then((body) => {
    readout = body;
    if (isNum(body.frame_interval_s) && body.frame_interval_s > 0) dt = body.frame_interval_s;
    render();
    return body;
  }).catch((err) => {
    $("ro-cue").textContent = `No per-frame measures: ${err.message}`;
    return null;
  });
  return state;
}

// Live coaching page: camera -> JPEG frames over WS /ws/live -> results -> overlay, cues, speech.
import { announce, breakable, clearErrors, fmtClock, getJSON, openCamera, openRecordingSocket, showError } from "./api.js";
import { clearOverlay, drawOverlay, faultyLines } from "./skeleton.js";
import { CaptureClock, FrameRing, sendNumbered, showFrame, whenOnScreen } from "./framelock.js";
import { renderCheckin } from "./checkin.js";
import { buildStatusTiles, resetStatus, showSetupChecks, showStatus } from "./status.js";
import { HEIGHT_RANGE_TEXT, heightCmOrNull, loadPeople, personPicker } from "./person.js";

const params = new URLSearchParams(location.search);
const MAX_IN_FLIGHT = Math.max(1, Number(params.get("inflight")) || 1); // frames sent, no result yet
const FRAME_WIDTH = 640;            // frames are downscaled to this width before JPEG encoding
const JPEG_QUALITY = 0.7;
const MIN_FRAME_INTERVAL_MS = 1000 / 30;
const STALL_MS = 4000;              // no result for this long: assume the frame was lost
const SETUP_SHOWN_MS = 8000;       // the set-up check's verdict stays on screen this long
const GLASS_KEPT = 5000;            // glass-to-glass times kept for the benchmark (minutes of them)

const $ = (id) => document.getElementById(id);
const ui = {
  start: $("start"), stop: $("stop"), useSource: $("use-source"), mute: $("mute"),
  level: $("level"), height: $("height"), suggested: $("suggested"), guide: $("guide"),
  elapsed: $("elapsed"), target: $("target"), timerFill: $("timer-fill"),
  cue: $("cue"), cueLog: $("cue-log"), video: $("video"), sourceFrame: $("source-frame"),
  overlay: $("overlay"), frameCanvas: $("frame-canvas"), placeholder: $("viewer-placeholder"), after: $("after"),
  reviewLink: $("review-link"), checkin: $("checkin"), setup: $("setup"),
  speakWhere: $("speak-where"), setupCheck: $("setup-check"),
  walkSetting: $("walk-setting"),
};
const tiles = buildStatusTiles($("walker-status"), { setting: true });

// Test and debugging hook: what happened, without reaching into closures.
const debug = (window.__posecoach = {
  framesSent: 0, results: 0, cuesSeen: [], spoken: [], sessionId: null, finished: false, lastResult: null,
  latencyMs: null, overlaysDrawn: 0, synced: false, cueTextsShown: [], setup: null,
  personSeen: [], // per result: did it have the walker
  // Each overlay is drawn on the frame its result was computed from (0 frames apart):
  framesLocked: 0, // results drawn on their own frame
  glassMs: [],     // per drawn overlay: ms from the camera taking the frame to it on screen
  onOverlay: null, // called with (result, frame canvas) after each overlay is drawn
});

// GET /api/config (ConfigBody); these stand in while the server cannot be asked.
let config = {
  levels: ["beginner", "intermediate", "advanced"],
  default_level: null,
  suggested_minutes: { beginner: 5, intermediate: 10, advanced: 15 },
  setup_guide: [],
  source: false,
  rules: [],
};
let muted = localStorage.getItem("posecoach.muted") === "1";
// Where cues are spoken: "phone" (this device), "viewer" (the big screen) or "both".
let speakWhere = ["phone", "viewer", "both"].includes(localStorage.getItem("posecoach.speak"))
  ? localStorage.getItem("posecoach.speak") : "phone";
let s = null; // the running session state
let people = null; // the person picker: whose session this is

/** The person's level and height, where known, in the set-up form. */
function usePerson(person) {
  if (person?.level && [...ui.level.options].some((o) => o.value === person.level)) ui.level.value = person.level;
  if (person && typeof person.height_cm === "number") ui.height.value = String(Math.round(person.height_cm));
  updateSuggested();
}

/** The person picker: whose session this is. */
async function loadPersonPicker() {
  people = personPicker($("person-pick"), await loadPeople(), { onChange: usePerson });
  usePerson(people.person());
}

// ---------------------------------------------------------------- configuration

async function loadConfig() {
  try {
    config = await getJSON("/api/config");
  } catch (err) {
    showError(`Could not load the settings (${err.message}); using defaults.`);
  }
  if (config.levels.length) {
    const current = ui.level.value;
    ui.level.replaceChildren(...config.levels.map((name) => {
      const o = document.createElement("option");
      o.value = name;
      o.textContent = name.charAt(0).toUpperCase() + name.slice(1);
      return o;
    }));
    ui.level.value = config.levels.includes(current) ? current : config.levels[0];
  }
  const saved = localStorage.getItem("posecoach.level");
  if (saved && [...ui.level.options].some((o) => o.value === saved)) ui.level.value = saved;
  else if (config.default_level) ui.level.value = config.default_level;
  const h = localStorage.getItem("posecoach.height");
  if (h) ui.height.value = h;
  if (config.setup_guide.length) {
    // The short guide above stays (distance, height, space); the server's full guide goes below it.
    $("guide-more").replaceChildren(...config.setup_guide.map((t) => { const li = document.createElement("li"); li.textContent = t; return li; }));
    $("guide-more-box").hidden = false;
  }
  ui.useSource.hidden = !config.source;
  updateSuggested();
}

function suggestedMinutes() {
  return config.suggested_minutes[ui.level.value] ?? 5;
}

function updateSuggested() {
  const m = suggestedMinutes();
  ui.suggested.textContent = `${m} minutes`;
  ui.target.textContent = fmtClock(m * 60);
}

// ---------------------------------------------------------------- UI state

function resetIndicators() {
  resetStatus(tiles);
  ui.setupCheck.hidden = true;
}

function setCue(text, severity) {
  if (ui.cue.textContent !== text) ui.cue.textContent = text;
  ui.cue.dataset.severity = severity;
}

function setRunning(running) {
  const refocus = running ? document.activeElement === ui.start || document.activeElement === ui.useSource
    : document.activeElement === ui.stop;
  document.body.classList.toggle("running", running);
  ui.start.disabled = running;
  ui.useSource.disabled = running;
  ui.stop.disabled = !running;
  ui.level.disabled = running;
  ui.height.disabled = running;
  ui.walkSetting.disabled = running;
  if (people) people.select.disabled = running;
  if (refocus) (running ? ui.stop : ui.start).focus(); // keyboard users keep their place
}

function updateMute() {
  ui.mute.setAttribute("aria-pressed", String(muted));
  ui.mute.querySelector(".toggle-text").textContent = muted ? "Voice muted" : "Mute voice";
  ui.mute.setAttribute("aria-label", "Mute voice");
}

// ---------------------------------------------------------------- speech

let speechQueue = 0;

function speak(text, severity = "info") {
  debug.spoken.push(text);
  if (muted || !("speechSynthesis" in window)) return;
  const synth = window.speechSynthesis;
  if (severity === "critical") { synth.cancel(); speechQueue = 0; }
  else if (speechQueue >= 2) return; // never pile up stale cues
  const u = new SpeechSynthesisUtterance(text);
  u.rate = 1.0;
  u.volume = 1.0;
  speechQueue += 1;
  u.onend = u.onerror = () => { speechQueue = Math.max(0, speechQueue - 1); };
  synth.speak(u);
}

// ---------------------------------------------------------------- results

function mediaSize() {
  if (s && s.mode === "source") return [ui.sourceFrame.naturalWidth, ui.sourceFrame.naturalHeight];
  if (s && s.synced) return [ui.frameCanvas.width, ui.frameCanvas.height];
  return [ui.video.videoWidth, ui.video.videoHeight];
}

function redraw() {
  const shown = s && (s.mode === "camera" ? s.shown : s.last);
  if (!shown) { clearOverlay(ui.overlay); return; }
  const [w, h] = mediaSize();
  if (drawOverlay(ui.overlay, shown, w, h, faultyLines(shown.cues, config.rules))) debug.overlaysDrawn += 1;
}

/** Show a result on the frame it was computed from (the frame canvas over the live video);
 *  a result whose frame is no longer kept leaves the last frame and its overlay up. */
function showLocked(msg) {
  const frame = s.ring.find(msg.frame_no);
  if (!frame) return;
  showFrame(ui.frameCanvas, frame);
  if (!s.synced) setSynced(true);
  s.shown = msg;
  redraw();
  debug.framesLocked += 1;
  if (debug.onOverlay) debug.onOverlay(msg, ui.frameCanvas);
  debug.captureClock = s.clock.source;
  whenOnScreen(frame.capturedAt, (ms) => {
    debug.glassMs.push(ms);
    if (debug.glassMs.length > GLASS_KEPT) debug.glassMs.shift();
  });
}

function logCue(cue) {
  const li = document.createElement("li");
  li.dataset.severity = cue.severity;
  li.textContent = `${fmtClock(cue.start_s ?? 0)}  ${cue.message}`;
  ui.cueLog.prepend(li);
  while (ui.cueLog.children.length > 8) ui.cueLog.lastElementChild.remove();
}

// The start-up check (result.setup): one tile per check; the verdict is spoken once.
function showSetup(setup) {
  debug.setup = setup;
  ui.setupCheck.hidden = false;
  const line = showSetupChecks(ui.setupCheck, setup);
  setCue(line.text, line.severity);
  if (!line.done) return;
  const verdict = line.text;
  announce(verdict);
  if (speakWhere !== "viewer") speak(verdict, setup.passed ? "info" : "warning");
  s.setupShownUntil = performance.now() + SETUP_SHOWN_MS;
}

function handleResult(msg) {
  debug.results += 1;
  debug.personSeen.push(Boolean(msg.person));
  if (debug.personSeen.length > 1000) debug.personSeen.shift();
  debug.lastResult = msg;
  s.last = msg;
  if (s.mode === "camera") showLocked(msg);
  else redraw();
  if (msg.setup) showSetup(msg.setup);
  else if (s.setupShownUntil && performance.now() > s.setupShownUntil) {
    ui.setupCheck.hidden = true;
    s.setupShownUntil = null;
  }

  showStatus(tiles, msg, s.stepTimes);

  for (const cue of msg.new_cues) {
    debug.cuesSeen.push(cue);
    logCue(cue);
    if (speakWhere !== "viewer") speak(cue.message, cue.severity);
  }
  const active = msg.cues[0];
  if (msg.setup || (s.setupShownUntil && !active)) return; // the set-up verdict holds the cue line
  if (active) {
    setCue(active.message, active.praise ? "good" : active.severity);
    if (!debug.cueTextsShown.includes(active.message)) debug.cueTextsShown.push(active.message);
  }
  else if (!msg.person) setCue("Step into the camera's view", "warning");
  else setCue("Keep going", "idle");
}

function handleMessage(ev) {
  if (typeof ev.data !== "string") return;
  let msg;
  try { msg = JSON.parse(ev.data); } catch (_) { return; }
  if (!s) return;
  switch (msg.type) {
    case "speak":
      setSpeakWhere(msg.speak);
      break;
    case "started":
      s.sessionId = msg.session_id;
      debug.sessionId = msg.session_id;
      s.t0 = performance.now();
      announce("Session started.");
      if (s.mode === "camera") pump();
      break;
    case "result":
      s.inFlight = Math.max(0, s.inFlight - 1);
      if (s.mode === "camera") measureRoundTrip();
      handleResult(msg);
      if (s.mode === "camera") schedulePump();
      break;
    case "frame":
      if (msg.jpeg) {
        ui.sourceFrame.src = `data:image/jpeg;base64,${msg.jpeg}`;
        ui.sourceFrame.hidden = false;
        ui.placeholder.hidden = true;
      }
      break;
    case "finished":
      s.sessionId = msg.session_id ?? s.sessionId;
      if (msg.status === "failed") showError(`The recording could not be finished: ${msg.error || "unknown error"}`);
      debug.finished = true;
      if (s.onFinished) s.onFinished();
      break;
    case "error":
      showError(msg.message || "The server reported an error.");
      if (s.mode === "camera" && s.inFlight > 0) { // a frame was refused: send the next one
        s.inFlight -= 1;
        schedulePump();
      }
      break;
    default:
      break;
  }
}

// ---------------------------------------------------------------- frames

/** Show the analysed frames (with their overlays) over the live video, or the live video. */
function setSynced(on) {
  if (s.synced === on) return;
  s.synced = on;
  debug.synced = on;
  ui.frameCanvas.hidden = !on;
  ui.video.classList.toggle("behind", on);
}

/** Round-trip bookkeeping, from frame sent to its result. */
function measureRoundTrip() {
  const rtt = performance.now() - s.lastSent;
  s.latency = s.latency === null ? rtt : 0.8 * s.latency + 0.2 * rtt;
  debug.latencyMs = Math.round(s.latency);
}

function schedulePump() {
  const wait = Math.max(0, MIN_FRAME_INTERVAL_MS - (performance.now() - s.lastSent));
  clearTimeout(s.pumpTimer);
  s.pumpTimer = setTimeout(pump, wait);
}

function pump() {
  if (!s || !s.running || s.mode !== "camera" || !s.sessionId) return;
  if (!s.ws || s.ws.readyState !== WebSocket.OPEN || s.inFlight >= MAX_IN_FLIGHT) return;
  const v = ui.video;
  if (v.readyState < 2 || !v.videoWidth) { s.pumpTimer = setTimeout(pump, 50); return; }
  const w = Math.min(FRAME_WIDTH, v.videoWidth);
  const h = Math.round((v.videoHeight / v.videoWidth) * w);
  if (s.cap.width !== w || s.cap.height !== h) { s.cap.width = w; s.cap.height = h; }
  const capturedAt = s.clock.now();
  s.capCtx.drawImage(v, 0, 0, w, h);
  const no = s.ring.keep(s.cap, w, h, capturedAt); // kept to show under its result
  s.inFlight += 1;
  s.lastSent = performance.now();
  const ws = s.ws;
  s.cap.toBlob((blob) => {
    if (!s || ws !== s.ws || !s.running || ws.readyState !== WebSocket.OPEN || !blob) {
      if (s) s.inFlight = Math.max(0, s.inFlight - 1);
      return;
    }
    sendNumbered(ws, no, blob);
    debug.framesSent += 1;
  }, "image/jpeg", JPEG_QUALITY);
}

function tick() {
  if (!s || !s.running) return;
  if (s.t0 !== null) {
    const el = (performance.now() - s.t0) / 1000;
    const target = suggestedMinutes() * 60;
    ui.elapsed.textContent = fmtClock(el);
    ui.timerFill.style.width = `${Math.min(100, (el / target) * 100)}%`;
    if (el >= target && !s.targetReached) {
      s.targetReached = true;
      document.body.classList.add("target-reached");
      speak(`That's ${suggestedMinutes()} minutes. Well done. Slow down and stop when you are ready.`);
      announce("Suggested session time reached.");
    }
  }
  if (s.mode === "camera" && s.inFlight > 0 && performance.now() - s.lastSent > STALL_MS) {
    s.inFlight = 0; // a lost frame or result: never stall forever
    pump();
  }
}

// ---------------------------------------------------------------- start / stop

function levelAndHeight() {
  const height_cm = heightCmOrNull(ui.height.value);
  if (ui.height.value && height_cm === null) showError(`Height ignored: enter a number of centimetres ${HEIGHT_RANGE_TEXT}.`);
  localStorage.setItem("posecoach.level", ui.level.value);
  if (height_cm) localStorage.setItem("posecoach.height", String(height_cm));
  return { level: ui.level.value, height_cm };
}

async function start(mode) {
  if (s && s.running) return;
  clearErrors();
  const { level, height_cm } = levelAndHeight();
  const personId = people?.person()?.id;
  let stream = null;
  if (mode === "camera") {
    stream = await openCamera({ note: " (see the note above)", facingMode: "user" });
    if (!stream) return;
    ui.video.srcObject = stream;
    ui.video.hidden = false;
    ui.sourceFrame.hidden = true;
    ui.placeholder.hidden = true;
    try { await ui.video.play(); } catch (_) { /* autoplay of a muted stream is allowed */ }
  }
  const cap = document.createElement("canvas");
  s = {
    mode, stream, running: true, sessionId: null, inFlight: 0, lastSent: 0, t0: null, last: null,
    stepTimes: [], cap, capCtx: cap.getContext("2d"), ws: null, pumpTimer: null, targetReached: false,
    onFinished: null, stopping: false, synced: false, latency: null, shown: null,
    ring: new FrameRing(MAX_IN_FLIGHT + 6), clock: captureClock(),
  };
  debug.finished = false;
  debug.sessionId = null;
  setRunning(true);
  resetIndicators();
  ui.cueLog.replaceChildren();
  ui.after.hidden = true;
  document.body.classList.remove("target-reached");
  ui.elapsed.textContent = "0:00";
  ui.timerFill.style.width = "0%";
  setCue("Connecting…", "idle");
  speak("Starting. Walk backwards slowly, and keep your head up.");

  openRecordingSocket(mode === "source" ? "/ws/source" : "/ws/live", s, {
    current: () => s,
    onOpen: (ws) => {
      ws.send(JSON.stringify({
        type: "start", level, height_cm, speak: speakWhere, setting: ui.walkSetting.value,
        ...(personId ? { person_id: personId } : {}),
      }));
      setCue(mode === "source" ? "Using the server camera" : "Walk backwards slowly", "idle");
    },
    onMessage: handleMessage,
    onLost: finishUI,
  });
  s.timer = setInterval(tick, 250);
}

let clock = null;
/** The one clock of the camera's pictures (it follows the video element). */
function captureClock() {
  if (!clock) clock = new CaptureClock(ui.video);
  return clock;
}

function releaseCamera() {
  if (s && s.stream) for (const t of s.stream.getTracks()) t.stop();
  ui.video.srcObject = null;
}

function finishUI() {
  if (!s) return;
  const id = s.sessionId;
  s.running = false;
  clearInterval(s.timer);
  clearTimeout(s.pumpTimer);
  releaseCamera();
  if (s.ws && s.ws.readyState <= WebSocket.OPEN) s.ws.close();
  setRunning(false);
  if (s.synced) setSynced(false);
  s.last = null;
  s.shown = null;
  clearOverlay(ui.overlay);
  ui.placeholder.hidden = false;
  ui.sourceFrame.hidden = true;
  if (id) {
    ui.after.hidden = false;
    ui.reviewLink.href = `/review/${encodeURIComponent(id)}`;
    renderCheckin(ui.checkin, id);
    setCue("Session saved. Well done.", "good");
    announce("Session stopped and saved.");
    ui.reviewLink.focus();
  } else {
    setCue("Press Start when you are ready", "idle");
  }
}

async function stop() {
  if (!s || !s.running || s.stopping) return;
  s.stopping = true;
  ui.stop.disabled = true;
  setCue("Saving the session…", "idle");
  clearTimeout(s.pumpTimer);
  const ws = s.ws;
  const done = new Promise((resolve) => {
    s.onFinished = resolve;
    setTimeout(resolve, 20000);
  });
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify({ type: "stop" }));
    await done;
  }
  finishUI();
}

// ---------------------------------------------------------------- wiring

function setSpeakWhere(where) {
  if (!["phone", "viewer", "both"].includes(where)) return;
  speakWhere = where;
  debug.speak = where;
  ui.speakWhere.value = where;
  localStorage.setItem("posecoach.speak", where);
}

// GET /api/lan (LanInfo): the QR code for the phone, and on the phone a word about the
// certificate warning it showed before this page.
async function loadLan() {
  let lan;
  try {
    lan = await getJSON("/api/lan");
  } catch (_) {
    return;
  }
  const local = ["localhost", "127.0.0.1", "[::1]", "::1"].includes(location.hostname);
  const onPhone = window.matchMedia && window.matchMedia("(pointer: coarse)").matches;
  if (lan.lan && lan.phone_url) {
    $("phone-qr").src = "/api/lan/qr.svg";
    $("phone-url").href = lan.phone_url;
    $("phone-url").textContent = lan.phone_url;
    if (lan.viewer_url) $("viewer-link").href = lan.viewer_url;
    $("phone-lan").hidden = false;
    $("phone-off").hidden = true;
  }
  // On the phone (touch first, or a narrow screen that opened the network address) this page
  // is the camera: it shows where to watch, not a code for itself to scan.
  const narrow = window.matchMedia && window.matchMedia("(max-width: 700px)").matches;
  if (lan.lan && lan.viewer_url && (onPhone || (narrow && !local))) {
    $("phone-heading").textContent = "Watch on a big screen";
    $("phone-lan").hidden = true;
    $("phone-off").hidden = true;
    $("big-screen-url").href = lan.viewer_url;
    $("big-screen-url").replaceChildren(breakable(lan.viewer_url));
    $("phone-here").hidden = false;
  } else if (onPhone && !local) $("phone-camera").hidden = true;
  if (lan.self_signed && location.protocol === "https:" && !local &&
      localStorage.getItem("posecoach.certNoteSeen") !== "1") {
    $("cert-note").hidden = false;
  }
}

function secureContextNote() {
  const local = ["localhost", "127.0.0.1", "[::1]", "::1"].includes(location.hostname);
  if (!window.isSecureContext && !local) {
    $("secure-origin").textContent = location.origin;
    $("secure-note").hidden = false;
  }
}

ui.start.addEventListener("click", () => start("camera"));
ui.useSource.addEventListener("click", () => start("source"));
ui.stop.addEventListener("click", stop);
ui.mute.addEventListener("click", () => {
  muted = !muted;
  localStorage.setItem("posecoach.muted", muted ? "1" : "0");
  if (muted && "speechSynthesis" in window) window.speechSynthesis.cancel();
  updateMute();
});
ui.level.addEventListener("change", updateSuggested);
ui.speakWhere.addEventListener("change", () => {
  setSpeakWhere(ui.speakWhere.value);
  if (s && s.running && s.ws && s.ws.readyState === WebSocket.OPEN) {
    s.ws.send(JSON.stringify({ type: "speak", speak: speakWhere }));
  }
});
$("cert-note-ok").addEventListener("click", () => {
  localStorage.setItem("posecoach.certNoteSeen", "1");
  $("cert-note").hidden = true;
});
ui.sourceFrame.addEventListener("load", redraw);
window.addEventListener("resize", redraw);
document.addEventListener("keydown", (ev) => {
  if (ev.key === "Escape" && s && s.running) stop();
});
window.addEventListener("beforeunload", () => {
  if (s && s.running && s.ws && s.ws.readyState === WebSocket.OPEN) s.ws.send(JSON.stringify({ type: "stop" }));
});

updateMute();
setSpeakWhere(speakWhere);
secureContextNote();
loadConfig().then(loadPersonPicker);
loadLan();

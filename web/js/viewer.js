// Big-screen viewer: a phone's live session on the laptop or TV, through WS /ws/view.
// The server sends the list of running sessions; the viewer watches one (the only one by
// itself, or the one picked) and gets the frames the phone sent (binary: 8-byte time_s, then
// the JPEG) and the results (JSON), and paints each result on the frame it was computed from:
// the frame whose time is the result's `t` (the overlay on its own frame). When the session
// ends it links to its review and waits for the next one.
import { announce, getJSON, isNum, showError, wsURL } from "./api.js";
import { clearOverlay, drawOverlay, faultyLines } from "./skeleton.js";
import { buildStatusTiles, resetStatus, showSetupChecks, showStatus } from "./status.js";

const FRAMES_KEPT = 40;          // frames waiting for their result
const SAME_FRAME_S = 1e-6;       // a result's `t` is its frame's time, exactly
const SETUP_SHOWN_MS = 8000;     // the set-up check's verdict stays on screen this long
const RECONNECT_MS = 2000;

const $ = (id) => document.getElementById(id);
const ui = {
  picker: $("picker"), pickerEmpty: $("picker-empty"), sessions: $("sessions"), speakWhere: $("speak-where"),
  watching: $("watching"), cue: $("cue"), frame: $("frame"), overlay: $("overlay"), placeholder: $("viewer-placeholder"),
  setupCheck: $("setup-check"), after: $("after"), reviewLink: $("review-link"),
  viewerPanel: $("viewer-panel"), status: $("walker-status"),
};
const tiles = buildStatusTiles($("walker-status"), { setting: true });
const PICKER_EMPTY = ui.pickerEmpty.innerHTML;

// Test and debugging hook.
const debug = (window.__posecoachViewer = {
  sessions: [], watching: null, results: 0, framesShown: 0, spoken: [], lastResult: null, speak: null,
  cueTextsShown: [], connected: false, setup: null, ended: null, sessionsWatched: 0,
  framesLocked: 0,  // results drawn on the frame they were computed from
  onOverlay: null,  // called with (result, frame canvas) after each overlay is drawn
});

const params = new URLSearchParams(location.search);
let rules = [];
let ws = null;
let watching = null;     // the session id watched
let wanted = params.get("session"); // a session asked for in the address
let speakWhere = "phone";
let frames = [];         // [{t, blob}] newest last
let stepTimes = [];
let shown = null;        // {w, h, result}: the frame on the canvas and the result drawn on it
let setupShownUntil = null;
let generation = 0;      // counts the views reset, so a frame decoded late is not shown on the next
let painting = Promise.resolve();
let endedNote = null;    // what the cue says after a session ended, until the next one

// ---------------------------------------------------------------- indicators and cue

function resetView() {
  resetStatus(tiles);
  frames = [];
  stepTimes = [];
  shown = null;
  generation += 1;
  setupShownUntil = null;
  ui.setupCheck.hidden = true;
  ui.frame.getContext("2d").clearRect(0, 0, ui.frame.width, ui.frame.height);
  clearOverlay(ui.overlay);
  ui.placeholder.hidden = false;
}

function setCue(text, severity) {
  if (ui.cue.textContent !== text) ui.cue.textContent = text;
  ui.cue.dataset.severity = severity;
}

function speakHere() {
  return speakWhere === "viewer" || speakWhere === "both";
}

let speechQueue = 0;

function speak(text, severity) {
  if (!speakHere()) return;
  debug.spoken.push(text);
  if (!("speechSynthesis" in window)) return;
  const synth = window.speechSynthesis;
  if (severity === "critical") { synth.cancel(); speechQueue = 0; }
  else if (speechQueue >= 2) return;
  const u = new SpeechSynthesisUtterance(text);
  speechQueue += 1;
  u.onend = u.onerror = () => { speechQueue = Math.max(0, speechQueue - 1); };
  synth.speak(u);
}

function setSpeak(where) {
  speakWhere = where;
  debug.speak = where;
  ui.speakWhere.value = where;
}

// ---------------------------------------------------------------- sessions

function renderSessions(list) {
  debug.sessions = list;
  ui.pickerEmpty.hidden = list.length > 0;
  ui.sessions.replaceChildren(...list.map((item, i) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = item.session_id === watching ? "btn btn-primary" : "btn";
    const time = new Date(item.started_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    b.textContent = `Phone ${i + 1}: ${item.level}, since ${time}`;
    b.setAttribute("aria-pressed", String(item.session_id === watching));
    b.addEventListener("click", () => watch(item.session_id));
    li.append(b);
    return li;
  }));
  const ids = list.map((s) => s.session_id);
  if (watching && !ids.includes(watching)) stopWatching("The session has ended.");
  if (endedNote && !list.length) ui.pickerEmpty.textContent = "Waiting for the next session: press Start on the phone and it appears here by itself.";
  else ui.pickerEmpty.innerHTML = PICKER_EMPTY;
  if (!watching) {
    const pick = wanted && ids.includes(wanted) ? wanted : list.length === 1 ? ids[0] : null;
    if (pick) watch(pick);
    else if (list.length > 1) setCue("Pick a phone to watch", "idle");
    else if (endedNote) setCue(endedNote, "good");
    else setCue("Waiting for a phone", "idle");
  }
}

function send(message) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

function watch(id) {
  if (id === watching) return;
  resetView();
  watching = id;
  debug.watching = id;
  wanted = id;
  endedNote = null;
  ui.after.hidden = true;
  debug.sessionsWatched += 1;
  send({ type: "watch", session_id: id });
  setCue("Connecting to the phone…", "idle");
  document.body.classList.add("watching");
  showWatching(true);
}

/** The phone's picture and tiles while a session is watched; between sessions only the cue,
 *  the last session's review link and the list of sessions. */
function showWatching(on) {
  ui.viewerPanel.hidden = !on;
  ui.status.hidden = !on;
}

/** The session ended: its review link (when it was saved), then wait for the next one. */
function ended(msg) {
  const saved = msg.status !== "failed";
  debug.ended = { session_id: msg.session_id, saved };
  if (saved) {
    ui.reviewLink.href = `/review/${encodeURIComponent(msg.session_id)}`;
    ui.after.hidden = false;
  }
  stopWatching(saved ? "Session saved. Well done." : `The session was not saved: ${msg.error || "it failed"}.`);
}

function stopWatching(message) {
  watching = null;
  debug.watching = null;
  ui.speakWhere.disabled = true;
  ui.watching.textContent = "";
  document.body.classList.remove("watching");
  showWatching(false);
  resetView();
  endedNote = message;
  setCue(message, "good");
  announce(message);
}

// ---------------------------------------------------------------- frames and results

function keepFrame(buffer) {
  if (!watching || buffer.byteLength < 9) return;
  const t = new DataView(buffer).getFloat64(0, false);
  frames.push({ t, blob: new Blob([buffer.slice(8)], { type: "image/jpeg" }) });
  if (frames.length > FRAMES_KEPT) frames.splice(0, frames.length - FRAMES_KEPT);
}

/** The frame a result was computed from (the one whose time is the result's), or null; older
 *  frames are forgotten, as no result will need them. */
function frameFor(t) {
  const i = frames.findIndex((f) => Math.abs(f.t - t) < SAME_FRAME_S);
  if (i < 0) return null;
  const f = frames[i];
  frames = frames.slice(i + 1);
  return f;
}

/** Paint a result on its own frame, both in the same task so they reach the screen together;
 *  without its frame (a frame this screen missed) the last frame and overlay stay up. */
async function paint(msg) {
  const f = isNum(msg.t) ? frameFor(msg.t) : null;
  if (!f) return;
  const gen = generation;
  let bitmap;
  try {
    bitmap = await createImageBitmap(f.blob);
  } catch (_) {
    return; // a damaged frame: keep the last one
  }
  if (gen !== generation) { bitmap.close(); return; } // the session ended meanwhile
  if (ui.frame.width !== bitmap.width || ui.frame.height !== bitmap.height) {
    ui.frame.width = bitmap.width;
    ui.frame.height = bitmap.height;
  }
  ui.frame.getContext("2d").drawImage(bitmap, 0, 0);
  shown = { w: bitmap.width, h: bitmap.height, result: msg };
  bitmap.close();
  debug.framesShown += 1;
  ui.placeholder.hidden = true;
  redraw();
  debug.framesLocked += 1;
  if (debug.onOverlay) debug.onOverlay(msg, ui.frame);
}

function redraw() {
  if (!shown) { clearOverlay(ui.overlay); return; }
  drawOverlay(ui.overlay, shown.result, shown.w, shown.h, faultyLines(shown.result.cues, rules));
}

/** The start-up check, as the phone shows it; its verdict holds the cue line for a while. */
function showSetup(setup) {
  debug.setup = setup;
  ui.setupCheck.hidden = false;
  const line = showSetupChecks(ui.setupCheck, setup);
  setCue(line.text, line.severity);
  if (line.done) {
    setupShownUntil = performance.now() + SETUP_SHOWN_MS;
    speak(line.text, setup.passed ? "info" : "warning");
  }
}

function handleResult(msg) {
  debug.results += 1;
  debug.lastResult = msg;
  painting = painting.then(() => paint(msg));
  showStatus(tiles, msg, stepTimes);
  if (msg.setup) showSetup(msg.setup);
  else if (setupShownUntil && performance.now() > setupShownUntil) {
    ui.setupCheck.hidden = true;
    setupShownUntil = null;
  }

  for (const cue of msg.new_cues) speak(cue.message, cue.severity);
  const active = msg.cues[0];
  if (msg.setup || (setupShownUntil && !active)) return; // the set-up verdict holds the cue line
  if (active) {
    setCue(active.message, active.praise ? "good" : active.severity);
    if (!debug.cueTextsShown.includes(active.message)) debug.cueTextsShown.push(active.message);
  } else if (!msg.person) setCue("Step into the camera's view", "warning");
  else setCue("Keep going", "idle");
}

function handleMessage(ev) {
  if (typeof ev.data !== "string") { keepFrame(ev.data); return; }
  let msg;
  try { msg = JSON.parse(ev.data); } catch (_) { return; }
  switch (msg.type) {
    case "sessions":
      renderSessions(msg.sessions);
      break;
    case "watching":
      if (msg.session && msg.session.session_id === watching) {
        setSpeak(msg.session.speak);
        ui.speakWhere.disabled = false;
        ui.watching.textContent = "Watching the phone's session live.";
        setCue("Walk backwards slowly", "idle");
        announce("Watching the phone's session.");
        renderSessions(debug.sessions);
      }
      break;
    case "speak":
      if (msg.session_id === watching) setSpeak(msg.speak);
      break;
    case "result":
      if (watching) handleResult(msg);
      break;
    case "finished":
      if (msg.session_id === watching) ended(msg);
      break;
    case "error":
      showError(msg.message || "The server reported an error.");
      break;
    default:
      break;
  }
}

function connect() {
  ws = new WebSocket(wsURL("/ws/view"));
  ws.binaryType = "arraybuffer";
  ws.onopen = () => { debug.connected = true; };
  ws.onmessage = handleMessage;
  ws.onclose = (ev) => {
    debug.connected = false;
    if (ev.code === 1008) {
      showError(`posecoach refused this screen: ${ev.reason || "it needs the access token"}. Open the viewer address printed when posecoach started.`);
      return;
    }
    if (watching) stopWatching("The connection to posecoach was lost; reconnecting…");
    setTimeout(connect, RECONNECT_MS);
  };
}

// ---------------------------------------------------------------- wiring

ui.speakWhere.addEventListener("change", () => {
  setSpeak(ui.speakWhere.value);
  send({ type: "speak", speak: ui.speakWhere.value });
  // The choice is a click on this screen, which also lets its browser speak.
  if (speakHere() && "speechSynthesis" in window) speak("Cues will be spoken here.", "info");
});
window.addEventListener("resize", redraw);

async function loadRules() {
  try {
    rules = (await getJSON("/api/config")).rules;
  } catch (err) {
    showError(`Could not load the settings (${err.message}).`);
  }
}

loadRules();
connect();

// The 3-metre backward walk test, live: camera -> JPEG frames over WS /ws/live (a session
// started with "test": "3m-backward") -> the skeleton, each trial's time, the final result.
// The clock is the server's: a trial starts when the walker leaves a still stance, never at
// the button or the spoken "go".
import {
  announce, clearErrors, el, fileURL, fmtNum, getJSON, isNum, openCamera, openRecordingSocket, showError,
} from "./api.js";
import { containRect, drawOverlay } from "./skeleton.js";
import { CaptureClock, FrameRing, sendNumbered, showFrame } from "./framelock.js";
import {
  HEIGHT_RANGE_TEXT, POPULATIONS, heightCmOrNull, loadPeople, personPicker,
} from "./person.js";

const FRAME_WIDTH = 640;          // frames (and the floor marks) are in pixels of this width
const JPEG_QUALITY = 0.7;
const MIN_FRAME_INTERVAL_MS = 1000 / 30;
const STALL_MS = 4000;            // no result for this long: the frame was lost, send another
// While a trial may be under way, the trials walked so far are timed again this long after the
// last answer; between trials (after one is found, until Next trial) they are not.
const TIME_TRIALS_AFTER_MS = 1200;
const COUNT_STEP_MS = 1000;
const REPORT = "clinician_report.html";

const $ = (id) => document.getElementById(id);
const ui = {
  cameraOn: $("camera-on"), mark: $("mark"), start: $("start"), next: $("next"), finish: $("finish"),
  say: $("say"), video: $("video"), overlay: $("overlay"), placeholder: $("viewer-placeholder"),
  marking: $("marking"), markCanvas: $("mark-canvas"), markingState: $("marking-state"),
  markRedo: $("mark-redo"), markDone: $("mark-done"), population: $("population"), height: $("height"),
  scaleState: $("scale-state"), trialsBox: $("trials-box"), trialList: $("trial-list"),
  trialNote: $("trial-note"), result: $("result"), resultTime: $("result-time"),
  interpretation: $("interpretation"), reportLink: $("report-link"), reviewLink: $("review-link"),
};

// Test and debugging hook: what happened, without reaching into closures.
const debug = (window.__timedtest = {
  marks: [], sessionId: null, trials: null, finished: null, spoken: [], said: [], results: 0,
  framesLocked: 0, // results drawn on the frame they were computed from
  onOverlay: null,  // called with (result, frame canvas) after each overlay is drawn
});

let stream = null;       // the camera
let frame = null;        // {w, h}: the size of the frames sent (and of the floor marks' pixels)
let marks = [];          // up to 4 [x, y] points in frame pixels: the start line, then the far line
let people = null;       // the person picker
let s = null;            // the running test
// During the test the page shows each analysed frame with its skeleton (the overlay on its own
// frame), on this canvas over the live video.
const frameCanvas = document.createElement("canvas");
frameCanvas.hidden = true;
frameCanvas.setAttribute("aria-hidden", "true");
ui.overlay.before(frameCanvas);
const clock = new CaptureClock(ui.video);

// ---------------------------------------------------------------- words

function say(text, severity = "info", spoken = text) {
  ui.say.textContent = text;
  ui.say.dataset.severity = severity;
  debug.said.push(text);
  if (spoken) speak(spoken);
}

function speak(text) {
  debug.spoken.push(text);
  const synth = window.speechSynthesis;
  if (!synth || typeof SpeechSynthesisUtterance === "undefined") return;
  const u = new SpeechSynthesisUtterance(text);
  u.rate = 1.0;
  synth.speak(u);
}

function fmtTime(x) {
  return isNum(x) ? `${x.toFixed(2)} s` : "–";
}

// ---------------------------------------------------------------- the walker

function heightCm() {
  return heightCmOrNull(ui.height.value);
}

function usePerson(person) {
  if (!person) return;
  if (isNum(person.height_cm)) ui.height.value = String(Math.round(person.height_cm));
  if (person.population) ui.population.value = person.population;
  showScale();
}

async function loadWalker() {
  ui.population.replaceChildren(...POPULATIONS.map((p) => el("option", { value: p.value }, p.label)));
  people = personPicker($("person-pick"), await loadPeople(), { onChange: usePerson });
  usePerson(people.person());
}

function showScale() {
  const text = marks.length === 4 ? "the marked floor lines"
    : heightCm() ? `the walker's height (${heightCm()} cm)` : "none yet: mark the floor lines or enter the height";
  ui.scaleState.textContent = text;
}

// ---------------------------------------------------------------- camera

async function cameraOn() {
  clearErrors();
  stream = await openCamera();
  if (!stream) return;
  ui.video.srcObject = stream;
  ui.placeholder.hidden = true;
  try { await ui.video.play(); } catch (_) { /* autoplay of a muted stream is allowed */ }
  await new Promise((resolve) => {
    if (ui.video.videoWidth) resolve();
    else ui.video.addEventListener("loadedmetadata", resolve, { once: true });
  });
  const w = Math.min(FRAME_WIDTH, ui.video.videoWidth);
  frame = { w, h: Math.round((ui.video.videoHeight / ui.video.videoWidth) * w) };
  ui.cameraOn.disabled = true;
  ui.mark.disabled = false;
  ui.start.disabled = false;
  say("Camera on. Mark the floor lines, or enter the walker's height.", "idle", "");
  requestAnimationFrame(paint);
}

/** The camera picture at the frames' size, drawn on `canvas`. */
function grab(canvas) {
  if (canvas.width !== frame.w || canvas.height !== frame.h) {
    canvas.width = frame.w;
    canvas.height = frame.h;
  }
  canvas.getContext("2d").drawImage(ui.video, 0, 0, frame.w, frame.h);
  return canvas;
}

// ---------------------------------------------------------------- floor marks

/** The marked points and lines on a 2D context, `toCss` mapping frame pixels to its units. */
function drawMarks(ctx, toCss, unit) {
  ctx.save();
  ctx.lineCap = "round";
  const pts = marks.map(toCss);
  for (let i = 0; i + 1 < pts.length; i += 2) {
    ctx.strokeStyle = "rgba(0,0,0,0.75)";
    ctx.lineWidth = unit + 3;
    ctx.beginPath(); ctx.moveTo(...pts[i]); ctx.lineTo(...pts[i + 1]); ctx.stroke();
    ctx.strokeStyle = i === 0 ? "#3ddc84" : "#ffd23f";
    ctx.lineWidth = unit;
    ctx.beginPath(); ctx.moveTo(...pts[i]); ctx.lineTo(...pts[i + 1]); ctx.stroke();
  }
  pts.forEach((p, i) => {
    ctx.fillStyle = i < 2 ? "#3ddc84" : "#ffd23f";
    ctx.beginPath(); ctx.arc(p[0], p[1], unit * 1.6, 0, 2 * Math.PI); ctx.fill();
  });
  ctx.restore();
}

function startMarking() {
  clearErrors();
  marks = [];
  ui.marking.hidden = false;
  ui.markCanvas.frozen = grab(ui.markCanvas.frozen || document.createElement("canvas"));
  redrawMarking();
  ui.markCanvas.scrollIntoView({ block: "nearest" });
  say("Click two points on the start line, then two on the line 3 metres away.", "idle", "");
}

function redrawMarking() {
  const c = ui.markCanvas;
  if (!c.frozen) return;
  c.width = c.frozen.width;
  c.height = c.frozen.height;
  const ctx = c.getContext("2d");
  ctx.drawImage(c.frozen, 0, 0);
  drawMarks(ctx, (p) => p, Math.max(2, c.width / 200));
  const line = marks.length < 2 ? "the start line" : "the line 3 m away";
  ui.markingState.textContent = marks.length === 4 ? "Both lines marked."
    : `${marks.length} of 4 points: click a point on ${line}.`;
  debug.marks = marks.map((p) => [...p]);
  showScale();
}

function markClick(ev) {
  if (marks.length >= 4) return;
  const r = ui.markCanvas.getBoundingClientRect();
  const x = ((ev.clientX - r.left) / r.width) * ui.markCanvas.width;
  const y = ((ev.clientY - r.top) / r.height) * ui.markCanvas.height;
  marks.push([Math.round(x * 10) / 10, Math.round(y * 10) / 10]);
  redrawMarking();
  if (marks.length === 4) announce("Both floor lines are marked.");
}

function doneMarking() {
  if (marks.length && marks.length < 4) {
    showError("Mark both lines (4 points), or press Mark again to clear them.");
    return;
  }
  ui.marking.hidden = true;
  showScale();
}

// ---------------------------------------------------------------- overlay

function paint() {
  if (!stream) return;
  drawOverlayNow();
  requestAnimationFrame(paint);
}

/** The overlay of the frame shown: the skeleton of the analysed frame on it, and the marks. */
function drawOverlayNow() {
  const last = s && s.shown;
  const [w, h] = last ? [frameCanvas.width, frameCanvas.height] : [ui.video.videoWidth, ui.video.videoHeight];
  // Sized to the viewer on every frame, with or without a skeleton, so the floor marks stay on
  // the floor when the layout changes (the test starting or ending, a turned phone).
  drawOverlay(ui.overlay, last || null, w, h);
  if (marks.length && frame) {
    const ctx = ui.overlay.getContext("2d");
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const r = containRect(ui.overlay.clientWidth, ui.overlay.clientHeight, w, h);
    drawMarks(ctx, (p) => [r.x + (p[0] / frame.w) * r.w, r.y + (p[1] / frame.h) * r.h], 3);
  }
}

/** Show a result on the frame it was computed from. */
function showLocked(msg) {
  const f = s.ring.find(msg.frame_no);
  if (!f) return;
  showFrame(frameCanvas, f);
  frameCanvas.hidden = false;
  ui.video.classList.add("behind");
  s.shown = msg;
  drawOverlayNow();
  debug.framesLocked += 1;
  if (debug.onOverlay) debug.onOverlay(msg, frameCanvas);
}

function showLiveVideo() {
  frameCanvas.hidden = true;
  ui.video.classList.remove("behind");
}

// ---------------------------------------------------------------- the test

function startMessage() {
  const height_cm = heightCm();
  if (ui.height.value && height_cm === null) {
    showError(`Enter the height as a number of centimetres ${HEIGHT_RANGE_TEXT}.`);
    return null;
  }
  if (marks.length !== 4 && height_cm === null) {
    showError("The test needs a distance scale: mark the two floor lines, or enter the walker's height.");
    return null;
  }
  const msg = { type: "start", test: "3m-backward", height_cm, population: ui.population.value, speak: "phone" };
  if (marks.length === 4) msg.floor_marks_px = marks.flat();
  const person = people && people.person();
  if (person) msg.person_id = person.id;
  return msg;
}

function setRunning(running) {
  document.body.classList.toggle("running", running);
  ui.start.disabled = running;
  ui.mark.disabled = running;
  ui.next.hidden = !running;
  ui.finish.hidden = !running;
  ui.population.disabled = running;
  ui.height.disabled = running;
  if (people) people.select.disabled = running;
}

function start() {
  if (!frame || (s && s.running)) return;
  clearErrors();
  const msg = startMessage();
  if (!msg) return;
  ui.marking.hidden = true;
  ui.result.hidden = true;
  ui.trialList.replaceChildren();
  ui.trialsBox.hidden = false;
  ui.trialNote.textContent = "";
  const cap = document.createElement("canvas");
  s = {
    running: true, sessionId: null, inFlight: 0, lastSent: 0, cap, last: null, shown: null, ring: new FrameRing(6), pumpTimer: null,
    trialTimer: null, timing: false, polling: false, trialsSeen: 0, countdown: null, stopping: false, onFinished: null,
  };
  debug.finished = null;
  debug.trials = null;
  setRunning(true);
  say("Connecting…", "idle", "");
  openRecordingSocket("/ws/live", s, {
    current: () => s, onOpen: (ws) => ws.send(JSON.stringify(msg)), onMessage: handleMessage, onLost: endUI,
  });
  s.watchdog = setInterval(() => {
    if (s && s.inFlight > 0 && performance.now() - s.lastSent > STALL_MS) { s.inFlight = 0; pump(); }
  }, 500);
}

function countdown() {
  if (!s || !s.running) return;
  clearTimeout(s.countdown);
  ui.next.disabled = true;
  s.polling = true;
  clearTimeout(s.trialTimer);
  s.trialTimer = setTimeout(askTrials, TIME_TRIALS_AFTER_MS);
  const steps = [
    ["Heels on the start line. Stand still, side-on to the camera.", "Heels on the start line. Stand still."],
    ["3", "3"], ["2", "2"], ["1", "1"],
    ["Go! Walk backwards as quickly but safely as possible.", "Go"],
  ];
  let i = 0;
  const next = () => {
    if (!s || !s.running) return;
    const [shown, spoken] = steps[i];
    say(shown, i === steps.length - 1 ? "good" : "info", spoken);
    i += 1;
    if (i < steps.length) s.countdown = setTimeout(next, i === 1 ? 2 * COUNT_STEP_MS : COUNT_STEP_MS);
    else ui.next.disabled = false;
  };
  next();
}

function handleMessage(ev) {
  if (typeof ev.data !== "string" || !s) return;
  let msg;
  try { msg = JSON.parse(ev.data); } catch (_) { return; }
  switch (msg.type) {
    case "started":
      s.sessionId = msg.session_id;
      debug.sessionId = msg.session_id;
      announce("Test started.");
      pump();
      countdown();
      break;
    case "result":
      s.inFlight = Math.max(0, s.inFlight - 1);
      s.last = msg;
      showLocked(msg);
      debug.results += 1;
      schedulePump();
      break;
    case "trials":
      s.timing = false;
      showTrials(msg.timed_test, msg.walking);
      if (s.polling) s.trialTimer = setTimeout(askTrials, TIME_TRIALS_AFTER_MS);
      break;
    case "finished":
      debug.finished = msg;
      if (msg.status === "failed") showError(`The recording could not be finished: ${msg.error || "unknown error"}`);
      if (s.onFinished) s.onFinished();
      break;
    case "error":
      showError(msg.message || "The server reported an error.");
      if (!s.sessionId) { endUI(); break; } // refused at the start
      if (s.inFlight > 0) { s.inFlight -= 1; schedulePump(); }
      break;
    default:
      break;
  }
}

function schedulePump() {
  const wait = Math.max(0, MIN_FRAME_INTERVAL_MS - (performance.now() - s.lastSent));
  clearTimeout(s.pumpTimer);
  s.pumpTimer = setTimeout(pump, wait);
}

function pump() {
  if (!s || !s.running || !s.sessionId || s.stopping) return;
  const ws = s.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN || s.inFlight >= 1) return;
  if (ui.video.readyState < 2) { s.pumpTimer = setTimeout(pump, 50); return; }
  const capturedAt = clock.now();
  grab(s.cap);
  const no = s.ring.keep(s.cap, frame.w, frame.h, capturedAt);
  s.inFlight += 1;
  s.lastSent = performance.now();
  s.cap.toBlob((blob) => {
    if (!s || ws !== s.ws || !s.running || ws.readyState !== WebSocket.OPEN || !blob) {
      if (s) s.inFlight = Math.max(0, s.inFlight - 1);
      return;
    }
    sendNumbered(ws, no, blob);
  }, "image/jpeg", JPEG_QUALITY);
}

function askTrials() {
  if (!s || !s.running || !s.polling || s.timing || s.stopping || s.ws.readyState !== WebSocket.OPEN) return;
  s.timing = true;
  s.ws.send(JSON.stringify({ type: "time_trials" }));
}

/**
 * Each trial's part in the score, by the rule the result is scored by: practice trials first,
 * then the next `trials_asked` count; those of them that were timed score (their mean, best,
 * ...). Returns Map(number -> "practice" | "scores" | "counted, not timed" | "extra, not counted").
 */
function trialRoles(result) {
  const roles = new Map();
  let counted = 0;
  for (const t of result.trials) {
    if (t.practice) { roles.set(t.number, "practice"); continue; }
    counted += 1;
    if (counted > result.trials_asked) roles.set(t.number, "extra, not counted");
    else roles.set(t.number, t.timed ? "scores" : "counted, not timed");
  }
  return roles;
}

function trialText(t, role) {
  const label = `Trial ${t.number}${role ? ` (${role})` : t.practice ? " (practice)" : ""}`;
  if (!t.timed) return `${label}: not timed: ${(t.reason || "no reason given").replace(/^not timed: /, "")}`;
  const unc = isNum(t.uncertainty_s) ? ` (± ${t.uncertainty_s.toFixed(2)} s)` : "";
  return `${label}: ${fmtTime(t.time_s)}${unc}`;
}

/** The trials of `result` (a TimedTestResult), one line each, with the part each plays. A
 *  trial's line is rebuilt whenever it is timed again, so no earlier verdict stays. */
function renderTrials(result, underWay = null) {
  const roles = trialRoles(result);
  const trials = underWay ? result.trials.filter((t) => t !== underWay) : result.trials;
  const items = trials.map((t) => el("li", {
    "data-timed": String(Boolean(t.timed)), "data-role": roles.get(t.number),
  }, trialText(t, roles.get(t.number))));
  if (underWay) {
    const soFar = isNum(underWay.distance_m) ? `, ${underWay.distance_m.toFixed(1)} m so far` : "";
    items.push(el("li", { "data-timed": "pending" }, `Trial ${underWay.number}: under way${soFar}…`));
  }
  ui.trialList.replaceChildren(...items);
}

/** How the trials count, in words, from the result's own trials. */
function countingNote(result) {
  const practice = result.trials.filter((t) => t.practice).length;
  const first = practice ? `Trial${practice > 1 ? "s" : ""} 1${practice > 1 ? `–${practice}` : ""} ${practice > 1 ? "are" : "is"} practice; the next ${result.trials_asked} count`
    : `The first ${result.trials_asked} trial${result.trials_asked === 1 ? "" : "s"} count`;
  return `${first}, and the timed ones among them make the score (${result.scoring}).`;
}

/** Which trials the score is made of, in words: "mean of trials 2 and 3". */
function scoredFrom(result) {
  const roles = trialRoles(result);
  const numbers = result.trials.filter((t) => roles.get(t.number) === "scores").map((t) => t.number);
  const list = numbers.length > 1 ? `${numbers.slice(0, -1).join(", ")} and ${numbers[numbers.length - 1]}` : String(numbers[0] ?? "");
  return numbers.length === 1 ? `from trial ${list}` : `${result.scoring} of trials ${list}`;
}

/**
 * The trials walked so far (the server's TimedTestResult JSON); a new one is spoken. While the
 * walker is still moving (`walking`), an untimed last trial may be under way: it is shown as
 * such, and judged once the walker stops.
 */
function showTrials(result, walking) {
  if (!result || !s || !s.running) return;
  debug.trials = result;
  const last = result.trials[result.trials.length - 1];
  const underWay = walking && last && !last.timed ? last : null;
  const trials = underWay ? result.trials.slice(0, -1) : result.trials;
  renderTrials(result, underWay);
  // No verdict before anyone has walked: until a trial is seen, say what the test waits for.
  ui.trialNote.textContent = underWay ? ""
    : !result.trials.length ? "Waiting for the walker to stand still on the start line and walk backwards."
      : countingNote(result);
  if (trials.length > s.trialsSeen) {
    const t = trials[trials.length - 1];
    s.trialsSeen = trials.length;
    s.polling = false;
    const roles = trialRoles(result);
    const counted = trials.filter((x) => !x.practice).length;
    const left = Math.max(0, result.trials_asked - counted);
    const said = t.timed ? `Trial ${t.number}: ${t.time_s.toFixed(1)} seconds.` : `Trial ${t.number} was not timed.`;
    if (left > 0) {
      say(`${trialText(t, roles.get(t.number))}. Walk back to the start line, stand still, and press Next trial.`,
        t.timed ? "good" : "warning", `${said} Walk back to the start line.`);
    } else {
      say(`${trialText(t, roles.get(t.number))}. All trials are walked.`, t.timed ? "good" : "warning", `${said} That's the test. Well done.`);
      finish();
    }
  }
}

async function finish() {
  if (!s || !s.running || s.stopping) return;
  s.stopping = true;
  ui.finish.disabled = true;
  ui.next.disabled = true;
  clearTimeout(s.trialTimer);
  clearTimeout(s.countdown);
  clearTimeout(s.pumpTimer);
  ui.trialNote.textContent = "Timing the test…";
  const ws = s.ws;
  const done = new Promise((resolve) => { s.onFinished = resolve; setTimeout(resolve, 60000); });
  if (ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify({ type: "stop" }));
    await done;
  }
  const finished = debug.finished;
  const id = s.sessionId;
  endUI();
  if (finished && finished.timed_test) await showResult(finished.timed_test, id);
}

function endUI() {
  if (!s) return;
  s.running = false;
  clearTimeout(s.trialTimer);
  clearInterval(s.watchdog);
  clearTimeout(s.countdown);
  clearTimeout(s.pumpTimer);
  if (s.ws && s.ws.readyState <= WebSocket.OPEN) s.ws.close();
  s.last = null;
  s.shown = null;
  showLiveVideo();
  setRunning(false);
  ui.finish.disabled = false;
  ui.next.disabled = false;
  ui.trialNote.textContent = "";
}

/** The final result: the scored time, the trials, the interpretation, the report link. */
async function showResult(result, id) {
  renderTrials(result);
  ui.trialNote.textContent = result.trials.length ? countingNote(result) : "";
  ui.result.hidden = false;
  if (result.timed) {
    const unc = isNum(result.uncertainty_s) ? ` ± ${result.uncertainty_s.toFixed(2)} s` : "";
    const how = scoredFrom(result);
    ui.resultTime.replaceChildren(`${fmtTime(result.time_s)}${unc}`,
      el("span", { class: "hint result-how" }, `${how} over ${fmtNum(result.distance_m, 1, "m")}`));
    say(`Result: ${fmtTime(result.time_s)}`, "good", `Result: ${result.time_s.toFixed(1)} seconds.`);
  } else {
    ui.resultTime.textContent = `Not timed: ${(result.reason || "no reason given").replace(/^not timed: /, "")}`;
    say("The test was not timed.", "warning");
  }
  ui.interpretation.replaceChildren(...result.interpretation.map((i) => el("li", {},
    i.text, i.source ? el("span", { class: "hint source" }, ` Source: ${i.source}`) : null)));
  ui.reviewLink.href = `/review/${encodeURIComponent(id)}`;
  ui.reportLink.hidden = true;
  try {
    const detail = await getJSON(`/api/sessions/${encodeURIComponent(id)}`);
    if (detail.files.includes(REPORT)) {
      ui.reportLink.href = fileURL(id, REPORT);
      ui.reportLink.hidden = false;
    }
  } catch (_) { /* the review link still leads to the session */ }
  ui.result.scrollIntoView({ block: "nearest" });
}

// ---------------------------------------------------------------- wiring

ui.cameraOn.addEventListener("click", cameraOn);
ui.mark.addEventListener("click", startMarking);
ui.markCanvas.addEventListener("click", markClick);
ui.markRedo.addEventListener("click", startMarking);
ui.markDone.addEventListener("click", doneMarking);
ui.start.addEventListener("click", start);
ui.next.addEventListener("click", countdown);
ui.finish.addEventListener("click", finish);
ui.height.addEventListener("input", showScale);
window.addEventListener("beforeunload", () => {
  if (s && s.running && s.ws && s.ws.readyState === WebSocket.OPEN) s.ws.send(JSON.stringify({ type: "stop" }));
});

loadWalker();
showScale();

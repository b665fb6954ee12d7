// Compare page: two sessions, of one person or of two, played in step. They are lined up at an
// event both stores (first backward step, first toe contact: GET /api/sessions/{id}/events), at
// their starts, or at a time picked on each; one transport plays, pauses and steps both by one
// frame. The onion skin draws the second walker's skeleton (its landmarks.csv), scaled to the
// first walker's legs and placed on their hips, over the first clip. With fewer than two
// sessions the page says what to do instead.
import { announce, el, fileURL, fmtDate, fmtNum, getJSON, isNum, parseDate, showError } from "./api.js";
import { loadPeople, personPicker } from "./person.js";
import { containRect, SKELETON_EDGES } from "./skeleton.js";
import { METRIC_ROWS } from "./summary.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const NEAR_S = 0.06; // how far the second clip may drift from the first before it is corrected
const ONION_COLOR = "#ff4fd8";
const HIP_L = 23, HIP_R = 24, KNEE_L = 25, KNEE_R = 26, ANKLE_L = 27, ANKLE_R = 28;
const MIN_VIS = 0.5;
let several = false; // more than one person: sessions are named with their person

const sides = {
  a: { video: $("video-a"), rec: null, events: null, marks: null, align: 0 },
  b: { video: $("video-b"), rec: null, events: null, marks: null, align: 0 },
};
let frameS = 1 / 30;
let playing = false;

/** A file name made breakable at its separators (so long clip names wrap between words). */
const breakable = (text) => text.replace(/([_\-/])(?=\S)/g, "$1\u200b");

/** "person · date · name or clip" for a session record (SessionListItem or SessionDetail). */
function label(rec) {
  const d = parseDate(rec.created_at);
  const src = rec.name || rec.source_name.split("/").pop();
  const who = several && rec.person_name ? `${rec.person_name} · ` : "";
  return `${who}${d ? fmtDate(d) : rec.id}${src ? ` · ${src}` : ""}`;
}

function fillSessions(sel, list, picker, want) {
  const person = picker.person();
  const mine = person ? list.filter((r) => r.person_id === person.id) : list;
  sel.replaceChildren(el("option", { value: "" }, "Choose a session"),
    ...mine.map((r) => el("option", { value: r.id }, label(r))));
  if (want && mine.some((r) => r.id === want)) sel.value = want;
  return mine;
}

/** Fill the two pickers; false when the library has fewer than two finished sessions. */
async function fillPickers(a, b) {
  let list = [];
  const [people] = await Promise.all([
    loadPeople(),
    getJSON("/api/sessions").then((l) => { list = l.filter((r) => r.status === "done"); })
      .catch((err) => showError(`Could not load the sessions: ${err.message}`)),
  ]);
  several = people.length > 1;
  if (list.length < 2) {
    $("alone").hidden = false;
    $("compare-body").hidden = true;
    if (!list.length) $("alone-heading").textContent = "No sessions yet";
    if (list.length === 1) {
      $("alone-text").prepend(el("span", {}, `The library holds one session (${label(list[0])}). `));
      $("alone-text").append(" ", el("a", { href: `/review/${encodeURIComponent(list[0].id)}` }, "Review this one"), " meanwhile.");
    }
    document.body.dataset.compare = "alone";
    return false;
  }
  const personOf = (id) => list.find((r) => r.id === id)?.person_id ?? null;
  const pickA = personPicker($("person-a"), people, { id: "person-a-pick", label: "First person", initial: personOf(a), remember: false });
  const pickB = personPicker($("person-b"), people, {
    id: "person-b-pick", label: "Second person", initial: personOf(b) ?? pickA.person()?.id ?? null, remember: false,
  });
  const mineA = fillSessions($("pick-a"), list, pickA, a);
  const mineB = fillSessions($("pick-b"), list, pickB, b);
  pickA.select.addEventListener("change", () => fillSessions($("pick-a"), list, pickA, null));
  pickB.select.addEventListener("change", () => fillSessions($("pick-b"), list, pickB, null));
  if (!a && !b) {
    if (pickA.person()?.id === pickB.person()?.id && mineA.length >= 2) {
      $("pick-a").value = mineA[1].id;
      $("pick-b").value = mineA[0].id;
    } else {
      if (mineA.length) $("pick-a").value = mineA[0].id;
      if (mineB.length) $("pick-b").value = mineB[0].id;
    }
  }
  return true;
}

// ---------------------------------------------------------------- landmarks (onion skin)

/** A landmarks.csv (frame, time_s, width, height, x0, y0, z0, v0, ...) as times and points. */
function parseLandmarks(text) {
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  const head = lines.shift()?.split(",") ?? [];
  const at = (name) => head.indexOf(name);
  const cols = [];
  for (let i = 0; i < 33; i += 1) cols.push([at(`x${i}`), at(`y${i}`), at(`v${i}`)]);
  const tCol = at("time_s");
  const width = Number.parseFloat(lines[0]?.split(",")[at("width")]);
  const times = [];
  const frames = [];
  for (const line of lines) {
    const cells = line.split(",");
    const t = Number.parseFloat(cells[tCol]);
    if (!Number.isFinite(t)) continue;
    const pts = new Float32Array(33 * 3);
    cols.forEach(([x, y, v], i) => {
      pts[i * 3] = cells[x] === "" ? NaN : Number.parseFloat(cells[x]);
      pts[i * 3 + 1] = cells[y] === "" ? NaN : Number.parseFloat(cells[y]);
      pts[i * 3 + 2] = cells[v] === "" ? 0 : Number.parseFloat(cells[v]);
    });
    times.push(t);
    frames.push(pts);
  }
  const legs = frames.map(legLength).filter(Number.isFinite).sort((p, q) => p - q);
  const hips = frames.map(hipMid).filter((h) => h);
  const travel = hips.length > 1 ? hips[hips.length - 1][0] - hips[0][0] : 0;
  return { times, frames, width, leg: legs.length ? legs[Math.floor(legs.length / 2)] : NaN, travel };
}

function point(pts, i) {
  return pts[i * 3 + 2] >= MIN_VIS && Number.isFinite(pts[i * 3]) ? [pts[i * 3], pts[i * 3 + 1]] : null;
}

function hipMid(pts) {
  const l = point(pts, HIP_L);
  const r = point(pts, HIP_R);
  return l && r ? [(l[0] + r[0]) / 2, (l[1] + r[1]) / 2] : null;
}

/** Hip to knee to ankle, the longer visible leg, in pixels. */
function legLength(pts) {
  const one = (h, k, a) => {
    const [ph, pk, pa] = [point(pts, h), point(pts, k), point(pts, a)];
    return ph && pk && pa ? Math.hypot(ph[0] - pk[0], ph[1] - pk[1]) + Math.hypot(pk[0] - pa[0], pk[1] - pa[1]) : NaN;
  };
  const both = [one(HIP_L, KNEE_L, ANKLE_L), one(HIP_R, KNEE_R, ANKLE_R)].filter(Number.isFinite);
  return both.length ? Math.max(...both) : NaN;
}

/** The frame of `marks` nearest `t` seconds. */
function frameAt(marks, t) {
  const ts = marks.times;
  let lo = 0;
  let hi = ts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ts[mid] < t) lo = mid + 1; else hi = mid;
  }
  if (lo > 0 && Math.abs(ts[lo - 1] - t) < Math.abs(ts[lo] - t)) lo -= 1;
  return marks.frames[lo] ?? null;
}

/** Draw the second walker over the first clip: their hips on the first walker's hips, scaled by
 *  the ratio of the two walkers' leg lengths, mirrored when they cross the picture the other way. */
function drawOnion() {
  const canvas = $("onion-canvas");
  const video = sides.a.video;
  const box = canvas.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(box.width * dpr);
  canvas.height = Math.round(box.height * dpr);
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  canvas.dataset.lines = "0";
  const A = sides.a.marks;
  const B = sides.b.marks;
  if (!$("onion").checked || !A || !B || !video.videoWidth) return;
  const fa = frameAt(A, video.currentTime);
  const fb = frameAt(B, sides.b.video.currentTime);
  const hipA = fa && hipMid(fa);
  const hipB = fb && hipMid(fb);
  if (!hipA || !hipB || !Number.isFinite(A.leg) || !Number.isFinite(B.leg)) return;
  const scale = A.leg / B.leg;
  const mirror = A.travel * B.travel < 0 ? -1 : 1;
  const shown = containRect(box.width, box.height, video.videoWidth, video.videoHeight);
  // landmarks are in the pixels of the frames they were found on, which may be larger than the clip's
  const toCss = shown.w / (Number.isFinite(A.width) && A.width > 0 ? A.width : video.videoWidth);
  const place = (p) => [
    (shown.x + (hipA[0] + mirror * (p[0] - hipB[0]) * scale) * toCss) * dpr,
    (shown.y + (hipA[1] + (p[1] - hipB[1]) * scale) * toCss) * dpr,
  ];
  ctx.lineCap = "round";
  ctx.lineWidth = 4 * dpr;
  ctx.strokeStyle = ONION_COLOR;
  ctx.globalAlpha = 0.85;
  let drawn = 0;
  for (const [i, j] of SKELETON_EDGES) {
    const p = point(fb, i);
    const q = point(fb, j);
    if (!p || !q) continue;
    const [x1, y1] = place(p);
    const [x2, y2] = place(q);
    ctx.beginPath();
    ctx.moveTo(x1, y1);
    ctx.lineTo(x2, y2);
    ctx.stroke();
    drawn += 1;
  }
  canvas.dataset.lines = String(drawn);
}

// ---------------------------------------------------------------- playing in step

/** Seconds since the lined-up moment, read from the first clip. */
const sharedTime = () => sides.a.video.currentTime - sides.a.align;

function clamp(t, video) {
  const end = Number.isFinite(video.duration) ? video.duration : t;
  return Math.min(Math.max(t, 0), end);
}

function showClock() {
  const t = sharedTime();
  const what = $("align").selectedOptions[0]?.textContent ?? "";
  $("clock").textContent = `${t >= 0 ? "+" : "−"}${Math.abs(t).toFixed(2)} s from ${what} · `
    + `first ${sides.a.video.currentTime.toFixed(2)} s, second ${sides.b.video.currentTime.toFixed(2)} s`;
  drawOnion();
}

/** Put both clips at `t` seconds from the lined-up moment. */
async function seekBoth(t) {
  const waits = ["a", "b"].map((key) => {
    const { video, align } = sides[key];
    const target = clamp(align + t, video);
    if (Math.abs(video.currentTime - target) < 1e-4) return Promise.resolve();
    return new Promise((resolve) => {
      video.addEventListener("seeked", resolve, { once: true });
      video.currentTime = target;
    });
  });
  await Promise.all(waits);
  showClock();
}

function setPlaying(on) {
  playing = on;
  $("play").textContent = on ? "Pause" : "Play";
  $("play").setAttribute("aria-pressed", String(on));
  for (const { video } of Object.values(sides)) {
    video.playbackRate = Number($("speed").value);
    if (on) video.play().catch(() => {}); else video.pause();
  }
  if (on) requestAnimationFrame(follow);
}

/** While playing: keep the second clip on the first one's time, and draw. */
function follow() {
  if (!playing) return;
  const a = sides.a.video;
  const b = sides.b.video;
  const target = sides.b.align + sharedTime();
  if (a.ended || target > (b.duration || Infinity)) { setPlaying(false); showClock(); return; }
  if (target >= 0 && Math.abs(b.currentTime - target) > NEAR_S * Math.max(1, a.playbackRate)) b.currentTime = target;
  showClock();
  requestAnimationFrame(follow);
}

async function step(frames) {
  if (playing) setPlaying(false);
  await seekBoth(sharedTime() + frames * frameS);
  announce(`Frame ${frames > 0 ? "forward" : "back"}: ${sides.a.video.currentTime.toFixed(2)} s and ${sides.b.video.currentTime.toFixed(2)} s.`);
}

/** Line the two clips up by the chosen event (or their starts, or the picked times). */
async function lineUp() {
  const how = $("align").value;
  const picking = how === "picked";
  for (const key of ["a", "b"]) {
    $(`pick-here-${key}`).hidden = !picking;
    sides[key].video.controls = picking;
  }
  const missing = [];
  if (how === "start") {
    sides.a.align = 0;
    sides.b.align = 0;
  } else if (!picking) {
    for (const key of ["a", "b"]) {
      const t = sides[key].events?.[how];
      if (isNum(t)) sides[key].align = t; else { sides[key].align = 0; missing.push(key === "a" ? "first" : "second"); }
    }
  }
  $("align-note").textContent = picking
    ? "Move each clip to the moment you want, then press “Line up here” under it."
    : missing.length ? `The ${missing.join(" and the ")} session has no such moment: it starts at 0 s.` : "";
  if (playing) setPlaying(false);
  await seekBoth(0);
  document.body.dataset.compare = "ready";
}

// ---------------------------------------------------------------- the numbers

/** Rows in the same units for both sessions: metres only when both have them. */
function tableRows(sa, sb) {
  const both = (key) => isNum(sa[key]) && isNum(sb[key]);
  const same = {
    "Step length": (s) => (both("step_length_m") ? fmtNum(s.step_length_m, 2, "m") : fmtNum(s.step_length_leg, 2, "leg lengths")),
    Speed: (s) => (both("speed_m_s") ? fmtNum(s.speed_m_s, 2, "m/s") : fmtNum(s.speed_leg_s, 2, "leg lengths/s")),
  };
  return METRIC_ROWS.map(([name, f]) => [name, same[name] ?? f]);
}

async function load(key, id) {
  const side = sides[key];
  side.video.src = fileURL(id, "annotated.mp4");
  $(`link-${key}`).href = `/review/${encodeURIComponent(id)}`;
  const url = `/api/sessions/${encodeURIComponent(id)}`;
  const [rec, events] = await Promise.all([getJSON(url), getJSON(`${url}/events`)]);
  side.rec = rec;
  side.events = events;
  $(`${key}-heading`).textContent = breakable(label(rec));
  const which = key === "a" ? "First" : "Second";
  $(`col-${key}`).textContent = several && rec.person_name ? `${which}: ${rec.person_name}` : which;
  if (rec.files.includes("landmarks.csv")) {
    fetch(fileURL(id, "landmarks.csv")).then((r) => (r.ok ? r.text() : Promise.reject(new Error(r.statusText))))
      .then((text) => { side.marks = parseLandmarks(text); drawOnion(); })
      .catch((err) => showError(`The ${which.toLowerCase()} session's landmarks could not be read: ${err.message}`));
  }
  return rec;
}

/** Wait until a clip's length is known; false when it cannot be played (none was recorded). */
function clipReady(video) {
  if (video.readyState >= 1) return Promise.resolve(true);
  if (video.error) return Promise.resolve(false);
  return new Promise((resolve) => {
    video.addEventListener("loadedmetadata", () => resolve(true), { once: true });
    video.addEventListener("error", () => resolve(false), { once: true });
  });
}

async function main() {
  const a = params.get("a");
  const b = params.get("b");
  if (!(await fillPickers(a, b))) return;
  if (!a || !b) return;
  if (a === b) { showError("These are the same session twice: choose two different sessions."); return; }
  try {
    await Promise.all([load("a", a), load("b", b)]);
  } catch (err) {
    showError(`Could not load the sessions: ${err.message}`);
    return;
  }
  const fps = sides.a.events?.fps;
  frameS = isNum(fps) && fps > 0 ? 1 / fps : 1 / 30;
  const sa = sides.a.rec.summary ?? {};
  const sb = sides.b.rec.summary ?? {};
  $("compare-table").querySelector("tbody").replaceChildren(...tableRows(sa, sb).map(([name, f]) =>
    el("tr", {}, el("th", { scope: "row" }, name), el("td", { class: "num" }, f(sa)), el("td", { class: "num" }, f(sb)))));
  const playable = await Promise.all([clipReady(sides.a.video), clipReady(sides.b.video)]);
  if (!playable.every(Boolean)) {
    showError("A session has no clip to play: the numbers are compared, the clips cannot be played in step.");
    return;
  }
  $("transport").hidden = false;
  await lineUp();
}

$("pick").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const a = $("pick-a").value;
  const b = $("pick-b").value;
  if (!a || !b) { showError("Choose two sessions to compare."); return; }
  location.href = `/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;
});
$("play").addEventListener("click", () => setPlaying(!playing));
$("step-back").addEventListener("click", () => step(-1));
$("step-fwd").addEventListener("click", () => step(1));
$("speed").addEventListener("change", () => { for (const { video } of Object.values(sides)) video.playbackRate = Number($("speed").value); });
$("onion").addEventListener("change", drawOnion);
$("align").addEventListener("change", lineUp);
for (const key of ["a", "b"]) {
  $(`pick-here-${key}`).addEventListener("click", async () => {
    sides[key].align = sides[key].video.currentTime;
    announce(`${key === "a" ? "First" : "Second"} clip lined up at ${sides[key].align.toFixed(2)} s.`);
    await seekBoth(0);
  });
  sides[key].video.addEventListener("seeked", () => { if (!playing) showClock(); });
}
document.addEventListener("keydown", (ev) => {
  if ($("transport").hidden || ev.target.closest?.("input, select, textarea")) return;
  if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") { ev.preventDefault(); step(ev.key === "ArrowLeft" ? -1 : 1); }
  if (ev.key === " " && !ev.target.closest?.("button")) { ev.preventDefault(); setPlaying(!playing); }
});
window.addEventListener("resize", drawOnion);

main();

// Review page: annotated clip stepped frame by frame or slowed down, the frame's measures
// beside it, plots whose playhead follows the clip, angles and distances measured on a paused
// frame, the coach's note, the cue timeline, summary, downloads.
import {
  SESSION_FILES, el, fileURL, fmtClock, fmtDate, getJSON, isNum, parseDate, sendJSON, showError,
} from "./api.js";
import { METRIC_ROWS } from "./summary.js";
import { renderCheckin } from "./checkin.js";
import { loadPeople } from "./person.js";
import { attachPlayhead, keepLabelsReadable } from "./charts.js";
import { frameStepper } from "./review_frames.js";
import { measuring } from "./review_measure.js";

const $ = (id) => document.getElementById(id);
const player = $("player");

function idFromLocation() {
  const m = location.pathname.match(/\/review\/([^/]+)\/?$/);
  if (m) return decodeURIComponent(m[1]);
  return new URLSearchParams(location.search).get("id");
}

function seek(t, focus = true) {
  if (!isNum(t)) return;
  const go = () => { player.currentTime = Math.max(0, t); };
  if (player.readyState >= 1) go();
  else player.addEventListener("loadedmetadata", go, { once: true });
  if (focus) player.focus();
}

const playheads = [];

function renderCues(cues, duration) {
  const list = $("cue-list");
  const track = $("timeline-track");
  for (const m of track.querySelectorAll(".timeline-mark")) m.remove();
  if (!cues.length) {
    list.replaceChildren(el("li", { class: "empty" }, "No cues in this session."));
    return;
  }
  const sorted = [...cues].sort((a, b) => (a.start_s ?? 0) - (b.start_s ?? 0));
  list.replaceChildren(...sorted.map((c) => {
    const btn = el("button", {
      type: "button", class: "cue-item", "data-severity": c.severity, "data-start": String(c.start_s ?? 0),
      "aria-label": `At ${fmtClock(c.start_s)}: ${c.message}. Jump the clip here.`,
      onclick: () => seek(c.start_s),
    },
    el("span", { class: "t" }, fmtClock(c.start_s)),
    el("span", {}, el("span", { class: "sev", "aria-hidden": "true" }), c.message,
      c.guidance ? el("span", { class: "guidance" }, c.guidance) : null));
    return el("li", {}, btn);
  }));
  if (isNum(duration) && duration > 0) {
    for (const c of sorted) {
      const start = Math.max(0, c.start_s ?? 0);
      const end = isNum(c.end_s) ? c.end_s : start + 0.5;
      track.append(el("button", {
        type: "button", class: "timeline-mark", tabindex: "-1", "data-severity": c.severity, "data-rule": c.rule,
        title: `${fmtClock(start)} ${c.message}`,
        style: `left:${(start / duration) * 100}%;width:${Math.max(0.6, ((end - start) / duration) * 100)}%`,
        onclick: () => seek(start),
      }));
    }
  }
}

function highlightCurrent() {
  const t = player.currentTime;
  const items = [...document.querySelectorAll(".cue-item")];
  let current = null;
  for (const it of items) if (Number(it.dataset.start) <= t + 0.05) current = it;
  for (const it of items) it.classList.toggle("current", it === current);
  const d = player.duration;
  if (isNum(d) && d > 0) $("timeline-head").style.left = `${(t / d) * 100}%`;
}

function renderMetrics(s) {
  const tbody = $("metrics-table").querySelector("tbody");
  tbody.replaceChildren(...METRIC_ROWS.map(([label, f]) => el("tr", {}, el("th", { scope: "row" }, label), el("td", { class: "num" }, f(s)))));
}

function renderDownloads(id, available = null) {
  const files = available ? SESSION_FILES.filter((f) => available.includes(f.name)) : SESSION_FILES;
  if (!files.length) { $("downloads").replaceChildren(el("li", { class: "empty" }, "No files yet.")); return; }
  $("downloads").replaceChildren(...files.map((f) => el("li", {},
    el("a", { class: "btn", href: fileURL(id, f.name), download: f.name.endsWith(".html") ? null : `${id}-${f.name}`,
      target: f.name.endsWith(".html") ? "_blank" : null, rel: "noopener" }, f.label))));
}

// The report's plots are 648 points wide: shown 810 px wide their 9 pt text is 11.25 px. A
// narrower screen asks the server for plots drawn at the width it shows, with the same fonts.
const REPORT_PLOT_PX = 810;
let plotsDrawnFor = null; // the width asked for (null: the report's plots)
let plotsAsked = 0; // which request is the newest

/** The width in CSS px a plot is shown at on this screen. */
function plotWidth(box) {
  const holder = box.querySelector(".plot-scroll");
  if (holder) return holder.clientWidth;
  const probe = el("figure", { class: "plot" }, el("div", { class: "plot-scroll" }));
  box.append(probe);
  const width = probe.firstChild.clientWidth;
  probe.remove();
  return width;
}

const plotWidthWanted = (width) => (width > 0 && width < REPORT_PLOT_PX ? Math.floor(width) : null);

async function renderPlots(id) {
  const box = $("plots");
  try {
    const width = plotWidthWanted(plotWidth(box));
    const query = width ? `?width_px=${width}` : "";
    plotsDrawnFor = width;
    const asked = ++plotsAsked;
    const plots = await getJSON(`/api/sessions/${encodeURIComponent(id)}/plots${query}`);
    if (asked !== plotsAsked) return; // plots for a newer width are on their way
    playheads.length = 0;
    const entries = Object.entries(plots || {});
    if (!entries.length) { box.replaceChildren(el("p", { class: "empty" }, "No plots for this session.")); return; }
    box.replaceChildren(...entries.map(([name, svg]) => {
      const fig = el("figure", { class: "plot", "data-plot": name });
      const holder = el("div", { role: "img", class: "plot-scroll", "aria-label": `Plot: ${name.replace(/[_-]+/g, " ")}` });
      holder.innerHTML = svg; // SVG text generated by the posecoach server
      fig.append(holder, el("figcaption", {}, name.replace(/[_-]+/g, " ").replace(/^./, (c) => c.toUpperCase())));
      return fig;
    }));
    for (const svg of box.querySelectorAll(".plot-scroll > svg")) {
      keepLabelsReadable(svg);
      const head = attachPlayhead(svg, (t) => seek(t, false));
      if (head) playheads.push(head);
    }
    for (const head of playheads) head.update(player.currentTime || 0);
  } catch (err) {
    box.replaceChildren(el("p", { class: "empty" }, `Plots are not available: ${err.message}`));
  }
}

/** The coach's note: loaded with the measurements, saved with its button. */
function setUpNote(id, measure) {
  const box = $("note");
  const status = $("note-status");
  const save = $("save-note");
  measure.load().then((review) => { // SessionReview
    box.value = review.note;
    status.textContent = review.note_saved_at ? `Saved ${fmtDate(parseDate(review.note_saved_at))}` : "";
  }).catch((err) => {
    box.disabled = true;
    save.disabled = true;
    for (const b of document.querySelectorAll(".tool")) b.disabled = true;
    status.textContent = `Notes and measurements are not available: ${err.message}`;
  });
  save.addEventListener("click", async () => {
    save.disabled = true;
    try {
      const review = await sendJSON("PUT", `/api/sessions/${encodeURIComponent(id)}/review/note`, { note: box.value });
      box.value = review.note;
      status.textContent = review.note ? "Note saved." : "Note removed.";
    } catch (err) {
      status.textContent = `The note was not saved: ${err.message}`;
    } finally {
      save.disabled = false;
    }
  });
}

/** Keys of the page (listed on it): frames, play, speed, the measuring tools. */
function setUpKeys(frames, measure) {
  window.addEventListener("keydown", (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const target = ev.target;
    if (target instanceof HTMLElement && target.closest("input, textarea, select, [contenteditable]")) return;
    const onButton = target instanceof HTMLElement && target.closest("button, a");
    const key = ev.key;
    let done = true;
    if (key === "ArrowLeft" || key === "ArrowRight") frames.step((key === "ArrowLeft" ? -1 : 1) * (ev.shiftKey ? 10 : 1));
    else if ((key === " " && !onButton) || key === "k" || key === "K") frames.toggle();
    else if (key === "1" || key === "2" || key === "3") frames.setRate({ 1: 0.25, 2: 0.5, 3: 1 }[key]);
    else if (key === "a" || key === "A") measure.setTool("angle");
    else if (key === "d" || key === "D") measure.setTool("distance");
    else if (key === "Escape") measure.setTool(null);
    else done = false;
    if (done) { ev.preventDefault(); ev.stopPropagation(); }
  }, { capture: true });
}

async function main() {
  const id = idFromLocation();
  if (!id) { showError("No session was given. Open a session from the library."); return; }
  renderDownloads(id);
  player.src = fileURL(id, "annotated.mp4");
  player.addEventListener("timeupdate", highlightCurrent);
  let measure = null;
  const frames = frameStepper(player, id, {
    onFrame: (t, row) => {
      for (const head of playheads) head.update(t);
      if (measure) measure.draw(t, row);
    },
  });
  measure = measuring(player, id, frames);
  window.__posecoach = { frames, measure, playheads };
  setUpKeys(frames, measure);
  setUpNote(id, measure);
  player.addEventListener("error", () => showError("The annotated clip could not be played (it may still be processing)."));
  renderPlots(id);
  // a phone turned, a window resized or a scroll bar come: plots drawn again at the new width
  // when it is narrower than they were drawn for (their text would shrink) or much wider
  let resized = 0;
  new ResizeObserver(() => {
    clearTimeout(resized);
    resized = setTimeout(() => {
      const width = plotWidthWanted(plotWidth($("plots")));
      if (width === plotsDrawnFor) return;
      if (width && plotsDrawnFor && width > plotsDrawnFor && width - plotsDrawnFor < 20) return;
      renderPlots(id);
    }, 200);
  }).observe($("plots"));
  let rec; // SessionDetail: the record, its summary, the summary in sentences, its files
  const people = loadPeople();
  try {
    rec = await getJSON(`/api/sessions/${encodeURIComponent(id)}`);
  } catch (err) {
    showError(`Could not load session ${id}: ${err.message}`);
    return;
  }
  renderDownloads(id, rec.files);
  if (rec.status === "failed") showError(`This session failed: ${rec.error || "unknown error"}`);
  const missing = rec.missing ?? [];
  if (missing.includes("annotated.mp4")) player.removeAttribute("src");
  if (missing.length) showError(`The server stopped before this session was finished: ${missing.join(", ")} could not be completed.`);
  const s = rec.summary ?? {};
  const date = parseDate(rec.created_at);
  $("title").textContent = `Session review: ${date ? fmtDate(date) : id}`;
  document.title = `Review ${date ? fmtDate(date) : id} · posecoach`;
  const where = { overground: "overground", treadmill: "on a treadmill" }[s.setting];
  const who = (await people).length > 1 ? rec.person_name : null; // a home user's own sessions go unnamed
  $("subtitle").textContent = [who, rec.source_name, `level ${rec.level}`, where, rec.status].filter(Boolean).join(" · ");
  const words = rec.sentences.length ? rec.sentences : ["No summary yet."];
  $("words").replaceChildren(...words.map((w) => el("li", {}, w)));
  renderMetrics(s);
  const cues = s.cues ?? [];
  const draw = () => renderCues(cues, isNum(player.duration) && player.duration > 0 ? player.duration : s.duration_s);
  draw();
  player.addEventListener("loadedmetadata", draw, { once: true });
  renderCheckin($("checkin"), id, rec.checkin);
}

main();

// Library page: one person's sessions, uploads with progress, analysis job polling, compare picker.
import {
  announce, breakable, el, fmtDate, fmtDuration, getJSON, parseDate, sendJSON, showError, uploadFiles,
} from "./api.js";
import { loadPeople, personPicker } from "./person.js";

const $ = (id) => document.getElementById(id);
const body = $("sessions-body");
const compareBtn = $("compare-btn");
const compareHint = $("compare-hint");
const selected = [];
const POLL_MS = 1000;
let picker = null; // the person picker, once the people are loaded
const personId = () => picker?.person()?.id ?? null;

function sourceText(rec) {
  if (rec.name) return rec.name;
  return rec.source_name && rec.source_name !== rec.kind ? `${rec.kind}: ${rec.source_name}` : rec.kind;
}

const RUNNING = new Set(["recording", "analysing"]);

/** A session's own actions: rename, move to another person, delete (asked first). Not offered
 *  while it is recorded or analysed (the server refuses then too). */
function sessionActions(rec, date) {
  if (RUNNING.has(rec.status)) return null;
  const url = `/api/sessions/${encodeURIComponent(rec.id)}`;
  const what = rec.name || rec.source_name || date;
  const act = async (run, done) => {
    try { await run(); announce(done); await loadSessions(); } catch (err) { showError(err.message); }
  };
  const rename = el("button", { type: "button", class: "link-button", "data-action": "rename",
    "aria-label": `Rename session from ${date}` }, "Rename");
  rename.addEventListener("click", () => {
    const name = window.prompt("A name for this session (leave it empty to go back to the clip's name):", rec.name ?? "");
    if (name === null) return;
    act(() => sendJSON("PUT", `${url}/name`, { name }), name.trim() ? `Renamed to ${name.trim()}.` : "Named after its clip again.");
  });
  const remove = el("button", { type: "button", class: "link-button", "data-action": "delete",
    "aria-label": `Delete session from ${date}` }, "Delete");
  remove.addEventListener("click", () => {
    if (!window.confirm(`Delete the session "${what}" (${date}) with its clip, report and check-in? This cannot be undone.`)) return;
    act(() => sendJSON("DELETE", url), `Deleted the session ${what}.`);
  });
  const items = [rename];
  const others = (picker?.people ?? []).filter((p) => p.id !== rec.person_id);
  if (others.length) {
    const move = el("select", { "data-action": "move", "aria-label": `Move session from ${date} to another person`,
      style: "width:4.2rem;min-width:0;min-height:2rem;padding:.15rem .2rem;font-size:inherit" },
      el("option", { value: "" }, "Move…"), ...others.map((p) => el("option", { value: p.id }, p.name)));
    move.addEventListener("change", () => {
      const to = others.find((p) => p.id === move.value);
      if (!to) return;
      if (!window.confirm(`Move the session "${what}" (${date}) to ${to.name}?`)) { move.value = ""; return; }
      act(() => sendJSON("PUT", `${url}/person`, { person_id: to.id }), `Moved to ${to.name}.`);
    });
    items.push(move);
  }
  items.push(remove);
  return el("div", { class: "session-actions", style: "display:flex;flex-wrap:wrap;gap:.3rem .6rem;margin-top:.3rem;align-items:center;font-size:.85rem" }, ...items);
}

function pain(rec) {
  const c = rec.checkin;
  if (!c || !c.pain) return null;
  return c.pain === "none" ? "no pain" : `${c.pain}${typeof c.score === "number" ? ` ${c.score}/10` : ""}`;
}

/** Sessions from GET /api/sessions: SessionListItem records, newest first. */
function renderSessions(list) {
  if (!list.length) {
    body.replaceChildren(el("tr", {}, el("td", { colspan: "8", class: "empty" },
      "No sessions yet. Start one on the live page or upload a clip.")));
    return;
  }
  const rows = list.map((rec) => {
    const id = rec.id;
    const date = fmtDate(parseDate(rec.created_at));
    const status = rec.status;
    const box = el("input", {
      type: "checkbox", value: id, "aria-label": `Compare session from ${date} (${id})`,
      checked: selected.includes(id),
    });
    box.addEventListener("change", () => toggleSelect(id, box.checked));
    const p = pain(rec);
    return el("tr", { "data-session": id },
      el("td", {}, box),
      el("td", { class: "col-date" }, date),
      el("td", { class: "col-source" }, breakable(sourceText(rec))),
      el("td", {}, el("span", { class: "badge", "data-status": status }, status)),
      el("td", { class: "col-checkin" }, p ?? "–"),
      el("td", { class: "num" }, fmtDuration(rec.duration_s)),
      el("td", { class: "col-direction" }, rec.summary?.direction ?? "–"),
      el("td", {}, el("a", { href: `/review/${encodeURIComponent(id)}`, "aria-label": `Review session from ${date}` }, "Review"),
        sessionActions(rec, date)),
    );
  });
  body.replaceChildren(...rows);
}

function toggleSelect(id, on) {
  const i = selected.indexOf(id);
  if (on && i < 0) selected.push(id);
  if (!on && i >= 0) selected.splice(i, 1);
  while (selected.length > 2) {
    const dropped = selected.shift();
    const box = body.querySelector(`input[value="${CSS.escape(dropped)}"]`);
    if (box) box.checked = false;
  }
  compareBtn.disabled = selected.length !== 2;
  compareHint.textContent = selected.length === 2 ? "Ready to compare." : `Select ${2 - selected.length} more session${selected.length === 1 ? "" : "s"}.`;
}

async function loadSessions() {
  const id = personId();
  try {
    const list = await getJSON(id ? `/api/sessions?person_id=${encodeURIComponent(id)}` : "/api/sessions");
    if (id !== personId()) return; // another person was picked meanwhile
    renderSessions(list);
    document.body.dataset.shownPerson = id ?? "";
  } catch (err) {
    showError(`Could not load the sessions: ${err.message}`);
    body.replaceChildren(el("tr", {}, el("td", { colspan: "8", class: "empty" }, "Sessions could not be loaded.")));
  }
}

// ---------------------------------------------------------------- uploads

/** A job from POST /api/uploads or GET /api/jobs/{id}: {id, filename, status, progress, session_id, error}. */
function jobItem(job) {
  const bar = el("progress", { max: "1", value: "0", "aria-label": `Analysis of ${job.filename}` });
  const status = el("span", { class: "badge", "data-status": job.status }, job.status);
  const detail = el("div", { class: "job-detail" });
  const li = el("li", { class: "job", "data-job": job.id },
    el("div", { class: "job-head" }, el("span", { class: "job-name" }, job.filename || job.id), status),
    bar, detail);
  return { li, bar, status, detail };
}

async function pollJob(job, view) {
  for (;;) {
    let j;
    try {
      j = await getJSON(`/api/jobs/${encodeURIComponent(job.id)}`);
    } catch (err) {
      view.detail.textContent = `Could not get the job status: ${err.message}`;
      await new Promise((r) => setTimeout(r, POLL_MS * 3));
      continue;
    }
    view.status.textContent = j.status;
    view.status.dataset.status = j.status;
    view.bar.value = j.progress;
    if (j.status === "done") {
      view.bar.value = 1;
      view.detail.replaceChildren(el("a", { href: `/review/${encodeURIComponent(j.session_id)}`, class: "review-link" },
        `Review ${job.filename || "clip"}`));
      announce(`${job.filename || "Clip"} analysed.`);
      loadSessions();
      return;
    }
    if (j.status === "failed") {
      view.detail.textContent = j.error || "The analysis failed.";
      showError(`${job.filename || "Clip"}: ${j.error || "the analysis failed."}`);
      loadSessions();
      return;
    }
    view.detail.textContent = j.status === "queued" ? "Waiting to start…" : `Analysing… ${Math.round(j.progress * 100)} %`;
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

$("upload-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const input = $("files");
  const files = [...input.files];
  if (!files.length) { showError("Choose one or more video files first."); input.focus(); return; }
  const btn = $("upload-btn");
  const box = $("upload-progress-box");
  const bar = $("upload-progress");
  btn.disabled = true;
  box.hidden = false;
  bar.value = 0;
  announce(`Uploading ${files.length} file${files.length > 1 ? "s" : ""}.`);
  try {
    const level = $("upload-level").value;
    const height = $("upload-height").value.trim();
    localStorage.setItem("posecoach.level", level);
    const resp = await uploadFiles("/api/uploads", files, (f) => { bar.value = f; },
      { level, height_cm: height, person_id: personId() });
    const list = $("jobs");
    if (list.querySelector(".empty")) list.replaceChildren();
    for (const job of resp.jobs) {
      const view = jobItem(job);
      list.prepend(view.li);
      if (job.status === "failed") {
        view.detail.textContent = job.error || "Rejected.";
        showError(`${job.filename}: ${job.error || "rejected"}`);
      } else pollJob(job, view);
    }
    input.value = "";
    announce("Upload finished. Analysing.");
  } catch (err) {
    showError(err.message);
  } finally {
    btn.disabled = false;
    setTimeout(() => { box.hidden = true; }, 800);
  }
});

compareBtn.addEventListener("click", () => {
  if (selected.length === 2) location.href = `/compare?a=${encodeURIComponent(selected[0])}&b=${encodeURIComponent(selected[1])}`;
});

const savedLevel = localStorage.getItem("posecoach.level");
if (savedLevel && [...$("upload-level").options].some((o) => o.value === savedLevel)) $("upload-level").value = savedLevel;
const savedHeight = localStorage.getItem("posecoach.height");
if (savedHeight) $("upload-height").value = savedHeight;

/** Show `person`'s sessions, file new uploads under them, and use their level and height. */
function showPerson(person) {
  const several = (picker?.people.length ?? 0) > 1;
  $("sessions-heading").textContent = several && person ? `Sessions of ${person.name}` : "Sessions";
  $("upload-person").hidden = !(several && person);
  $("upload-person-name").textContent = person?.name ?? "";
  if (person?.level && [...$("upload-level").options].some((o) => o.value === person.level)) $("upload-level").value = person.level;
  if (person && typeof person.height_cm === "number") $("upload-height").value = String(Math.round(person.height_cm));
  selected.length = 0;
  toggleSelect("", false);
}

async function main() {
  const people = await loadPeople();
  picker = personPicker($("person-pick"), people, {
    id: "person", label: "Person",
    onChange: (person) => { showPerson(person); loadSessions(); announce(`Showing the sessions of ${person?.name ?? "everyone"}.`); },
  });
  showPerson(picker.person());
  await loadSessions();
}

main();
document.addEventListener("visibilitychange", () => { if (!document.hidden) loadSessions(); });

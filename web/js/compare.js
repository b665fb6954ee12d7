// Compare page: two sessions side by side (clips and a measurements table).
import { el, fileURL, fmtDate, getJSON, parseDate, showError } from "./api.js";
import { METRIC_ROWS } from "./summary.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

/** "date · source" for a session record (SessionListItem or SessionDetail). */
function label(rec) {
  const d = parseDate(rec.created_at);
  const src = rec.source_name.split("/").pop();
  return `${d ? fmtDate(d) : rec.id}${src ? ` · ${src}` : ""}`;
}

async function fillPickers(a, b) {
  let list = [];
  try {
    list = await getJSON("/api/sessions"); // newest first
  } catch (err) {
    showError(`Could not load the sessions: ${err.message}`);
  }
  for (const [sel, want] of [[$("pick-a"), a], [$("pick-b"), b]]) {
    sel.replaceChildren(el("option", { value: "" }, "Choose a session"),
      ...list.map((r) => el("option", { value: r.id }, label(r))));
    if (want) sel.value = want;
  }
  if (!a && !b && list.length >= 2) {
    $("pick-a").value = list[1].id;
    $("pick-b").value = list[0].id;
  }
}

async function load(side, id) {
  const video = $(`video-${side}`);
  const link = $(`link-${side}`);
  if (!id) return null;
  video.src = fileURL(id, "annotated.mp4");
  link.href = `/review/${encodeURIComponent(id)}`;
  try {
    const rec = await getJSON(`/api/sessions/${encodeURIComponent(id)}`);
    $(`${side}-heading`).textContent = label(rec);
    $(`col-${side}`).textContent = side === "a" ? "First" : "Second";
    return rec;
  } catch (err) {
    showError(`Could not load session ${id}: ${err.message}`);
    return null;
  }
}

async function main() {
  const a = params.get("a");
  const b = params.get("b");
  await fillPickers(a, b);
  if (!a || !b) return;
  const [ra, rb] = await Promise.all([load("a", a), load("b", b)]);
  if (!ra || !rb) return;
  const sa = ra.summary ?? {};
  const sb = rb.summary ?? {};
  $("compare-table").querySelector("tbody").replaceChildren(...METRIC_ROWS.map(([name, f]) =>
    el("tr", {}, el("th", { scope: "row" }, name), el("td", { class: "num" }, f(sa)), el("td", { class: "num" }, f(sb)))));
}

$("pick").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const a = $("pick-a").value;
  const b = $("pick-b").value;
  if (!a || !b) { showError("Choose two sessions to compare."); return; }
  location.href = `/compare?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`;
});
$("play-both").addEventListener("click", () => {
  for (const v of [$("video-a"), $("video-b")]) { v.currentTime = 0; v.play().catch(() => {}); }
});

main();

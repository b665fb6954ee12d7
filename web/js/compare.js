// Compare page: two sessions side by side (clips and a measurements table), of one person or
// of two: each side has its own person picker (hidden while there is only one person).
import { el, fileURL, fmtDate, getJSON, parseDate, showError } from "./api.js";
import { METRIC_ROWS } from "./summary.js";
import { loadPeople, personPicker } from "./person.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
let several = false; // more than one person: sessions are named with their person

/** "person · date · source" for a session record (SessionListItem or SessionDetail). */
function label(rec) {
  const d = parseDate(rec.created_at);
  const src = rec.source_name.split("/").pop();
  const who = several && rec.person_name ? `${rec.person_name} · ` : "";
  return `${who}${d ? fmtDate(d) : rec.id}${src ? ` · ${src}` : ""}`;
}

function fillSessions(sel, list, picker, want) {
  const person = picker.person();
  const mine = person && list.every((r) => "person_id" in r) ? list.filter((r) => r.person_id === person.id) : list;
  sel.replaceChildren(el("option", { value: "" }, "Choose a session"),
    ...mine.map((r) => el("option", { value: r.id }, label(r))));
  if (want && mine.some((r) => r.id === want)) sel.value = want;
  return mine;
}

async function fillPickers(a, b) {
  let list = [];
  const [people] = await Promise.all([
    loadPeople(),
    getJSON("/api/sessions").then((l) => { list = l; }) // newest first, everyone's
      .catch((err) => showError(`Could not load the sessions: ${err.message}`)),
  ]);
  several = people.length > 1;
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
    const which = side === "a" ? "First" : "Second";
    $(`col-${side}`).textContent = several && rec.person_name ? `${which}: ${rec.person_name}` : which;
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

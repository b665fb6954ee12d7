// Progress page, one person at a time: charts across sessions and the progression suggestion
// from GET /api/progress?person_id=ID, which sends {sessions: [ProgressRow, oldest first], units,
// suggestion: {action, message, reasons}}, and the person's timed tests (3-metre backward walk)
// from GET /api/people/{id}/timed-tests, plotted with a band of the minimal detectable change.
import { announce, el, fmtDate, getJSON, isNum, parseDate, showError } from "./api.js";
import { lineChart } from "./charts.js";
import { loadPeople, personPicker, populationPhrase } from "./person.js";

const $ = (id) => document.getElementById(id);
const percent = (v) => (isNum(v) ? v * 100 : null);

const CHARTS = [
  { title: "Session length", time: (r) => r.duration_s },
  { title: "Time walking backwards", time: (r) => r.backward_time_s },
  { title: "Speed", get: (r) => r.speed, alt: (r) => r.speed_leg_s, units: ["speed", "speed_leg_s"], fmt: (v) => v.toFixed(2) },
  { title: "Step length", get: (r) => r.step_length, alt: (r) => r.step_length_leg, units: ["step_length", "step_length_leg"], fmt: (v) => v.toFixed(2) },
  { title: "Share of time upright (%)", get: (r) => percent(r.upright_share), fmt: (v) => v.toFixed(0), yMin: 0 },
  { title: "Share of time with head up (%)", get: (r) => percent(r.head_up_share), fmt: (v) => v.toFixed(0), yMin: 0 },
];

const painFlag = (r) => r.pain === "pain" || r.pain === "soreness";

let picker = null;
let shown = 0; // which load is current, so a slow answer for an earlier person is dropped

async function loadProgress(person, load) {
  let data;
  try {
    data = await getJSON(person ? `/api/progress?person_id=${encodeURIComponent(person.id)}` : "/api/progress");
  } catch (err) {
    if (load !== shown) return;
    showError(`Could not load progress: ${err.message}`);
    $("suggestion").textContent = "Progress is not available right now.";
    return;
  }
  if (load === shown) renderProgress(data);
}

function renderProgress(data) {
  const rows = data.sessions;
  const sug = data.suggestion;
  $("reasons").replaceChildren(...sug.reasons.map((r) => el("li", {}, r)));
  $("suggestion").dataset.action = sug.action;
  $("suggestion").textContent = sug.message;
  const day = (d) => d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  const days = rows.map((r) => { const d = parseDate(r.date); return d ? day(d) : null; });
  const label = (r, i) => {
    const d = parseDate(r.date);
    if (!d) return `#${i + 1}`;
    const repeated = days.filter((x) => x === days[i]).length > 1;
    return repeated ? `${day(d)} ${d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })}` : day(d);
  };
  const charts = CHARTS.map((c) => {
    let get = c.get;
    let title = c.title;
    let fmt = c.fmt;
    if (c.time) { // minutes, or seconds while every session is short
      const minutes = rows.some((r) => isNum(c.time(r)) && c.time(r) >= 120);
      get = (r) => { const v = c.time(r); return isNum(v) ? (minutes ? v / 60 : v) : null; };
      title = `${c.title} (${minutes ? "minutes" : "seconds"})`;
      fmt = (v) => v.toFixed(minutes ? 1 : 0);
    }
    if (c.alt) {
      const hasMetres = rows.some((r) => isNum(c.get(r)));
      if (!hasMetres) get = c.alt;
      title = `${c.title} (${data.units[c.units[hasMetres ? 0 : 1]]})`;
    }
    const points = rows.map((r, i) => ({ label: label(r, i), y: get(r), flag: painFlag(r) }));
    return { title, get, fmt, svg: lineChart({ title, points, format: fmt, yMin: c.yMin ?? 0 }) };
  });
  $("charts").replaceChildren(...charts.map((c) => el("figure", { class: "card chart" }, el("figcaption", {}, c.title), c.svg)));

  const table = $("progress-table");
  table.querySelector("thead").replaceChildren(el("tr", {}, el("th", { scope: "col" }, "Session"),
    ...charts.map((c) => el("th", { scope: "col", class: "num" }, c.title))));
  table.querySelector("tbody").replaceChildren(...rows.map((r) => {
    const d = parseDate(r.date);
    return el("tr", {},
      el("th", { scope: "row" }, el("a", { href: `/review/${encodeURIComponent(r.id)}` }, d ? fmtDate(d) : r.id)),
      ...charts.map((c) => { const v = c.get(r); return el("td", { class: "num", "data-label": c.title }, isNum(v) ? c.fmt(v) : "–"); }));
  }));
}

// ---------------------------------------------------------------- timed tests

const fmtS = (v) => (isNum(v) ? `${v.toFixed(2)} s` : "–");
const fmtChange = (v) => (isNum(v) ? `${v > 0 ? "+" : v < 0 ? "−" : "±"}${Math.abs(v).toFixed(2)} s` : "–");

function verdict(t) {
  if (!t.timed) return !t.reason ? "not timed" : /^not timed/i.test(t.reason) ? t.reason : `not timed: ${t.reason}`;
  if (!isNum(t.change_s)) return "first test";
  if (!isNum(t.mdc_s)) return "no published minimal detectable change";
  if (t.real_change) return `real change (${t.change_s < 0 ? "faster" : "slower"})`;
  return "within measurement error";
}

/** TimedTestItem records, oldest first: a chart of the timed ones and a table of all. */
function renderTimedTests(items) {
  const box = $("timed-chart");
  const body = $("timed-table").querySelector("tbody");
  if (!items.length) {
    box.replaceChildren();
    $("timed-hint").textContent = "No timed tests yet. The Timed test page runs one.";
    body.replaceChildren(el("tr", {}, el("td", { colspan: "5", class: "empty" }, "No timed tests yet.")));
    return;
  }
  const timed = items.filter((t) => t.timed && isNum(t.time_s));
  const day = (t) => { const d = parseDate(t.created_at); return d ? d.toLocaleDateString(undefined, { month: "short", day: "numeric" }) : "?"; };
  const days = timed.map(day);
  const label = (t, i) => {
    const d = parseDate(t.created_at);
    const repeated = d && days.filter((x) => x === days[i]).length > 1;
    return repeated ? `${days[i]} ${d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" })}` : days[i];
  };
  const points = timed.map((t, i) => ({
    label: label(t, i), y: t.time_s, x: parseDate(t.created_at)?.getTime(), mark: t.real_change ? "real change" : null,
  }));
  const bands = [];
  timed.forEach((t, i) => {
    if (i === 0 || !isNum(t.mdc_s)) return;
    const prev = timed[i - 1].time_s;
    bands.push({ from: i - 1, to: i, lo: Math.max(0, prev - t.mdc_s), hi: prev + t.mdc_s,
      label: `${prev.toFixed(2)} s ± ${t.mdc_s} s (minimal detectable change)` });
  });
  const title = "3-metre backward walk time (seconds)";
  const DAY_MS = 86_400_000; // tests on one or two days are spaced evenly, not by time
  const svg = lineChart({ title, points, format: (v) => v.toFixed(2), yMin: 0, bands, xMinSpan: 2 * DAY_MS });
  box.replaceChildren(el("figure", { class: "card chart timed-chart" }, el("figcaption", {}, title), svg));
  const last = items[items.length - 1];
  const mdc = [...items].reverse().find((t) => isNum(t.mdc_s))?.mdc_s;
  $("timed-hint").textContent = isNum(mdc)
    ? `Time per test; lower is faster. The shaded band is the previous test's time ± ${mdc} s, the minimal detectable change `
      + `for ${populationPhrase(last.population)}: a time outside it is marked "real change".`
    : "Time per test; lower is faster. No minimal detectable change is published for this person's population "
      + `(${last.population ? populationPhrase(last.population) : "not set"}), so changes are not marked as real. `
      + "Set the population on the People page.";
  body.replaceChildren(...[...items].reverse().map((t) => {
    const d = parseDate(t.created_at);
    return el("tr", { "data-session": t.session_id, "data-real": t.real_change ? "yes" : "no" },
      el("th", { scope: "row" }, el("a", { href: `/review/${encodeURIComponent(t.session_id)}` }, d ? fmtDate(d) : t.session_id)),
      el("td", { class: "num", "data-label": "Time" }, t.timed ? fmtS(t.time_s) : "–"),
      el("td", { class: "num", "data-label": "Change" }, fmtChange(t.change_s)),
      el("td", { class: "num", "data-label": "Minimal detectable change" }, fmtS(t.mdc_s)),
      el("td", { class: t.real_change ? "real-change" : null, "data-label": "Verdict" }, verdict(t)));
  }));
}

async function loadTimedTests(person, load) {
  $("timed-tests").hidden = !person;
  if (!person) return;
  try {
    const items = await getJSON(`/api/people/${encodeURIComponent(person.id)}/timed-tests`);
    if (load === shown) renderTimedTests(items);
  } catch (err) {
    if (load !== shown) return;
    $("timed-chart").replaceChildren();
    $("timed-table").querySelector("tbody").replaceChildren(
      el("tr", {}, el("td", { colspan: "5", class: "empty" }, "The timed tests could not be loaded.")));
    showError(`Could not load the timed tests: ${err.message}`);
  }
}

function show(person) {
  const load = ++shown;
  const several = (picker?.people.length ?? 0) > 1;
  $("title").textContent = several && person ? `Progress of ${person.name}` : "Your progress";
  return Promise.all([loadProgress(person, load), loadTimedTests(person, load)]).then(() => {
    if (load === shown) document.body.dataset.shownPerson = person?.id ?? "";
  });
}

async function main() {
  const people = await loadPeople();
  picker = personPicker($("person-pick"), people, {
    id: "person", label: "Person",
    onChange: (person) => { show(person); announce(`Showing the progress of ${person?.name ?? "everyone"}.`); },
  });
  await show(picker.person());
}

main();

// Progress page: charts across sessions and the progression suggestion from GET /api/progress.
import { el, fmtDate, getJSON, isNum, sessionDate, sessionId, showError, summaryOf } from "./api.js";
import { lineChart } from "./charts.js";

const $ = (id) => document.getElementById(id);

const pick = (r, ...names) => {
  const s = summaryOf(r);
  for (const n of names) {
    if (isNum(r[n])) return r[n];
    if (isNum(s[n])) return s[n];
  }
  return null;
};

const CHARTS = [
  { title: "Session length", time: (r) => pick(r, "duration_s") },
  { title: "Time walking backwards", time: (r) => pick(r, "backward_time_s") },
  { title: "Speed", get: (r) => pick(r, "speed_m_s", "speed"), alt: (r) => pick(r, "speed_leg_s"), unit: ["m/s", "leg lengths/s"], fmt: (v) => v.toFixed(2) },
  { title: "Step length", get: (r) => pick(r, "step_length_m", "step_length"), alt: (r) => pick(r, "step_length_leg"), unit: ["m", "leg lengths"], fmt: (v) => v.toFixed(2) },
  { title: "Share of time upright (%)", get: (r) => { const v = pick(r, "upright_share"); return isNum(v) ? v * 100 : null; }, fmt: (v) => v.toFixed(0), yMin: 0 },
  { title: "Share of time with head up (%)", get: (r) => { const v = pick(r, "head_up_share"); return isNum(v) ? v * 100 : null; }, fmt: (v) => v.toFixed(0), yMin: 0 },
];

/** Accept a list of per-session rows, or columns ({name: [..]}), under a few likely keys. */
function rowsOf(data) {
  const raw = Array.isArray(data) ? data : data.sessions ?? data.series ?? data.items ?? data.points ?? [];
  if (Array.isArray(raw)) return raw;
  if (raw && typeof raw === "object") {
    const keys = Object.keys(raw);
    const n = Math.max(0, ...keys.map((k) => (Array.isArray(raw[k]) ? raw[k].length : 0)));
    return Array.from({ length: n }, (_, i) => Object.fromEntries(keys.map((k) => [k, Array.isArray(raw[k]) ? raw[k][i] : null])));
  }
  return [];
}

function suggestionText(data) {
  const s = data.suggestion ?? data.progression ?? null;
  if (!s) return null;
  if (typeof s === "string") return s;
  return s.text ?? s.message ?? s.suggestion ?? JSON.stringify(s);
}

function painFlag(r) {
  const c = r.checkin ?? null;
  const p = r.pain ?? (c && c.pain);
  return p === "pain" || p === "soreness";
}

async function main() {
  let data;
  try {
    data = await getJSON("/api/progress");
  } catch (err) {
    showError(`Could not load progress: ${err.message}`);
    $("suggestion").textContent = "Progress is not available right now.";
    return;
  }
  const rows = rowsOf(data);
  rows.sort((a, b) => (sessionDate(a)?.getTime() ?? 0) - (sessionDate(b)?.getTime() ?? 0));
  const sug = data.suggestion;
  if (sug && Array.isArray(sug.reasons)) $("reasons").replaceChildren(...sug.reasons.map((r) => el("li", {}, r)));
  if (sug && sug.action) $("suggestion").dataset.action = sug.action;
  $("suggestion").textContent = suggestionText(data) ??
    (rows.length ? "Keep your sessions pain-free before adding time or speed." : "No sessions yet: start with 5 minutes of slow backward walking.");
  const day = (d) => d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  const days = rows.map((r) => { const d = sessionDate(r); return d ? day(d) : null; });
  const label = (r, i) => {
    const d = sessionDate(r);
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
      title = `${c.title} (${hasMetres ? c.unit[0] : c.unit[1]})`;
    }
    const points = rows.map((r, i) => ({ label: label(r, i), y: get(r), flag: painFlag(r) }));
    return { title, get, fmt, svg: lineChart({ title, points, format: fmt, yMin: c.yMin ?? 0 }) };
  });
  $("charts").replaceChildren(...charts.map((c) => el("figure", { class: "card chart" }, el("figcaption", {}, c.title), c.svg)));

  const table = $("progress-table");
  table.querySelector("thead").replaceChildren(el("tr", {}, el("th", { scope: "col" }, "Session"),
    ...charts.map((c) => el("th", { scope: "col", class: "num" }, c.title))));
  table.querySelector("tbody").replaceChildren(...rows.map((r) => {
    const d = sessionDate(r);
    const id = sessionId(r);
    return el("tr", {},
      el("th", { scope: "row" }, id ? el("a", { href: `/review/${encodeURIComponent(id)}` }, d ? fmtDate(d) : String(id)) : (d ? fmtDate(d) : "–")),
      ...charts.map((c) => { const v = c.get(r); return el("td", { class: "num" }, isNum(v) ? c.fmt(v) : "–"); }));
  }));
}

main();

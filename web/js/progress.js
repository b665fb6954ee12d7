// Progress page: charts across sessions and the progression suggestion from GET /api/progress,
// which sends {sessions: [ProgressRow, oldest first], units, suggestion: {action, message, reasons}}.
import { el, fmtDate, getJSON, isNum, parseDate, showError } from "./api.js";
import { lineChart } from "./charts.js";

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

async function main() {
  let data;
  try {
    data = await getJSON("/api/progress");
  } catch (err) {
    showError(`Could not load progress: ${err.message}`);
    $("suggestion").textContent = "Progress is not available right now.";
    return;
  }
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
      ...charts.map((c) => { const v = c.get(r); return el("td", { class: "num" }, isNum(v) ? c.fmt(v) : "–"); }));
  }));
}

main();

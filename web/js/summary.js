// Session summary helpers: a metrics table definition and the summary in plain words.
import { fmtDuration, fmtNum, fmtPct, isNum } from "./api.js";

const fmtDeg = (x) => (isNum(x) ? `${x.toFixed(1)}°` : "–");

const DIRECTION_WORDS = {
  backward: "walking backwards",
  forward: "walking forwards",
  mixed: "a mix of backward and forward walking",
  unknown: "an unknown direction",
};

/** Rows for metric tables: [label, (summary) -> display string]. */
export const METRIC_ROWS = [
  ["Duration", (s) => fmtDuration(s.duration_s)],
  ["Direction", (s) => s.direction ?? "–"],
  ["Time walking backwards", (s) => fmtDuration(s.backward_time_s)],
  ["Camera view", (s) => s.view ?? "–"],
  ["Steps", (s) => (isNum(s.steps) ? String(s.steps) : "–")],
  ["Cadence", (s) => fmtNum(s.cadence_spm, 0, "steps/min")],
  ["Step length", (s) => (isNum(s.step_length_m) ? fmtNum(s.step_length_m, 2, "m") : fmtNum(s.step_length_leg, 2, "leg lengths"))],
  ["Speed", (s) => (isNum(s.speed_m_s) ? fmtNum(s.speed_m_s, 2, "m/s") : fmtNum(s.speed_leg_s, 2, "leg lengths/s"))],
  ["Step length symmetry", (s) => fmtPct(s.step_length_symmetry)],
  ["Step time symmetry", (s) => fmtPct(s.step_time_symmetry)],
  ["Trunk lean (median)", (s) => fmtDeg(s.trunk_lean_deg_median)],
  ["Head angle (median)", (s) => fmtDeg(s.head_angle_deg_median)],
  ["Time upright", (s) => fmtPct(s.upright_share)],
  ["Time with head up", (s) => fmtPct(s.head_up_share)],
  ["Cues", (s) => (Array.isArray(s.cues) ? String(s.cues.length) : "–")],
];

/** The summary in short sentences (used when the server does not send its own wording). */
export function summaryInWords(s) {
  const out = [];
  if (!s || typeof s !== "object") return out;
  const dir = DIRECTION_WORDS[s.direction] ?? "walking";
  if (isNum(s.duration_s)) {
    let line = `You spent ${fmtDuration(s.duration_s)} ${dir}`;
    if (isNum(s.backward_time_s) && s.direction === "mixed") {
      line += `, ${fmtDuration(s.backward_time_s)} of it backwards`;
    }
    out.push(`${line}.`);
  }
  if (isNum(s.steps) && s.steps > 0) {
    let line = `${s.steps} steps`;
    if (isNum(s.cadence_spm)) line += ` at ${Math.round(s.cadence_spm)} steps per minute`;
    if (isNum(s.speed_m_s)) line += `, about ${s.speed_m_s.toFixed(2)} m/s`;
    out.push(`${line}.`);
  }
  if (isNum(s.upright_share)) {
    out.push(`You were upright for ${Math.round(s.upright_share * 100)} % of the time` +
      (isNum(s.head_up_share) ? ` and kept your head up for ${Math.round(s.head_up_share * 100)} %.` : "."));
  }
  if (isNum(s.step_length_symmetry) && s.step_length_symmetry < 0.85) {
    out.push("Your left and right steps were noticeably different in length.");
  }
  const cues = Array.isArray(s.cues) ? s.cues.filter((c) => c.rule !== "good_form") : [];
  if (cues.length) {
    const counts = {};
    for (const c of cues) counts[c.message] = (counts[c.message] || 0) + 1;
    const top = Object.entries(counts).sort((a, b) => b[1] - a[1]).slice(0, 3);
    out.push(`Most frequent cues: ${top.map(([m, n]) => `"${m}" (${n}×)`).join(", ")}.`);
  } else if (Array.isArray(s.cues)) {
    out.push("No form cues were needed. Well done.");
  }
  for (const w of s.warnings ?? []) out.push(`Note: ${w}`);
  return out;
}

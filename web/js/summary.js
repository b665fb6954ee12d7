// The measurements table shared by the review and compare pages. The summary in words comes
// from the server (the session record's `sentences`), so the pages and the report agree.
import { fmtDuration, fmtNum, fmtPct, isNum } from "./api.js";
import { DIRECTION_WORDS } from "./words.js";

const fmtDeg = (x) => (isNum(x) ? `${x.toFixed(1)}°` : "–");

/** Rows for metric tables: [label, (summary) -> display string]; `summary` is a SessionSummary. */
export const METRIC_ROWS = [
  ["Duration", (s) => fmtDuration(s.duration_s)],
  ["Direction", (s) => (s.direction ? DIRECTION_WORDS[s.direction] ?? s.direction : "–")],
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

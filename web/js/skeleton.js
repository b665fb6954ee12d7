// Draws the pose skeleton, the trunk and head lines with their angles on a canvas overlay.
// Landmarks come from the server normalised to 0..1 of the frame: [x, y, visibility].

export const LM = {
  NOSE: 0, LEFT_EAR: 7, RIGHT_EAR: 8,
  LEFT_SHOULDER: 11, RIGHT_SHOULDER: 12, LEFT_ELBOW: 13, RIGHT_ELBOW: 14,
  LEFT_WRIST: 15, RIGHT_WRIST: 16, LEFT_HIP: 23, RIGHT_HIP: 24, LEFT_KNEE: 25, RIGHT_KNEE: 26,
  LEFT_ANKLE: 27, RIGHT_ANKLE: 28, LEFT_HEEL: 29, RIGHT_HEEL: 30, LEFT_FOOT_INDEX: 31,
  RIGHT_FOOT_INDEX: 32,
};

// Same as posecoach.landmarks.SKELETON_EDGES.
export const SKELETON_EDGES = [
  [11, 12], [11, 13], [13, 15], [12, 14], [14, 16], [11, 23], [12, 24], [23, 24],
  [23, 25], [25, 27], [27, 29], [29, 31], [27, 31], [24, 26], [26, 28], [28, 30], [30, 32], [28, 32],
];
const LEFT = new Set([11, 13, 15, 23, 25, 27, 29, 31, 7]);
const MIN_VIS = 0.5;

const COLORS = {
  center: "#ffffff",
  trunk: "#ffd23f",
  head: "#7cf29c",
  bad: "#ff5c5c",
  outline: "rgba(0,0,0,0.75)",
};

/** The body-side colours: app.css's --side-left and --side-right, the same as on the annotated
 *  video and the report plots. */
function sideColors() {
  const css = getComputedStyle(document.documentElement);
  const read = (name) => css.getPropertyValue(name).trim() || COLORS.center;
  return { left: read("--side-left"), right: read("--side-right") };
}

/** The rectangle (in CSS pixels of `box`) where a media element of size mw x mh is shown with
 *  object-fit: contain inside a box of size bw x bh. */
export function containRect(bw, bh, mw, mh) {
  if (!mw || !mh) return { x: 0, y: 0, w: bw, h: bh };
  const scale = Math.min(bw / mw, bh / mh);
  const w = mw * scale;
  const h = mh * scale;
  return { x: (bw - w) / 2, y: (bh - h) / 2, w, h };
}

function visible(p) {
  return Array.isArray(p) && p[0] !== null && p[1] !== null && Number.isFinite(p[0]) &&
    Number.isFinite(p[1]) && (p[2] === null || p[2] === undefined || p[2] >= MIN_VIS);
}

function mid(a, b) {
  return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2, Math.min(a[2] ?? 1, b[2] ?? 1)];
}

function fmtAngle(x) {
  return typeof x === "number" && Number.isFinite(x) ? `${x >= 0 ? "+" : ""}${x.toFixed(0)}°` : "–";
}

function label(ctx, text, x, y, color, fontPx) {
  ctx.font = `700 ${fontPx}px system-ui, sans-serif`;
  ctx.textBaseline = "middle";
  const w = ctx.measureText(text).width;
  const pad = fontPx * 0.3;
  ctx.fillStyle = "rgba(0,0,0,0.7)";
  ctx.fillRect(x - pad, y - fontPx * 0.65, w + 2 * pad, fontPx * 1.3);
  ctx.fillStyle = color;
  ctx.fillText(text, x, y);
}

function line(ctx, a, b, color, width) {
  ctx.lineCap = "round";
  ctx.strokeStyle = COLORS.outline;
  ctx.lineWidth = width + 3;
  ctx.beginPath();
  ctx.moveTo(a[0], a[1]);
  ctx.lineTo(b[0], b[1]);
  ctx.stroke();
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.beginPath();
  ctx.moveTo(a[0], a[1]);
  ctx.lineTo(b[0], b[1]);
  ctx.stroke();
}

/**
 * The overlay lines ("trunk", "head") that the given cues concern, as a Set. `rules` is the
 * `rules` list of GET /api/config: each rule's id and the `lines` its fault turns red.
 */
export function faultyLines(cues, rules) {
  const linesOf = new Map(rules.map((r) => [r.id, r.lines]));
  return new Set(cues.flatMap((c) => linesOf.get(c.rule) || []));
}

/**
 * Draw one result on `canvas`, which covers a media box; `mediaW`/`mediaH` are the shown media's
 * intrinsic size (for object-fit: contain). `result` is a LiveResult JSON. `badLines` is a Set of
 * the lines ("trunk", "head") to draw red, from `faultyLines`.
 */
export function drawOverlay(canvas, result, mediaW, mediaH, badLines = new Set()) {
  const dpr = window.devicePixelRatio || 1;
  const bw = canvas.clientWidth;
  const bh = canvas.clientHeight;
  if (canvas.width !== Math.round(bw * dpr) || canvas.height !== Math.round(bh * dpr)) {
    canvas.width = Math.round(bw * dpr);
    canvas.height = Math.round(bh * dpr);
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, bw, bh);
  if (!result || !result.person || !Array.isArray(result.landmarks)) return false;

  const r = containRect(bw, bh, mediaW || result.width, mediaH || result.height);
  const lm = result.landmarks;
  const px = (p) => [r.x + p[0] * r.w, r.y + p[1] * r.h];
  const unit = Math.max(2, Math.min(r.w, r.h) / 120);
  const side = sideColors();

  for (const [i, j] of SKELETON_EDGES) {
    const a = lm[i];
    const b = lm[j];
    if (!visible(a) || !visible(b)) continue;
    const color = LEFT.has(i) && LEFT.has(j) ? side.left : !LEFT.has(i) && !LEFT.has(j) ? side.right : COLORS.center;
    line(ctx, px(a), px(b), color, unit * 1.2);
  }
  for (let k = 0; k < lm.length; k++) {
    const p = lm[k];
    if (k > 0 && k < 11) continue; // face points except the nose: too busy
    if (!visible(p)) continue;
    const [x, y] = px(p);
    ctx.beginPath();
    ctx.arc(x, y, unit * 1.6, 0, Math.PI * 2);
    ctx.fillStyle = LEFT.has(k) ? side.left : k === 0 ? COLORS.center : side.right;
    ctx.fill();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = COLORS.outline;
    ctx.stroke();
  }

  const m = result.metrics;
  const fontPx = Math.max(14, Math.round(unit * 7));
  // Trunk line: mid-hip -> mid-shoulder.
  const ls = lm[LM.LEFT_SHOULDER], rs = lm[LM.RIGHT_SHOULDER];
  const lh = lm[LM.LEFT_HIP], rh = lm[LM.RIGHT_HIP];
  if (visible(ls) && visible(rs) && visible(lh) && visible(rh)) {
    const hip = px(mid(lh, rh));
    const sh = px(mid(ls, rs));
    const bad = badLines.has("trunk");
    line(ctx, hip, sh, bad ? COLORS.bad : COLORS.trunk, unit * 2.2);
    const angle = m.view === "front" || m.view === "back" ? m.trunk_lateral_lean_deg : m.trunk_lean_deg;
    label(ctx, `Trunk ${fmtAngle(angle)}`, Math.max(r.x + 4, Math.min(sh[0] + unit * 5, r.x + r.w - fontPx * 6)),
      (sh[1] + hip[1]) / 2, bad ? COLORS.bad : COLORS.trunk, fontPx);
  }
  // Head line: ear -> shoulder on the better-seen side.
  const le = lm[LM.LEFT_EAR], re = lm[LM.RIGHT_EAR];
  const leftScore = (visible(le) && visible(ls)) ? (le[2] ?? 1) + (ls[2] ?? 1) : -1;
  const rightScore = (visible(re) && visible(rs)) ? (re[2] ?? 1) + (rs[2] ?? 1) : -1;
  if (leftScore >= 0 || rightScore >= 0) {
    const [ear, sh] = leftScore >= rightScore ? [le, ls] : [re, rs];
    const a = px(sh);
    const b = px(ear);
    const bad = badLines.has("head");
    line(ctx, a, b, bad ? COLORS.bad : COLORS.head, unit * 1.8);
    label(ctx, `Head ${fmtAngle(m.head_angle_deg)}`, Math.max(r.x + 4, Math.min(b[0] + unit * 5, r.x + r.w - fontPx * 6)),
      Math.max(r.y + fontPx, b[1] - fontPx * 1.2), bad ? COLORS.bad : COLORS.head, fontPx);
  }
  return true;
}

export function clearOverlay(canvas) {
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
}

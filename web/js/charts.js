// A tiny inline-SVG line chart (no chart library). One chart per measurement.
const NS = "http://www.w3.org/2000/svg";

function svgEl(tag, attrs = {}, text = null) {
  const n = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== null) n.textContent = text;
  return n;
}

const TICK_FONT_PX = 12;
let measureCtx = null;

/** The width of an x-axis label in chart units (the tick font is 12 units high). */
function labelWidth(text) {
  if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
  if (!measureCtx) return text.length * TICK_FONT_PX * 0.62;
  const family = getComputedStyle(document.body).fontFamily || "sans-serif";
  measureCtx.font = `${TICK_FONT_PX}px ${family}`;
  return measureCtx.measureText(text).width;
}

function niceStep(range, target = 4) {
  const raw = range / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

/**
 * points: [{label: string, y: number|null, flag?: boolean, x?: number, mark?: string}] in order.
 * Returns an <svg>. format(y) renders tick and point values. With a number `x` on every point
 * (a time, e.g. milliseconds) spanning at least `xMinSpan`, points are spaced by x instead of
 * evenly. Every point is drawn; x-axis labels that would overlap a neighbour are left out, the first
 * and last kept. `mark` writes a word
 * above a point and rings it. bands: [{from, to, lo, hi, label}] shade lo..hi between the points
 * at indices `from` and `to`. `width` is the width in CSS px the chart is shown at (fitChart gives
 * it), so a chart unit is a pixel and the 12-unit labels are 12 px on screen at any width.
 */
export function lineChart({ title, points, format = (y) => String(y), yMin = 0, bands = [], xMinSpan = 0, width = 600 }) {
  const W = Math.max(200, Math.round(width)), H = 250, L = 58, R = 34, T = 14, B = 34;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title, preserveAspectRatio: "xMidYMid meet" });
  svg.append(svgEl("title", {}, title));
  const ys = points.map((p) => p.y).filter((y) => typeof y === "number" && Number.isFinite(y));
  if (!ys.length) {
    svg.append(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "no-data" }, "No data yet"));
    return svg;
  }
  const bandYs = bands.flatMap((b) => [b.lo, b.hi]).filter((v) => typeof v === "number" && Number.isFinite(v));
  let lo = Math.min(yMin ?? Math.min(...ys), ...ys, ...bandYs);
  let hi = Math.max(...ys, ...bandYs);
  if (hi - lo < 1e-9) hi = lo + (Math.abs(lo) || 1);
  const step = niceStep(hi - lo);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const n = points.length;
  const xs = points.map((p) => p.x);
  const byX = xs.every((v) => typeof v === "number" && Number.isFinite(v))
    && Math.max(...xs) - Math.min(...xs) > Math.max(0, xMinSpan);
  const x0 = byX ? Math.min(...xs) : 0;
  const xSpan = byX ? Math.max(...xs) - x0 : 1;
  const x = (i) => (byX ? L + ((xs[i] - x0) * (W - L - R)) / xSpan
    : n === 1 ? L + (W - L - R) / 2 : L + (i * (W - L - R)) / (n - 1));
  const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);

  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
  for (let k = 0; lo + k * step <= hi + step / 2; k++) {
    const v = lo + k * step;
    svg.append(svgEl("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(svgEl("text", { x: L - 8, y: y(v) + 4, "text-anchor": "end", class: "tick" }, v.toFixed(decimals)));
  }
  for (const b of bands) {
    if (![b.lo, b.hi].every((v) => typeof v === "number" && Number.isFinite(v))) continue;
    const left = x(b.from);
    const rect = svgEl("rect", {
      x: left, y: y(b.hi), width: Math.max(2, x(b.to) - left), height: Math.max(1, y(b.lo) - y(b.hi)), class: "band",
    });
    if (b.label) rect.append(svgEl("title", {}, b.label));
    svg.append(rect);
  }
  svg.append(svgEl("line", { x1: L, x2: L, y1: T, y2: H - B, class: "axis" }));
  svg.append(svgEl("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  const LABEL_GAP = 12;
  const spans = points.map((p, i) => {
    const anchor = n > 1 && i === n - 1 ? "end" : n > 1 && i === 0 ? "start" : "middle";
    const w = p.label ? labelWidth(String(p.label)) : 0;
    const left = anchor === "start" ? x(i) : anchor === "end" ? x(i) - w : x(i) - w / 2;
    return { anchor, left, right: left + w };
  });
  const apart = (a, b) => a.right + LABEL_GAP <= b.left || b.right + LABEL_GAP <= a.left;
  const shown = [];
  points.forEach((p, i) => {
    if (!p.label) return;
    if (shown.length && !apart(spans[shown[shown.length - 1]], spans[i])) return;
    if (i < n - 1 && !apart(spans[i], spans[n - 1])) return;
    shown.push(i);
  });
  for (const i of shown) {
    svg.append(svgEl("text", { x: x(i), y: H - B + 18, "text-anchor": spans[i].anchor, class: "tick" }, points[i].label));
  }
  let d = "";
  let pen = false;
  points.forEach((p, i) => {
    if (typeof p.y !== "number" || !Number.isFinite(p.y)) { pen = false; return; }
    d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(p.y).toFixed(1)} `;
    pen = true;
  });
  svg.append(svgEl("path", { d, class: "series" }));
  points.forEach((p, i) => {
    if (typeof p.y !== "number" || !Number.isFinite(p.y)) return;
    const c = svgEl("circle", { cx: x(i), cy: y(p.y), r: 5, class: p.flag ? "dot pain" : "dot" });
    c.append(svgEl("title", {}, `${p.label}: ${format(p.y)}${p.mark ? ` (${p.mark})` : ""}`));
    if (p.mark) {
      svg.append(svgEl("circle", { cx: x(i), cy: y(p.y), r: 10, class: "mark-ring" }));
      const anchor = x(i) > W - R - 40 ? "end" : x(i) < L + 40 ? "start" : "middle";
      svg.append(svgEl("text", { x: x(i), y: Math.max(T + 10, y(p.y) - 15), "text-anchor": anchor, class: "mark-label" }, p.mark));
    }
    svg.append(c);
  });
  return svg;
}

/**
 * Put the chart `draw(width)` returns into `box` drawn at the width the box shows it, and draw it
 * again when that width changes (a window resized, a phone turned), so its text keeps its size.
 */
export function fitChart(box, draw) {
  let drawn = 0;
  const render = () => {
    if (!box.isConnected) { observer.disconnect(); return; }
    const style = getComputedStyle(box);
    const width = Math.floor(box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight));
    if (width <= 0 || width === drawn) return;
    drawn = width;
    const svg = draw(width);
    const old = box.querySelector(":scope > svg");
    if (old) old.replaceWith(svg); else box.append(svg);
  };
  const observer = new ResizeObserver(render);
  render();
  observer.observe(box);
}

// ---------- the server's plots (matplotlib SVG, posecoach.outputs.plots): playhead and seeking

/** Seconds from a time label as the plots write it (m:ss, m:ss.s or h:mm:ss), else null. */
export function parseClockLabel(text) {
  const parts = String(text).trim().replace("\u2212", "-").split(":");
  if (parts.length < 2 || parts.some((p) => !/^\d+(\.\d+)?$/.test(p))) return null;
  return parts.reduce((total, p) => total * 60 + Number(p), 0);
}

/** The corners of a rectangle path ("M x y L x y ... z") as [left, top, right, bottom]. */
function pathBox(d) {
  const nums = (d || "").match(/-?\d+(\.\d+)?/g);
  if (!nums || nums.length < 4) return null;
  const xs = nums.filter((_, i) => i % 2 === 0).map(Number);
  const ys = nums.filter((_, i) => i % 2 === 1).map(Number);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

/**
 * The time axis of a plot: its labelled x ticks give seconds <-> SVG x, its axes' background
 * rectangles the area the playhead spans. null for a plot with no time axis ("no data").
 */
export function timeAxisOf(svg) {
  const ticks = [];
  for (const g of svg.querySelectorAll('g[id*="xtick_"]')) {
    const mark = g.querySelector("use");
    const label = g.querySelector("text");
    if (!mark || !label) continue;
    const t = parseClockLabel(label.textContent);
    const x = Number(mark.getAttribute("x"));
    if (t !== null && Number.isFinite(x)) ticks.push([x, t]);
  }
  ticks.sort((a, b) => a[0] - b[0]);
  if (ticks.length < 2 || ticks[ticks.length - 1][1] <= ticks[0][1]) return null;
  const [[xa, ta], [xb, tb]] = [ticks[0], ticks[ticks.length - 1]];
  const perS = (xb - xa) / (tb - ta);
  const boxes = [...svg.querySelectorAll('g[id*="-axes_"]')]
    .map((g) => g.querySelector(':scope > g[id*="-patch_"] path'))
    .map((p) => (p ? pathBox(p.getAttribute("d")) : null)).filter(Boolean);
  if (!boxes.length) return null;
  return {
    x: (t) => xa + (t - ta) * perS,
    t: (x) => ta + (x - xa) / perS,
    left: Math.min(...boxes.map((b) => b[0])),
    right: Math.max(...boxes.map((b) => b[2])),
    top: Math.min(...boxes.map((b) => b[1])),
    bottom: Math.max(...boxes.map((b) => b[3])),
  };
}

const LABEL_MIN_PX = 11;

function smallestFont(svg) {
  const sizes = [...svg.querySelectorAll("text")]
    .map((t) => parseFloat(t.style.fontSize)).filter((v) => Number.isFinite(v) && v > 0);
  return sizes.length ? Math.min(...sizes) : 0;
}

/**
 * Keep a plot's smallest label at least LABEL_MIN_PX high on screen: the plot gets a least
 * width (its box then scrolls sideways on a narrow screen instead of shrinking the text).
 */
export function keepLabelsReadable(svg) {
  const box = svg.viewBox && svg.viewBox.baseVal;
  const font = smallestFont(svg);
  if (!box || !box.width || !font) return;
  let least = Math.ceil((box.width * LABEL_MIN_PX) / font);
  svg.style.minWidth = `${least}px`;
  const ctm = svg.getScreenCTM();
  if (ctm && ctm.a > 0 && ctm.a * font < LABEL_MIN_PX) { // the height, not the width, set the scale
    least = Math.ceil(least * (LABEL_MIN_PX / (ctm.a * font)) + 1);
    svg.style.minWidth = `${least}px`;
  }
}

/**
 * A playhead on one of the server's plots that follows `time_s` (call the returned
 * `update(t)`), and a click inside its axes that calls `onSeek(seconds)`. null when the plot
 * has no time axis.
 */
export function attachPlayhead(svg, onSeek) {
  const axis = timeAxisOf(svg);
  if (!axis) return null;
  const line = svgEl("line", {
    class: "playhead", y1: axis.top, y2: axis.bottom, x1: axis.left, x2: axis.left,
    stroke: "#D55E00", "stroke-width": 2, "pointer-events": "none", visibility: "hidden",
  });
  svg.append(line);
  svg.classList.add("seekable");
  svg.addEventListener("click", (ev) => {
    const ctm = svg.getScreenCTM();
    if (!ctm) return;
    const p = new DOMPoint(ev.clientX, ev.clientY).matrixTransform(ctm.inverse());
    if (p.x < axis.left || p.x > axis.right || p.y < axis.top || p.y > axis.bottom + 30) return;
    onSeek(Math.max(0, axis.t(p.x)));
  });
  return {
    axis,
    update(t) {
      const x = axis.x(t);
      const inside = Number.isFinite(x) && x >= axis.left - 0.5 && x <= axis.right + 0.5;
      line.setAttribute("visibility", inside ? "visible" : "hidden");
      if (!inside) return;
      line.setAttribute("x1", x); line.setAttribute("x2", x);
      // a plot wider than its box (a phone) scrolls to keep the playhead in view
      const box = svg.parentElement;
      const view = svg.viewBox.baseVal;
      if (!box || box.scrollWidth <= box.clientWidth + 1 || !view || !view.width) return;
      const px = ((x - view.x) * svg.clientWidth) / view.width;
      if (px < box.scrollLeft + 16 || px > box.scrollLeft + box.clientWidth - 16) {
        box.scrollLeft = Math.max(0, px - box.clientWidth / 2);
      }
    },
  };
}

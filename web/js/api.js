// Small helpers shared by every page: HTTP calls, formatting, error reporting.
// No framework, no build step: plain ES modules served from /static/js/.
// The JSON shapes the pages read are the server's schemas (posecoach/server/schemas.py,
// described in docs/http-api.md); every error answer is {"detail": "one sentence"}.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function readError(resp) {
  let detail = `${resp.status} ${resp.statusText}`;
  try {
    const body = await resp.json();
    if (body && typeof body.detail === "string") detail = body.detail;
  } catch (_) { /* not JSON: a proxy or the network answered */ }
  return new ApiError(detail, resp.status);
}

export async function getJSON(url) {
  const resp = await fetch(url, { headers: { Accept: "application/json" } });
  if (!resp.ok) throw await readError(resp);
  return resp.json();
}

/** `method` (POST, PATCH, DELETE) with a JSON body (none when `body` is undefined); the JSON answer, or {} for none. */
export async function sendJSON(method, url, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!resp.ok) throw await readError(resp);
  const text = await resp.text();
  return text ? JSON.parse(text) : {};
}

export function postJSON(url, body) {
  return sendJSON("POST", url, body);
}

/** Upload files as multipart field `files` with progress callbacks (fetch has no upload progress). */
export function uploadFiles(url, files, onProgress, fields = {}) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) if (v !== null && v !== undefined && v !== "") form.append(k, String(v));
    for (const f of files) form.append("files", f, f.name);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.responseType = "json";
    xhr.upload.onprogress = (ev) => {
      if (ev.lengthComputable && onProgress) onProgress(ev.loaded / ev.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        if (onProgress) onProgress(1);
        resolve(xhr.response || {});
      } else {
        const body = xhr.response;
        const msg = (body && typeof body.detail === "string" && body.detail) ||
          `upload failed: ${xhr.status} ${xhr.statusText}`;
        reject(new ApiError(msg, xhr.status));
      }
    };
    xhr.onerror = () => reject(new ApiError("upload failed: the server could not be reached", 0));
    xhr.send(form);
  });
}

export function wsURL(path) {
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${location.host}${path}`;
}

// ---------- error / status reporting (aria-live regions present on every page) ----------

export function showError(message) {
  const box = document.getElementById("errors");
  if (!box) { console.error(message); return; }
  const p = document.createElement("p");
  p.textContent = message;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "link-button";
  close.textContent = "Dismiss";
  close.setAttribute("aria-label", `Dismiss error: ${message}`);
  close.addEventListener("click", () => p.remove());
  p.append(" ", close);
  box.append(p);
  while (box.children.length > 4) box.firstElementChild.remove();
}

export function clearErrors() {
  const box = document.getElementById("errors");
  if (box) box.replaceChildren();
}

export function announce(message) {
  const box = document.getElementById("status-live");
  if (box) box.textContent = message;
}

// ---------- dates ----------

/** A Date from the server's ISO 8601 times (`created_at`, `date`), or null. */
export function parseDate(iso) {
  if (typeof iso !== "string") return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

// ---------- formatting ----------

export function isNum(x) {
  return typeof x === "number" && Number.isFinite(x);
}

export function fmtClock(seconds) {
  if (!isNum(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const ss = String(s % 60).padStart(2, "0");
  if (h > 0) return `${h}:${String(m % 60).padStart(2, "0")}:${ss}`;
  return `${m}:${ss}`;
}

export function fmtDuration(seconds) {
  if (!isNum(seconds)) return "–";
  if (seconds < 60) return `${seconds.toFixed(0)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return s ? `${m} min ${s} s` : `${m} min`;
}

export function fmtNum(x, digits = 1, unit = "") {
  if (!isNum(x)) return "–";
  return `${x.toFixed(digits)}${unit ? ` ${unit}` : ""}`;
}

export function fmtPct(x) {
  if (!isNum(x)) return "–";
  return `${Math.round(x * 100)} %`;
}

export function fmtDate(d) {
  if (!d) return "–";
  return d.toLocaleString(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
  });
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** `text` with a line-break chance after each "_", ".", "-" and "/" (a <wbr>), so a long file
 *  name wraps between its parts instead of inside a word or off the side of a phone. */
export function breakable(text) {
  const frag = document.createDocumentFragment();
  for (const part of String(text).split(/(?<=[_./-])/)) {
    if (frag.childNodes.length) frag.append(document.createElement("wbr"));
    frag.append(document.createTextNode(part));
  }
  return frag;
}

export const SESSION_FILES = [
  { name: "annotated.mp4", label: "Annotated clip (MP4)" },
  { name: "landmarks.csv", label: "Landmarks (CSV)" },
  { name: "metrics.csv", label: "Metrics per frame (CSV)" },
  { name: "summary.json", label: "Summary (JSON)" },
  { name: "report.html", label: "Report (HTML)" },
  { name: "clinician_report.html", label: "Clinician report: 3-metre backward walk test (HTML)" },
];

export function fileURL(id, name) {
  return `/api/sessions/${encodeURIComponent(id)}/files/${name}`;
}

/** The camera's stream, or null once the page says why it could not start. `note` is added to
 * the no-access message; `facingMode` picks the phone's front ("user") or back camera. */
export async function openCamera({ note = "", facingMode = null } = {}) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    showError(`This browser gives no camera access here. Camera access needs HTTPS or localhost${note}.`);
    return null;
  }
  const video = { width: { ideal: 1280 }, height: { ideal: 720 } };
  if (facingMode) video.facingMode = facingMode;
  try {
    return await navigator.mediaDevices.getUserMedia({ video, audio: false });
  } catch (err) {
    const why = err && err.name === "NotAllowedError" ? "camera permission was refused"
      : err && err.name === "NotFoundError" ? "no camera was found" : (err && err.message) || String(err);
    showError(`Cannot start the camera: ${why}.`);
    return null;
  }
}

/** The recording's WebSocket to `path`, kept as `session.ws`. `onOpen(ws)` sends the start message.
 * When the socket closes while `session` is still `current()`: a drop during the recording says so
 * (what was recorded is kept) and `onLost()` ends the page's recording; a close the page asked for
 * runs `session.onFinished`. */
export function openRecordingSocket(path, session, { current, onOpen, onMessage, onLost }) {
  const ws = new WebSocket(wsURL(path));
  ws.binaryType = "arraybuffer";
  session.ws = ws;
  ws.onopen = () => onOpen(ws);
  ws.onmessage = onMessage;
  ws.onerror = () => { /* onclose reports */ };
  ws.onclose = () => {
    if (session !== current()) return;
    if (session.running && !session.stopping) {
      showError("The connection to posecoach was lost. The recording so far is kept.");
      onLost();
    } else if (session.onFinished) session.onFinished();
  };
  return ws;
}

// The overlay on its own frame: a page keeps the frames it sends, numbered, and shows each
// result on the frame it was computed from, so the skeleton is locked to the body however late
// the result comes back. The server echoes the number in the result (`frame_no`).

/** The frames sent and not yet answered, by number; a few canvases reused in turn. */
export class FrameRing {
  constructor(size = 8) {
    this.size = size;
    this.slots = []; // [{no, canvas, capturedAt}]
    this.next = 0;   // the number the next frame gets
  }

  /** Copy `source` (a canvas or video, `w` x `h`) as the next frame; its number. `capturedAt`
   *  is when the camera took the picture (performance.now() clock). */
  keep(source, w, h, capturedAt) {
    const no = this.next;
    this.next += 1;
    let slot = this.slots.length < this.size ? null : this.slots.shift();
    if (!slot) slot = { canvas: document.createElement("canvas") };
    if (slot.canvas.width !== w || slot.canvas.height !== h) { slot.canvas.width = w; slot.canvas.height = h; }
    slot.canvas.getContext("2d").drawImage(source, 0, 0, w, h);
    slot.no = no;
    slot.capturedAt = capturedAt;
    this.slots.push(slot);
    return no;
  }

  /** The kept frame numbered `no`, or null when it is no longer kept. */
  find(no) {
    if (typeof no !== "number") return null;
    return this.slots.find((f) => f.no === no) || null;
  }
}

/** Paint a kept frame on the page's frame canvas (shown over the live video). */
export function showFrame(target, frame) {
  if (target.width !== frame.canvas.width || target.height !== frame.canvas.height) {
    target.width = frame.canvas.width;
    target.height = frame.canvas.height;
  }
  target.getContext("2d").drawImage(frame.canvas, 0, 0);
}

/** Send a frame under its number: the `frame_no` message, then the JPEG. */
export function sendNumbered(ws, no, blob) {
  ws.send(JSON.stringify({ type: "frame_no", frame_no: no }));
  ws.send(blob);
}

/** Follows the camera's pictures (requestVideoFrameCallback) so each frame grabbed knows
 *  when the camera took it; falls back to the time of the grab. */
export class CaptureClock {
  constructor(video) {
    this.video = video;
    this.lastCapture = null;
    this.source = "grab"; // what lastCapture is: captureTime, presentationTime, or the grab
    if (typeof video.requestVideoFrameCallback === "function") {
      const onFrame = (now, meta) => {
        // captureTime is on the performance.now() clock where the camera reports it.
        const captured = typeof meta.captureTime === "number" && meta.captureTime > 0;
        this.source = captured ? "captureTime" : "presentationTime";
        this.lastCapture = captured ? meta.captureTime : meta.presentationTime ?? now;
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
  }

  /** When the picture now in the video element was taken. */
  now() {
    return this.lastCapture ?? performance.now();
  }
}

/** Calls `done(msOnScreen)` when what was just drawn reaches the screen (the next painted
 *  frame), with the time since `capturedAt`. */
export function whenOnScreen(capturedAt, done) {
  requestAnimationFrame(() => requestAnimationFrame((t) => done(t - capturedAt)));
}

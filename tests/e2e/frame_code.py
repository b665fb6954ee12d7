"""Camera frames that carry their own number: a bar of black and white blocks across the top
of the picture, big enough to survive JPEG and scaling, read back in Python or in the page.

The bar is `BLOCKS` blocks across the frame's width and `BAR_FRACTION` of its height: a white
then a black guard block, `BITS` bits of the number (most significant first, white = 1), a
parity block (white when the count of ones is odd) and a black end block. A picture whose
guards or parity do not read right carries no number (None).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.e2e.webcam import read_frames, write_y4m

BITS = 12
BLOCKS = BITS + 4
BAR_FRACTION = 0.09

# The same reading in the page (a canvas's pixels), for the tests' overlay hooks.
READ_CANVAS_JS = """
(canvas, blocks, bits, barFraction) => {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  const bw = w / blocks, bh = h * barFraction;
  const on = [];
  for (let b = 0; b < blocks; b++) {
    const x = Math.round(b * bw + bw / 4), y = Math.round(bh / 4);
    const pw = Math.max(1, Math.round(bw / 2)), ph = Math.max(1, Math.round(bh / 2));
    const d = ctx.getImageData(x, y, pw, ph).data;
    let sum = 0;
    for (let i = 0; i < d.length; i += 4) sum += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
    on.push(sum / (d.length / 4) > 128);
  }
  if (!on[0] || on[1] || on[blocks - 1]) return null;
  let n = 0, ones = 0;
  for (let i = 0; i < bits; i++) { n = n * 2 + (on[2 + i] ? 1 : 0); ones += on[2 + i] ? 1 : 0; }
  return on[2 + bits] === (ones % 2 === 1) ? n : null;
}
"""


def _pattern(number: int) -> list[bool]:
    bits = [bool((number >> (BITS - 1 - i)) & 1) for i in range(BITS)]
    return [True, False, *bits, sum(bits) % 2 == 1, False]


def stamp(rgb: np.ndarray, number: int) -> np.ndarray:
    """`rgb` with `number` (0 to 2**BITS - 1) drawn as the bar across its top."""
    if not 0 <= number < 2**BITS:
        raise ValueError(f"{number} does not fit in {BITS} bits")
    out = rgb.copy()
    height, width = out.shape[:2]
    bar_h = round(height * BAR_FRACTION)
    for b, white in enumerate(_pattern(number)):
        x0, x1 = round(b * width / BLOCKS), round((b + 1) * width / BLOCKS)
        out[:bar_h, x0:x1] = 255 if white else 0
    return out


def read(rgb: np.ndarray) -> int | None:
    """The number in a picture's bar, or None when it carries none."""
    height, width = rgb.shape[:2]
    grey = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    bw, bh = width / BLOCKS, height * BAR_FRACTION
    on = []
    for b in range(BLOCKS):
        x, y = round(b * bw + bw / 4), round(bh / 4)
        patch = grey[y:y + max(1, round(bh / 2)), x:x + max(1, round(bw / 2))]
        on.append(bool(patch.mean() > 128))
    bits = on[2:2 + BITS]
    if not on[0] or on[1] or on[-1] or on[2 + BITS] != (sum(bits) % 2 == 1):
        return None
    return int("".join("1" if v else "0" for v in bits), 2)


def numbered_walk_y4m(src: Path, dest: Path, width: int = 640, height: int = 360) -> Path:
    """The side-view walk reversed in time (walking backwards), ~30 fps, each frame carrying
    its own number (its place in the clip)."""
    frames, rate = read_frames(src, width, height)
    every = 2 if rate > 45 else 1
    walk = frames[::every][::-1]
    if len(walk) > 2**BITS:
        raise ValueError(f"{len(walk)} frames do not fit in {BITS}-bit numbers")
    return write_y4m(dest, [stamp(f, i) for i, f in enumerate(walk)], rate / every)

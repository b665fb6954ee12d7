"""Glass-to-glass on the live page: from the camera taking a frame to its overlay on screen.

Run alone as `python -m benchmarks.glass_to_glass [--seconds 30] [--out out/bench]`; `make bench`
adds its line to the benchmark's table.

The real server runs in a subprocess on 127.0.0.1; Debian's Chromium (driven by Playwright)
opens the live page with a fake camera playing the side-view walk at 30 frames/s, and one
client sends frames at up to 30 frames/s as a phone does. The page shows each result on the
frame it was computed from; for every overlay drawn it records the time from the camera's
capture of that frame (`requestVideoFrameCallback`'s `captureTime`, where the camera gives it)
to the start of the browser frame after the one that first shows it (about when it is on the
glass). The first seconds (the model warming up) are left out.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tests.e2e.webcam import backward_walk_y4m
from tools.loadtest import ServerProcess
from tools.shared_data import shared_data_dir

SIDE_CLIP = shared_data_dir() / "video" / "side_walk_1080p60.mp4"
WARM_UP_S = 3.0
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
]


@dataclass
class GlassToGlass:
    """What the walker sees: how late each overlay reaches the screen after its frame."""

    overlays: int              # overlays drawn and timed after the warm-up
    seconds: float             # the time they were drawn over
    p50_ms: float
    p95_ms: float
    round_trip_ms: float       # the page's smoothed round trip, frame sent to result
    results_per_s: float
    capture_clock: str         # captureTime (the camera's), presentationTime, or the grab

    def line(self) -> str:
        """The benchmark table's line."""
        return (f"glass-to-glass (Chromium, fake camera at 30 fps, 1 client, 127.0.0.1): "
                f"p50 {self.p50_ms:.0f} ms, p95 {self.p95_ms:.0f} ms over {self.overlays} "
                f"overlays, {self.results_per_s:.1f} results/s, round trip "
                f"{self.round_trip_ms:.0f} ms (capture from {self.capture_clock})")


def measure(clip: Path, work: Path, seconds: float) -> GlassToGlass:
    """One live session of `seconds` (after the warm-up) through Chromium; the figures."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        raise FileNotFoundError("Debian's chromium is not installed (make browsers)")
    camera = backward_walk_y4m(clip, work / "camera.y4m")
    server = ServerProcess(work / "data").start()
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(work / "profile"), executable_path=chromium, headless=True,
                args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={camera}"],
                viewport={"width": 1280, "height": 800},
            )
            try:
                page = context.new_page()
                page.goto(f"{server.base}/")
                page.click("#start")
                page.wait_for_function("window.__posecoach.framesLocked > 0", timeout=120_000)
                page.wait_for_timeout(WARM_UP_S * 1000)
                before = page.evaluate("[window.__posecoach.glassMs.length, performance.now()]")
                page.wait_for_timeout(seconds * 1000)
                glass, results, now, rtt, clock = page.evaluate(
                    "[window.__posecoach.glassMs.slice(), window.__posecoach.results,"
                    " performance.now(), window.__posecoach.latencyMs,"
                    " window.__posecoach.captureClock]")
                page.click("#stop")
                page.wait_for_function("window.__posecoach.finished === true", timeout=120_000)
            finally:
                context.close()
    finally:
        server.stop()
    span_s = (now - before[1]) / 1000.0
    kept = glass[before[0]:]  # the overlays drawn after the warm-up
    if not results or not kept:
        raise RuntimeError("no overlay was drawn: the live session did not run")
    p50, p95 = np.percentile(kept, [50, 95])
    return GlassToGlass(
        overlays=len(kept), seconds=round(span_s, 1), p50_ms=round(float(p50), 1),
        p95_ms=round(float(p95), 1),
        round_trip_ms=float(rtt) if rtt is not None else float("nan"),
        results_per_s=round(len(kept) / span_s, 1), capture_clock=str(clock),
    )


def bench_line(clip: Path, out: Path, quick: bool, log: Callable[[str], None]) -> str:
    """Measure glass-to-glass for the benchmark (`make bench`), write `glass_to_glass.json`
    into `out`, and return the table's line (or why it was not measured)."""
    log("glass-to-glass: Chromium with a fake camera on the live page")
    try:
        with tempfile.TemporaryDirectory(prefix="posecoach-g2g-") as tmp:
            result = measure(clip, Path(tmp), 10.0 if quick else 30.0)
    except (ImportError, FileNotFoundError, RuntimeError) as exc:
        return f"glass-to-glass: not measured ({exc})"
    (Path(out) / "glass_to_glass.json").write_text(json.dumps(asdict(result), indent=2))
    log(result.line())
    return result.line()


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m benchmarks.glass_to_glass`: measure once and print the line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--out", type=Path, default=Path("out/bench"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="posecoach-g2g-") as tmp:
        result = measure(SIDE_CLIP, Path(tmp), args.seconds)
    (args.out / "glass_to_glass.json").write_text(json.dumps(asdict(result), indent=2))
    print(result.line())
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The README's screenshots of the people, timed-test and progress pages, from the real server.

    python -m tools.screenshots [--out docs/images] [--quality 80]

A server is started on a free loopback port with a temporary data folder. Three people are
seeded through `posecoach.server.storage.Storage` with sessions analysed from the motion capture
in ../shared/data/mocap (projected to a side camera): Ada's backward walks carry timed 3-metre
backward walk tests, one faster than the one before by more than the minimal detectable change
after a stroke. Headless Debian Chromium (see tools/browsers.py) then opens the pages at 1280 px
wide; its fake webcam plays the real side-view walk reversed in time, after a second and a half
of the walker standing still, for a live timed test with floor marks clicked on the frozen
frame. Writes people.jpg, timed_test.jpg and progress_timed.jpg (JPEG, under 250 kB each).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools.browsers import ensure_chromium, ensure_playwright
from tools.loadtest import ServerProcess
from tools.shared_data import REPO_ROOT, shared_data_dir

WIDTH_PX = 1280
HEIGHT_PX = 800
MAX_BYTES = 250_000
MIN_QUALITY = 50
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
)
SIDE_CLIP = "video/side_walk_1080p60.mp4"
WEBCAM_W_PX, WEBCAM_H_PX = 640, 360
HOLD_S = 1.5
# Frame pixels of the fake webcam: the start line through the standing walker's heels, the far
# line 340 px further along the walk, each from above the feet to the bottom edge.
FLOOR_MARKS_PX = ((108.0, 300.0), (108.0, 356.0), (448.0, 300.0), (448.0, 356.0))
TRIAL_TIMEOUT_MS = 300_000
TEST_ATTEMPTS = 3


@dataclass(frozen=True)
class Clip:
    """One mocap trial to seed as a session: `timed` runs the 3-metre backward walk test."""

    bvh: str
    timed: bool


@dataclass(frozen=True)
class PersonSeed:
    name: str
    height_cm: float
    level: str
    population: str | None
    notes: str
    clips: tuple[Clip, ...]


PEOPLE = (
    # Oldest test first: 6.0 s, 6.9 s, then 2.8 s (a real change after a stroke), one walk too
    # short to time, then 2.8 s again.
    PersonSeed("Ada", 152.0, "beginner", "stroke", "Left hemiparesis; walks with a stick outdoors.",
               tuple(Clip(f"dataset-1_walk-back_{t}_001.bvh", True)
                     for t in ("old", "sad", "active", "normal", "masculinity"))),
    PersonSeed("Ben", 146.0, "intermediate", None, "Knee rehabilitation, week 6.",
               (Clip("dataset-1_walk_normal_001.bvh", False),
                Clip("dataset-1_walk_old_001.bvh", False),
                Clip("dataset-1_walk-back_chimpira_001.bvh", True))),
    PersonSeed("Cleo", 168.0, "beginner", "parkinsons", "", ()),
)


def _summary(mocap: Path, clip: Clip, seed: PersonSeed) -> Any:
    """A SessionSummary of one mocap trial seen from the side and analysed offline."""
    from posecoach.outputs.results import analyze_series
    from posecoach.settings import load_settings
    from tests.mocap.projection import load_trial, project_trial
    from tests.mocap.timed_walk import held_trial, project_held

    overrides: dict[str, Any] = {}
    if clip.timed:
        overrides["timed_test"] = {"run": True, "population": seed.population or "community"}
        series, _ = project_held(held_trial(str(mocap / clip.bvh)), noise_px=1.0, seed=3)
    else:
        series, _ = project_trial(load_trial(mocap / clip.bvh), side="left", noise_px=1.0, seed=3)
    settings = load_settings(height_cm=seed.height_cm, overrides=overrides)
    return analyze_series(series, settings, source=clip.bvh).summary


def seed_library(data_dir: Path, mocap: Path) -> dict[str, str]:
    """The people and their analysed sessions in a new library; returns name -> person id."""
    from posecoach.server.storage import Storage

    storage = Storage(data_dir / "posecoach.db", data_dir)
    ids: dict[str, str] = {}
    session_ids: list[str] = []
    for seed in PEOPLE:
        person = storage.create_person(seed.name, height_cm=seed.height_cm, level=seed.level,
                                       notes=seed.notes, population=seed.population)
        ids[seed.name] = person.id
        for clip in seed.clips:
            summary = _summary(mocap, clip, seed)
            record = storage.create_session("upload", seed.level, seed.height_cm, clip.bvh,
                                            "analysing", person_id=person.id)
            storage.update_session(record.id, status="done", summary=summary,
                                   duration_s=summary.duration_s)
            session_ids.append(record.id)
    _spread_dates(data_dir / "posecoach.db", session_ids)
    return ids


def _spread_dates(db_path: Path, session_ids: list[str], apart_days: float = 9.0) -> None:
    """Date the seeded sessions `apart_days` apart, ending today, as a real history would be."""
    import sqlite3
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(microsecond=0)
    with sqlite3.connect(db_path) as db:
        for back, session_id in enumerate(reversed(session_ids)):
            when = now - timedelta(days=apart_days * back)
            db.execute("UPDATE sessions SET created_at = ? WHERE id = ?",
                       (when.isoformat(), session_id))


def held_backward_walk_y4m(src: Path, dest: Path) -> Path:
    """`src` reversed in time at about 30 fps, its first frame held still for `HOLD_S`."""
    from tests.e2e.webcam import read_frames, write_y4m

    frames, rate = read_frames(src, WEBCAM_W_PX, WEBCAM_H_PX)
    every = 2 if rate > 45 else 1
    walk = frames[::every][::-1]
    fps = rate / every
    return write_y4m(dest, [walk[0]] * int(round(HOLD_S * fps)) + walk, fps)


def save_jpeg(page: Any, path: Path, quality: int, **options: Any) -> tuple[int, int]:
    """A JPEG screenshot at `quality`, lowered in steps of 5 until it is under MAX_BYTES;
    returns (quality used, bytes)."""
    q = quality
    while True:
        data: bytes = page.screenshot(type="jpeg", quality=q, **options)
        if len(data) < MAX_BYTES or q <= MIN_QUALITY:
            break
        q -= 5
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return q, len(data)


def _clip_around(page: Any, top_selector: str, bottom_selector: str,
                 margin_px: float = 16.0) -> dict[str, float]:
    """A full-width page region from `top_selector`'s top to `bottom_selector`'s bottom."""
    top = page.evaluate("(s) => document.querySelector(s).getBoundingClientRect().top "
                        "+ window.scrollY", top_selector)
    bottom = page.evaluate("(s) => document.querySelector(s).getBoundingClientRect().bottom "
                           "+ window.scrollY", bottom_selector)
    y = max(0.0, top - margin_px)
    return {"x": 0, "y": y, "width": WIDTH_PX, "height": bottom + margin_px - y}


def shoot_people(context: Any, base: str, out: Path, quality: int) -> tuple[int, int]:
    page = context.new_page()
    page.goto(base + "/people")
    page.wait_for_selector("#people-body tr[data-person]")
    page.mouse.move(0, 0)
    result = save_jpeg(page, out / "people.jpg", quality, full_page=True)
    page.close()
    return result


def shoot_progress(context: Any, base: str, ada_id: str, out: Path,
                   quality: int) -> tuple[int, int]:
    page = context.new_page()
    page.goto(base + "/progress")
    page.wait_for_selector("#person:visible")
    page.select_option("#person", ada_id)
    page.wait_for_function("(id) => document.body.dataset.shownPerson === id", arg=ada_id)
    page.wait_for_selector("#timed-chart svg text.mark-label")
    page.mouse.move(0, 0)
    clip = _clip_around(page, "#timed-heading", "#timed-table")
    result = save_jpeg(page, out / "progress_timed.jpg", quality, full_page=True, clip=clip)
    page.close()
    return result


def _click_frame_px(page: Any, selector: str, x_px: float, y_px: float) -> None:
    box = page.locator(selector).bounding_box()
    size = page.evaluate("(s) => { const c = document.querySelector(s); "
                         "return [c.width, c.height]; }", selector)
    page.mouse.click(box["x"] + x_px * box["width"] / size[0],
                     box["y"] + y_px * box["height"] / size[1])


def _run_test(page: Any) -> bool:
    """One live test from "Start the test" to its result; True when it was timed."""
    page.click("#start")
    page.wait_for_function("() => window.__timedtest.sessionId !== null", timeout=60_000)
    page.wait_for_function(
        "() => (window.__timedtest.trials?.trials || []).some(t => t.timed)",
        timeout=TRIAL_TIMEOUT_MS)
    if page.is_visible("#finish") and page.is_enabled("#finish"):
        page.click("#finish")
    page.wait_for_function("() => window.__timedtest.finished !== null", timeout=120_000)
    page.wait_for_selector("#result:not([hidden])")
    final = page.evaluate("() => window.__timedtest.finished.timed_test") or {}
    if not final.get("timed"):
        print(f"tools.screenshots: {final.get('reason') or 'the test was not timed'}",
              file=sys.stderr)
    return bool(final.get("timed"))


def shoot_timed_test(context: Any, base: str, person_id: str, out: Path,
                     quality: int) -> tuple[int, int]:
    page = context.new_page()
    page.goto(base + "/timed-test")
    page.wait_for_function(
        "(id) => [...document.querySelectorAll('#person option')].some(o => o.value === id)",
        arg=person_id)
    page.select_option("#person", person_id)
    page.click("#camera-on")
    page.wait_for_function("() => !document.querySelector('#mark').disabled", timeout=60_000)
    page.click("#mark")
    page.wait_for_function(f"() => document.querySelector('#mark-canvas').width === {WEBCAM_W_PX}")
    for x, y in FLOOR_MARKS_PX:
        _click_frame_px(page, "#mark-canvas", x, y)
    page.click("#mark-done")
    for attempt in range(1, TEST_ATTEMPTS + 1):
        if _run_test(page):
            break
        print(f"tools.screenshots: timed test {attempt} of {TEST_ATTEMPTS} was not timed",
              file=sys.stderr)
    else:
        raise RuntimeError(f"no timed test in {TEST_ATTEMPTS} attempts")
    page.mouse.move(0, 0)
    clip = _clip_around(page, "h1", "#result")
    result = save_jpeg(page, out / "timed_test.jpg", quality, full_page=True, clip=clip)
    page.close()
    return result


@contextlib.contextmanager
def chromium(profile: Path, webcam: Path) -> Iterator[Any]:
    """Headless Debian Chromium at WIDTH_PX x HEIGHT_PX with `webcam` as its camera."""
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=executable, headless=True,
            args=[*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={webcam}"],
            viewport={"width": WIDTH_PX, "height": HEIGHT_PX}, device_scale_factor=1,
            accept_downloads=False,
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "images",
                        help="folder for the JPEG files (default: docs/images)")
    parser.add_argument("--quality", type=int, default=80, help="JPEG quality, 1-100")
    args = parser.parse_args(argv)
    data = shared_data_dir()
    if not data.is_dir():
        print(f"tools.screenshots: the shared data folder {data} is missing", file=sys.stderr)
        return 2
    ensure_playwright()
    models = REPO_ROOT / "models"
    if "POSECOACH_MODELS_DIR" not in os.environ and models.is_dir():
        os.environ["POSECOACH_MODELS_DIR"] = str(models)
    with tempfile.TemporaryDirectory(prefix="posecoach-screenshots-") as tmp:
        work = Path(tmp)
        print("seeding the library from the motion capture ...", file=sys.stderr)
        ids = seed_library(work / "data", data / "mocap")
        webcam = held_backward_walk_y4m(data / SIDE_CLIP, work / "held.y4m")
        server = ServerProcess(work / "data").start(timeout_s=120)
        try:
            with chromium(work / "profile", webcam) as context:
                shots = {
                    "people.jpg": shoot_people(context, server.base, args.out, args.quality),
                    "progress_timed.jpg": shoot_progress(context, server.base, ids["Ada"],
                                                         args.out, args.quality),
                    "timed_test.jpg": shoot_timed_test(context, server.base, ids["Cleo"],
                                                       args.out, args.quality),
                }
        finally:
            server.stop()
    for name, (quality, size) in shots.items():
        print(f"{args.out / name}: {size / 1000:.0f} kB at quality {quality}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

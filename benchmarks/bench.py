"""The benchmark behind `make bench`: throughput, live latency, memory and batch speed-up.

Run from the checkout as `python -m benchmarks.bench [--repeats 3] [--quick] [--out out/bench]`.

Everything runs on the real clips in `../shared/data/video` and is printed as one table:

- throughput per clip, measured side by side in one run: the pose model alone on frames decoded
  in advance (the floor), `analyze_video` end to end with every output written, and a plain
  single-threaded loop (OpenCV decode, pose, skeleton drawn with OpenCV, `cv2.VideoWriter`
  mp4v), each repeated and reported as the median;
- the live WebSocket: the real app under uvicorn in a subprocess, fed 640x360 JPEGs of a real
  clip at 30 and 60 frames/s by a paced sender; server-side latency per frame (arrival to the
  result being sent) as p50/p95/p99, frames processed and dropped, and the server's peak memory;
- three live clients at once on one server (`POSECOACH_MAX_LIVE_SESSIONS=3`), each sending at
  30 frames/s: the results per second each one gets back;
- peak memory of `posecoach analyze` (a subprocess) on the 139 s clip against a 10 s cut of it;
- a memory soak: 20 live sessions in a row on one server (quick: 6), its RSS after each, and
  the highest RSS after a later session over the RSS after the second (flat: at most 1.10x);
- a folder of clips analysed with `--jobs 1` against `--jobs 2`;
- the speed targets (`TARGETS`), each with what was measured and whether it is met.

Throughput on the 1080p60 side clip, the live session at 30 frames/s and the three clients run
once for each installed pose backend (LiteRT, OpenVINO), side by side in one run; the targets
are judged on the backend `auto` picks on this machine. The table's title names the CPU and
whether it has AMX (OpenVINO's bf16 is fast only there).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks import glass_to_glass
from tools.net import free_port, stop_process
from tools.shared_data import shared_data_dir

T = TypeVar("T")

DATA_DIR = shared_data_dir() / "video"
FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"
LONG_CLIP = "back_view_people_139s.mp4"
SIDE_CLIP = "side_walk_1080p60.mp4"
SHORT_CLIPS = (SIDE_CLIP, "front_two_walkers.gif")
LIVE_SIZE = (640, 360)
LIVE_JPEG_QUALITY = 80
MULTI_CLIENTS = 3
MULTI_FPS = 30.0


@dataclass(frozen=True)
class Target:
    """One speed target: `measured` must be at most (or at least) `limit`."""

    name: str
    limit: float
    unit: str
    at_most: bool

    @property
    def goal(self) -> str:
        return f"{'<=' if self.at_most else '>='} {self.limit:g}{self.unit}"

    def met(self, measured: float) -> bool | None:
        """Whether `measured` meets the target; None when it was not measured."""
        if not math.isfinite(measured):
            return None
        return measured <= self.limit if self.at_most else measured >= self.limit


BACKENDS = ("litert", "openvino")
TARGETS = {
    "model": Target("pose model alone, 2 threads, 640 px, tracking: median per frame",
                    8.0, " ms", at_most=True),
    "analyze": Target(f"analyze {SIDE_CLIP} against the plain loop", 2.0, "x", at_most=False),
    "live": Target("live, one client at 30 frames/s: server latency p95", 15.0, " ms",
                   at_most=True),
    "multi": Target(f"live, {MULTI_CLIENTS} clients at once at 30 frames/s: results/s of the "
                    "slowest", 28.0, "/s", at_most=False),
}


# ---------------------------------------------------------------------------------------------
# Small helpers


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation; NaN for no values."""
    data = sorted(float(v) for v in values if math.isfinite(v))
    if not data:
        return math.nan
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * min(max(q, 0.0), 100.0) / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def median(values: Sequence[float]) -> float:
    """Median of the finite values; NaN for none."""
    data = [float(v) for v in values if math.isfinite(v)]
    return statistics.median(data) if data else math.nan


def ratio(a: float, b: float) -> float:
    """a / b, NaN when either is missing or b is zero."""
    if not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return math.nan
    return a / b


def fmt(value: float, digits: int = 1, unit: str = "") -> str:
    """A number for the table, or "n/a"."""
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}f}{unit}"


def fmt_ratio(value: float) -> str:
    return fmt(value, 2, "x")


def mib(kib: float) -> float:
    return kib / 1024.0


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return math.nan


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Throughput:
    """One clip's frames/s; lists hold every repeat, the properties their medians."""

    clip: str
    width: int = 0
    height: int = 0
    frames: int = 0
    backend: str = ""  # the pose backend of the model-only and analyze runs ("": the default)
    model_size: tuple[int, int] = (0, 0)
    model_fps: list[float] = field(default_factory=list)
    analyze_fps: list[float] = field(default_factory=list)
    analyze_loop_fps: list[float] = field(default_factory=list)
    plain_fps: list[float] = field(default_factory=list)
    # CPU time (every thread) per frame: what a frame costs the cores, whatever else runs
    analyze_cpu_ms: list[float] = field(default_factory=list)
    plain_cpu_ms: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def model(self) -> float:
        return median(self.model_fps)

    @property
    def analyze(self) -> float:
        return median(self.analyze_fps)

    @property
    def analyze_loop(self) -> float:
        return median(self.analyze_loop_fps)

    @property
    def plain(self) -> float:
        return median(self.plain_fps)


@dataclass
class ModelInput:
    """The model on full-size frames against the downscaled frames `analyze` feeds it."""

    clip: str
    full_side: int
    used_side: int
    full_fps: float
    used_fps: float
    trunk_delta_deg: float
    head_delta_deg: float


@dataclass
class Live:
    """One paced live session over the WebSocket."""

    fps: float
    duration_s: float
    backend: str = ""
    sent: int = 0
    processed: int = 0
    dropped: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    rss_start_kib: float = math.nan
    rss_mid_kib: float = math.nan
    rss_end_kib: float = math.nan
    rss_peak_kib: float = math.nan
    server_cpu_s: float = math.nan  # CPU the server used while the frames were sent
    error: str | None = None
    walker_seen: list[tuple[float, bool]] = field(default_factory=list)  # (t, walker) per result

    def p(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def walker_share(self) -> float:
        """The share of results that have the walker (the clip has one walker in every frame)."""
        if not self.walker_seen:
            return math.nan
        return sum(seen for _, seen in self.walker_seen) / len(self.walker_seen)

    @property
    def longest_gap_s(self) -> float:
        """The longest run of results without the walker: from its first result to the next
        result with him, in seconds of frame time."""
        longest, gap_start = 0.0, None
        for t, seen in self.walker_seen:
            if not seen and gap_start is None:
                gap_start = t
            elif seen and gap_start is not None:
                longest, gap_start = max(longest, t - gap_start), None
        if gap_start is not None:
            longest = max(longest, self.walker_seen[-1][0] - gap_start)
        return longest


@dataclass
class Multi:
    """Several live clients at once on one server, each paced at `fps`."""

    clients: int
    fps: float
    duration_s: float
    backend: str = ""
    sessions: list[Live] = field(default_factory=list)
    server_cpu_s: float = math.nan  # CPU the server used while the clients sent frames
    client_cpu_s: float = math.nan  # CPU the clients (this process) used meanwhile
    window_s: float = math.nan  # from the first session started to the last frame sent
    error: str | None = None

    @property
    def cpu_ms_per_result(self) -> float:
        """The server's CPU time per result while frames arrive: what the cores must supply
        for each frame."""
        results = sum(s.processed for s in self.sessions if not s.error)
        return 1000.0 * self.server_cpu_s / results if results else math.nan

    def cores_used(self, cpu_s: float) -> float:
        """CPU seconds over the sending window: how many cores' worth were used."""
        return cpu_s / self.window_s if self.window_s > 0 else math.nan

    @property
    def results_per_s(self) -> list[float]:
        """Results each client got back per second of sending."""
        return [s.processed / s.duration_s if s.duration_s > 0 and not s.error else math.nan
                for s in self.sessions]

    @property
    def slowest(self) -> float:
        """Results per second of the client that got the fewest; NaN when any failed."""
        rates = self.results_per_s
        if self.error or not rates or not all(math.isfinite(r) for r in rates):
            return math.nan
        return min(rates)


@dataclass
class Memory:
    """Peak resident memory of one `posecoach analyze` run."""

    label: str
    duration_s: float
    peak_kib: float
    seconds: float
    error: str | None = None


@dataclass
class Soak:
    """Live sessions one after another on one server: its resident memory after each."""

    sessions: int
    seconds_each: float
    fps: float
    rss_start_kib: float = math.nan
    rss_after_kib: list[float] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    error: str | None = None

    @property
    def flat_ratio(self) -> float:
        """The highest RSS after any later session over the RSS after the second one."""
        if len(self.rss_after_kib) < 2:
            return math.nan
        return ratio(max(self.rss_after_kib[1:]), self.rss_after_kib[1])


@dataclass
class Batch:
    """One `posecoach analyze FOLDER --jobs N` run."""

    jobs: int
    files: int
    seconds: float
    failed: int = 0
    error: str | None = None


@dataclass
class BenchReport:
    """Everything one benchmark run measured."""

    quick: bool
    repeats: int
    cpu: str = ""  # the CPU's model name and whether it has AMX
    chosen: str = "litert"  # the backend `auto` picks here: the targets are judged on it
    throughput: list[Throughput] = field(default_factory=list)
    model_input: ModelInput | None = None
    live: list[Live] = field(default_factory=list)
    multi: Multi | None = None  # the chosen backend's
    other_multi: list[Multi] = field(default_factory=list)  # every other backend's
    live_model_ms: list[float] = field(default_factory=list)
    # "backend, N threads" -> ms per frame of the model alone, one person followed, 640 px
    backend_ms: dict[str, list[float]] = field(default_factory=dict)
    memory: list[Memory] = field(default_factory=list)
    soak: Soak | None = None
    batch: list[Batch] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for row, t in zip(data["throughput"], self.throughput, strict=True):
            row.update(model=t.model, analyze=t.analyze, plain=t.plain,
                       analyze_loop=t.analyze_loop)
        for row, live in zip(data["live"], self.live, strict=True):
            row.update(p50=live.p(50), p95=live.p(95), p99=live.p(99),
                       walker_share=live.walker_share, longest_gap_s=live.longest_gap_s)
            del row["latencies_ms"], row["walker_seen"]
        data["live_model_ms"] = {
            "p50": percentile(self.live_model_ms, 50), "p95": percentile(self.live_model_ms, 95),
            "frames": len(self.live_model_ms),
        }
        data["backend_ms"] = {
            name: {"p50": percentile(ms, 50), "p95": percentile(ms, 95), "frames": len(ms)}
            for name, ms in self.backend_ms.items()
        }
        if self.soak is not None:
            data["soak"]["flat_ratio"] = self.soak.flat_ratio
        for key, multis in (("multi", [self.multi]), ("other_multi", self.other_multi)):
            rows = data[key] if isinstance(data[key], list) else [data[key]]
            for row, multi in zip(rows, multis, strict=True):
                if multi is None:
                    continue
                row["results_per_s"] = multi.results_per_s
                for session, live in zip(row["sessions"], multi.sessions, strict=True):
                    session.update(p50=live.p(50), p95=live.p(95))
                    del session["latencies_ms"], session["walker_seen"]
        data["targets"] = [
            {"target": t.name, "goal": t.goal, "measured": value, "met": t.met(value)}
            for t, value in target_values(self)
        ]
        return data

    def throughput_of(self, clip: str, backend: str = "") -> Throughput | None:
        """The clip's row of `backend`, or of the default backend ("")."""
        return next((t for t in self.throughput if t.clip == clip and not t.error
                     and t.backend in (backend, "")), None)


def target_values(report: BenchReport) -> list[tuple[Target, float]]:
    """Each target with the figure of `report` it is judged on (NaN when not measured): the
    figures of the backend `auto` chose."""
    model_ms = report.backend_ms.get(f"{report.chosen}, 2 threads", [])
    side = report.throughput_of(SIDE_CLIP, report.chosen)
    live30 = next((v for v in report.live if v.fps == 30.0 and not v.error
                   and v.backend in (report.chosen, "")), None)
    return [
        (TARGETS["model"], percentile(model_ms, 50)),
        (TARGETS["analyze"], ratio(side.analyze, side.plain) if side else math.nan),
        (TARGETS["live"], live30.p(95) if live30 else math.nan),
        (TARGETS["multi"], report.multi.slowest if report.multi else math.nan),
    ]


# ---------------------------------------------------------------------------------------------
# The table


def build_table(report: BenchReport) -> Table:
    """One rich table with every measurement of `report`."""
    mode = "quick" if report.quick else "full"
    loads = [v for v in report.load if math.isfinite(v)]
    load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "n/a"
    if loads:
        load += f" (start {loads[0]:.1f}, end {loads[-1]:.1f})"
    cpu = f"{report.cpu}, " if report.cpu else ""
    from posecoach.pose.backend import cpu_count as usable_cores  # its CPU affinity

    table = Table(
        title=f"posecoach bench ({mode}: median of {report.repeats} run(s); "
        f"{cpu}{usable_cores()} of {os.cpu_count()} CPUs usable, 1-minute load average "
        f"{load}; targets judged on {report.chosen})",
        show_lines=False,
    )
    table.add_column("benchmark")
    table.add_column("subject")
    table.add_column("result", justify="right")
    table.add_column("ratio / note")

    for t in report.throughput:
        subject = f"{t.clip} {t.width}x{t.height}, {t.frames} frames" + (
            f", {t.backend}" if t.backend else "")
        if t.error:
            table.add_row("throughput", subject, "failed", t.error)
            continue
        mw, mh = t.model_size
        table.add_row("throughput", subject, f"model only {fmt(t.model)} fps",
                      f"floor: frames decoded in advance, model input {mw}x{mh}")
        table.add_row("", "", f"analyze {fmt(t.analyze)} fps",
                      f"{fmt_ratio(ratio(t.analyze, t.model))} model only, "
                      f"{fmt_ratio(ratio(t.analyze, t.plain))} plain loop "
                      f"(frame loop alone {fmt(t.analyze_loop)} fps); "
                      f"CPU {fmt(median(t.analyze_cpu_ms))} ms per frame")
        table.add_row("", "", f"plain loop {fmt(t.plain)} fps",
                      "OpenCV decode, pose (LiteRT, one thread), cv2 skeleton, mp4v writer; "
                      f"CPU {fmt(median(t.plain_cpu_ms))} ms per frame")
        table.add_section()

    m = report.model_input
    if m is not None:
        table.add_row(
            "model input size", m.clip,
            f"{m.full_side} px {fmt(m.full_fps)} fps / {m.used_side} px {fmt(m.used_fps)} fps",
            f"{fmt_ratio(ratio(m.used_fps, m.full_fps))}; trunk median moves "
            f"{fmt(m.trunk_delta_deg, 2)} deg, head median {fmt(m.head_delta_deg, 2)} deg",
        )
        table.add_section()

    for live in report.live:
        subject = (f"WebSocket, {LIVE_SIZE[0]}x{LIVE_SIZE[1]} JPEG at {live.fps:.0f} frames/s "
                   f"for {live.duration_s:.0f} s" + (f", {live.backend}" if live.backend else ""))
        if live.error:
            table.add_row("live", subject, "failed", live.error)
            continue
        cpu_ms = (1000.0 * live.server_cpu_s / live.processed if live.processed
                  else math.nan)
        table.add_row(
            "live", subject,
            f"p50 {fmt(live.p(50))} / p95 {fmt(live.p(95))} / p99 {fmt(live.p(99))} ms",
            f"{live.sent} sent, {live.processed} processed, {live.dropped} dropped "
            f"(server-side, arrival to result sent); server CPU {fmt(cpu_ms)} ms per result",
        )
        table.add_row(
            "live", f"the walker followed, clip looped, at {live.fps:.0f} frames/s",
            f"{fmt(100 * live.walker_share)}% of results",
            f"longest run without the walker {fmt(live.longest_gap_s, 2)} s (one person in "
            f"view throughout)",
        )
    if report.live_model_ms:
        table.add_row(
            "live", "the pose model alone on the same frames, one person",
            f"p50 {fmt(percentile(report.live_model_ms, 50))} / "
            f"p95 {fmt(percentile(report.live_model_ms, 95))} ms",
            "the floor of the latency above (JPEG decode and model, no server)",
        )
    for name, ms in report.backend_ms.items():
        table.add_row(
            "pose model", f"{name}, one person followed, {LIVE_SIZE[0]} px frames",
            f"p50 {fmt(percentile(ms, 50))} / p95 {fmt(percentile(ms, 95))} ms",
            "decoded in advance; tracking mode (the detector only when the person is lost)",
        )
    for live in report.live:
        if live.error or not math.isfinite(live.rss_peak_kib):
            continue
        table.add_row(
            "memory", f"server during the {live.duration_s:.0f} s session at {live.fps:.0f} fps"
            + (f", {live.backend}" if live.backend else ""),
            f"{fmt(mib(live.rss_peak_kib), 0)} MiB peak",
            f"RSS {fmt(mib(live.rss_start_kib), 0)} MiB at the start, "
            f"{fmt(mib(live.rss_mid_kib), 0)} half-way, {fmt(mib(live.rss_end_kib), 0)} at the end"
            + (" (quick: shorter than 2 minutes)" if report.quick else ""),
        )
    for multi in [m for m in (report.multi, *report.other_multi) if m is not None]:
        subject = (f"{multi.clients} clients at once, each {LIVE_SIZE[0]}x{LIVE_SIZE[1]} JPEG at "
                   f"{multi.fps:.0f} frames/s for {multi.duration_s:.0f} s"
                   + (f", {multi.backend}" if multi.backend else ""))
        if multi.error:
            table.add_row("live", subject, "failed", multi.error)
        else:
            rates = " / ".join(fmt(r) for r in multi.results_per_s)
            p95s = " / ".join(fmt(s.p(95)) for s in multi.sessions)
            table.add_row("live", subject, f"{rates} results/s",
                          f"per client; server latency p95 {p95s} ms; server CPU "
                          f"{fmt(multi.cpu_ms_per_result)} ms per result; of the 2 cores' "
                          f"time the server used {fmt(multi.cores_used(multi.server_cpu_s), 2)} "
                          f"cores and the clients (this process) "
                          f"{fmt(multi.cores_used(multi.client_cpu_s), 2)}")
    if report.live or report.multi is not None:
        table.add_section()

    base = report.memory[0] if report.memory else None
    for mem in report.memory:
        if mem.error:
            table.add_row("memory", f"analyze {mem.label}", "failed", mem.error)
            continue
        note = f"{mem.seconds:.1f} s wall"
        if base is not None and mem is not base and not base.error:
            note = f"{fmt_ratio(ratio(mem.peak_kib, base.peak_kib))} the {base.label}; " + note
        table.add_row("memory", f"analyze {mem.label}",
                      f"{fmt(mib(mem.peak_kib), 0)} MiB peak RSS", note)
    if report.memory:
        table.add_section()

    soak = report.soak
    if soak is not None:
        subject = (f"server, {soak.sessions} live sessions in a row, {soak.seconds_each:.0f} s "
                   f"each at {soak.fps:.0f} fps")
        if soak.error:
            table.add_row("memory soak", subject, "failed", soak.error)
        if soak.rss_after_kib:
            after = ", ".join(f"{mib(v):.0f}" for v in soak.rss_after_kib)
            table.add_row(
                "memory soak", subject,
                f"{fmt_ratio(soak.flat_ratio)} after the 2nd session",
                f"highest RSS after a later session over the RSS after the 2nd (flat: at most "
                f"1.10x); RSS {fmt(mib(soak.rss_start_kib), 0)} MiB at the start, then after "
                f"each session: {after} MiB",
            )
        table.add_section()

    first = report.batch[0] if report.batch else None
    for b in report.batch:
        subject = f"{b.files} clips, --jobs {b.jobs}"
        if b.error:
            table.add_row("batch", subject, "failed", b.error)
            continue
        note = f"{b.failed} failed" if b.failed else ""
        if first is not None and b is not first and not first.error:
            note = (f"{fmt_ratio(ratio(first.seconds, b.seconds))} speed-up over --jobs "
                    f"{first.jobs}" + (f"; {note}" if note else ""))
        table.add_row("batch", subject, f"{b.seconds:.1f} s", note)
    table.add_section()
    for target, value in target_values(report):
        met = target.met(value)
        verdict = "not measured" if met is None else ("met" if met else "NOT met")
        unit = target.unit.strip()
        shown = fmt(value, 2 if unit == "x" else 1, target.unit)
        table.add_row("target", target.name, shown, f"{target.goal}: {verdict}")
    for note in report.notes:
        table.add_row("note", "", "", note)
    return table


# ---------------------------------------------------------------------------------------------
# Throughput


def _clips(data_dir: Path, quick: bool) -> list[Path]:
    if quick:
        return [data_dir / name for name in SHORT_CLIPS if (data_dir / name).is_file()]
    found = sorted(p for p in data_dir.iterdir() if p.is_file() and not p.name.startswith("."))
    # the long clip last: the short ones give a first answer sooner
    return sorted(found, key=lambda p: p.name == LONG_CLIP)


def _model_only(frames: list[Any], settings: Any) -> tuple[float, list[list[np.ndarray]]]:
    """Frames/s of the pose model alone on decoded frames; also every frame's people."""
    from posecoach.pose.estimator import PoseEstimator

    with PoseEstimator(settings) as est:
        people = []
        start = time.perf_counter()
        for frame in frames:
            people.append(est.detect(frame.image, frame.time_s))
        elapsed = time.perf_counter() - start
    return len(frames) / elapsed, people


def _analyze_once(clip: Path, out_dir: Path, settings: Any) -> tuple[float, float, int, float]:
    """(end-to-end frames/s, frame-loop frames/s, frames, CPU ms per frame) of one
    `analyze_video`."""
    from posecoach.pipeline.offline import analyze_video

    marks: list[float] = []

    def progress(done: int, _total: int | None) -> None:
        if done == 1 or not marks:
            marks[:] = [time.perf_counter()]
        elif len(marks) == 1:
            marks.append(time.perf_counter())
        else:
            marks[1] = time.perf_counter()

    shutil.rmtree(out_dir, ignore_errors=True)
    start, cpu = time.perf_counter(), time.process_time()
    result = analyze_video(clip, out_dir, settings, progress=progress)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    frames = int(result.summary.frames or 0)
    loop = (frames - 1) / (marks[1] - marks[0]) if len(marks) == 2 else math.nan
    return frames / elapsed, loop, frames, 1000.0 * cpu / max(frames, 1)


def plain_loop(clip: Path, out_path: Path, settings: Any) -> tuple[float, int, float]:
    """The baseline: OpenCV decode -> pose -> cv2 skeleton -> cv2.VideoWriter (mp4v), one thread.

    Returns (frames/s including the model load, frames, CPU ms per frame).
    """
    import cv2

    from posecoach.pose.estimator import PoseEstimator
    from posecoach.pose.landmarks import SKELETON_EDGES

    opencv_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    start, cpu = time.perf_counter(), time.process_time()
    cap = cv2.VideoCapture(str(clip), cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, 1])
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    frames = 0
    with PoseEstimator(settings, threads=1) as est:
        try:
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                if writer is None:
                    h, w = bgr.shape[:2]
                    writer = cv2.VideoWriter(
                        str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h)
                    )
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                people = est.detect(rgb, frames / fps)
                for pts in people[:1]:
                    xy = pts[:, :2]
                    for a, b in SKELETON_EDGES:
                        if np.isfinite(xy[[a, b]]).all():
                            cv2.line(bgr, (int(xy[a, 0]), int(xy[a, 1])),
                                     (int(xy[b, 0]), int(xy[b, 1])), (0, 255, 0), 2)
                    for x, y in xy[np.isfinite(xy).all(axis=1)]:
                        cv2.circle(bgr, (int(x), int(y)), 3, (255, 255, 255), -1)
                writer.write(bgr)
                frames += 1
        finally:
            cap.release()
            if writer is not None:
                writer.release()
            cv2.setNumThreads(opencv_threads)
    cpu_ms = 1000.0 * (time.process_time() - cpu) / max(frames, 1)
    return frames / (time.perf_counter() - start), frames, cpu_ms


def _medians_from_people(people: list[list[np.ndarray]], frames: list[Any],
                         size: tuple[int, int], settings: Any) -> tuple[float, float]:
    """Trunk and head medians of the offline analysis of given landmarks."""
    from posecoach.coach.live import LiveCoach
    from posecoach.pipeline.offline import analyze_series
    from posecoach.pose.landmarks import PoseSeries

    coach = LiveCoach(settings, estimator=_NoModel())
    width, height = size
    points = []
    for found, frame in zip(people, frames, strict=True):
        h, w = frame.image.shape[:2]
        scaled = [p.copy() for p in found]
        for p in scaled:
            p[:, 0] *= width / w
            p[:, 1] *= height / h
            p[:, 2] *= width / w
        points.append(coach.process_people(scaled, frame.time_s, width, height).raw.points)
    series = PoseSeries(
        time_s=np.array([f.time_s for f in frames]), points=np.stack(points),
        width=width, height=height, frame_index=np.arange(len(frames)),
    )
    summary = analyze_series(series, settings).summary
    return (_num(summary.trunk_lean_deg_median), _num(summary.head_angle_deg_median))


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


class _NoModel:
    """A stand-in estimator for replaying stored landmarks."""

    def detect(self, image_rgb: np.ndarray, time_s: float) -> list[np.ndarray]:
        return []

    def close(self) -> None:
        """Nothing to release."""


def backend_settings(settings: Any, backend: str) -> Any:
    """`settings` with the pose backend set to `backend` ("" leaves them as they are)."""
    if not backend:
        return settings
    return settings.model_copy(update={
        "pose": settings.pose.model_copy(update={"backend": backend})})


def measure_throughput(
    clips: list[Path], out: Path, settings: Any, repeats: int, log: Callable[[str], None],
    model_input_clip: str | None = SIDE_CLIP, backends: Sequence[str] = (),
) -> tuple[list[Throughput], ModelInput | None]:
    """Model only, analyze and the plain loop per clip, interleaved, `repeats` times.

    On `SIDE_CLIP` the model only and analyze runs are made for each of `backends`, side by
    side; the plain loop, the baseline, is always LiteRT on one thread.
    """
    from posecoach.media.probe import probe
    from posecoach.media.reader import VideoReader
    from posecoach.pipeline.offline import pose_input_side

    results: list[Throughput] = []
    model_input: ModelInput | None = None
    side = pose_input_side(settings)
    plain_settings = backend_settings(settings, "litert")
    for clip in clips:
        names = list(backends) if backends and clip.name == SIDE_CLIP else [""]
        rows = [Throughput(clip.name, backend=name) for name in names]
        results.extend(rows)
        try:
            info = probe(clip)
            frames = list(VideoReader(clip, max_side_px=side))
            for row in rows:
                row.width, row.height = info.width, info.height
                row.frames = len(frames)
                row.model_size = (frames[0].image.shape[1], frames[0].image.shape[0])
            reps = 1 if clip.name == LONG_CLIP and repeats > 1 else repeats
            for rep in range(reps):
                log(f"throughput {clip.name}: run {rep + 1} of {reps}")
                for k, row in enumerate(rows):
                    chosen = backend_settings(settings, row.backend)
                    fps, people = _model_only(frames, chosen)
                    row.model_fps.append(fps)
                    if rep == 0 and k == 0 and clip.name == model_input_clip:
                        model_input = _compare_model_input(clip, frames, people, chosen, side)
                    del people
                    e2e, loop, _, cpu_ms = _analyze_once(clip, out / "analyze" / clip.stem,
                                                         chosen)
                    row.analyze_fps.append(e2e)
                    row.analyze_loop_fps.append(loop)
                    row.analyze_cpu_ms.append(cpu_ms)
                (out / "plain").mkdir(parents=True, exist_ok=True)
                plain, _, cpu_ms = plain_loop(clip, out / "plain" / f"{clip.stem}.mp4",
                                              plain_settings)
                for row in rows:
                    row.plain_fps.append(plain)
                    row.plain_cpu_ms.append(cpu_ms)
            del frames
        except Exception as exc:  # noqa: BLE001 - one clip must not stop the benchmark
            for row in rows:
                row.error = f"{type(exc).__name__}: {exc}"
    return results, model_input


def _compare_model_input(clip: Path, frames: list[Any], people: list[list[np.ndarray]],
                         settings: Any, side: int) -> ModelInput | None:
    """Model speed and trunk/head medians with full-size against downscaled input frames."""
    from posecoach.media.probe import output_size, probe
    from posecoach.media.reader import VideoReader

    info = probe(clip)
    full_side = settings.pose.max_input_side_px
    full_size = output_size(info.width, info.height, full_side)
    if max(full_size) == side:
        return None
    full_frames = list(VideoReader(clip, max_side_px=full_side))
    full_fps, full_people = _model_only(full_frames, settings)
    trunk_full, head_full = _medians_from_people(full_people, full_frames, full_size, settings)
    del full_frames
    trunk_used, head_used = _medians_from_people(people, frames, full_size, settings)
    used_fps, _ = _model_only(frames, settings)
    return ModelInput(
        clip=clip.name, full_side=max(full_size), used_side=side,
        full_fps=full_fps, used_fps=used_fps,
        trunk_delta_deg=abs(trunk_full - trunk_used), head_delta_deg=abs(head_full - head_used),
    )


# ---------------------------------------------------------------------------------------------
# Memory of `posecoach analyze`


def cut_clip(src: Path, dst: Path, seconds: float) -> Path:
    """The first `seconds` of `src` in `dst`, packets copied as they are (no re-encoding)."""
    import av

    dst.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        stream = inp.streams.video[0]
        copy = out.add_stream_from_template(stream)
        tb = stream.time_base
        start: float | None = None
        for packet in inp.demux(stream):
            if packet.dts is None or packet.pts is None:
                continue
            t = float(packet.pts * tb)
            start = t if start is None else start
            if float(packet.dts * tb) - start > seconds + 1.0:
                break
            if t - start >= seconds:
                continue
            packet.stream = copy
            out.mux(packet)
    return dst


_PEAK_WRAPPER = """
import atexit, sys
from pathlib import Path

peak_file = Path(sys.argv.pop(1))

def _peak():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_file.write_text(line.split()[1])

atexit.register(_peak)
sys.argv[0] = "posecoach"
from posecoach.cli import main
main()
"""


def run_measured(args: list[str], peak_file: Path,
                 timeout_s: float = 1800.0) -> tuple[int, float, float]:
    """Run `posecoach ARGS` in a new process; (exit code, peak RSS in KiB, seconds).

    The peak (VmHWM) is read by the child itself at exit: the rusage of a forked child would
    also count the benchmark process's own memory at the time of the fork.
    """
    peak_file.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _PEAK_WRAPPER, str(peak_file), *args],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout_s, check=False,
    )
    seconds = time.perf_counter() - start
    try:
        peak = float(peak_file.read_text())
    except (OSError, ValueError):
        peak = math.nan
    return proc.returncode, peak, seconds


def _posecoach_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "posecoach", *args]


def measure_memory(data_dir: Path, out: Path, quick: bool,
                   log: Callable[[str], None]) -> list[Memory]:
    """Peak RSS of `posecoach analyze` on a 10 s cut against the long clip (quick: a 30 s cut)."""
    from posecoach.media.probe import probe

    src = data_dir / LONG_CLIP
    if not src.is_file():
        return [Memory(LONG_CLIP, 0.0, math.nan, 0.0, error="clip not found")]
    runs: list[tuple[str, Path]] = [("10 s cut", cut_clip(src, out / "cuts" / "cut_10s.mp4", 10))]
    if quick:
        runs.append(("30 s cut (quick)", cut_clip(src, out / "cuts" / "cut_30s.mp4", 30)))
    else:
        runs.append((f"{LONG_CLIP} (whole clip)", src))
    results = []
    (out / "memory").mkdir(parents=True, exist_ok=True)
    for label, clip in runs:
        log(f"memory: analyze {label}")
        duration = probe(clip).duration_s or math.nan
        target = out / "memory" / clip.stem
        shutil.rmtree(target, ignore_errors=True)
        code, peak, seconds = run_measured(
            ["analyze", str(clip), "--out", str(out / "memory")], out / "memory" / "peak.txt"
        )
        error = None if code == 0 else f"posecoach analyze exited with {code}"
        results.append(Memory(f"{label}, {duration:.0f} s", duration, peak, seconds, error))
    return results


# ---------------------------------------------------------------------------------------------
# Batch


def measure_batch(data_dir: Path, out: Path, quick: bool,
                  log: Callable[[str], None]) -> list[Batch]:
    """`posecoach analyze FOLDER` with --jobs 1 and --jobs 2 on the short clips."""
    names = list(SHORT_CLIPS) if quick else [
        p.name for p in sorted(data_dir.iterdir()) if p.is_file() and p.name != LONG_CLIP
    ]
    folder = out / "batch_clips"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in names:
        (folder / name).symlink_to(data_dir / name)
    fixture = FIXTURES_DIR / "backward_walk_side_1080p60.mp4"
    if not quick and fixture.is_file():
        (folder / fixture.name).symlink_to(fixture)
    files = len(list(folder.iterdir()))
    results = []
    for jobs in (1, 2):
        log(f"batch: {files} clips with --jobs {jobs}")
        target = out / f"batch_jobs{jobs}"
        shutil.rmtree(target, ignore_errors=True)
        start = time.perf_counter()
        proc = subprocess.run(
            _posecoach_cmd("analyze", str(folder), "--out", str(target), "--jobs", str(jobs)),
            capture_output=True, text=True, check=False,
        )
        seconds = time.perf_counter() - start
        failed = proc.stderr.count("failed:")
        error = None
        if proc.returncode not in (0, 1):
            error = f"exit code {proc.returncode}: {proc.stderr.strip()[-200:]}"
        results.append(Batch(jobs, files, seconds, failed, error))
    return results


# ---------------------------------------------------------------------------------------------
# Live


def serve_app(port: int, data_dir: str, config: str | None = None) -> None:
    """Run the real app under uvicorn (in a child process of the benchmark).

    Each result carries `server_ms`: the time from the frame's arrival on the WebSocket to its
    result being handed to the event loop for sending. The limits come from the environment
    (`POSECOACH_MAX_LIVE_SESSIONS` and the like), as for `posecoach serve`.
    """
    import uvicorn

    from posecoach.server import create_app, limits_from_options, settle_heap
    app = create_app(Path(data_dir), config=Path(config) if config else None,
                     limits=limits_from_options())
    settle_heap()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning",
                ws_max_size=16 * 1024 * 1024)


def _proc_cpu_s(pid: int) -> float:
    """CPU seconds (user and system) a process has used so far, from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return math.nan


def _proc_status(pid: int, key: str) -> float:
    """A memory figure (KiB) from /proc/PID/status, e.g. VmRSS or VmHWM."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return math.nan


def live_jpegs(clip: Path, size: tuple[int, int] = LIVE_SIZE, limit: int = 300) -> list[bytes]:
    """JPEG frames of a real clip at the width the browser sends (height by aspect ratio)."""
    from tools.loadtest import jpeg_frames

    return jpeg_frames(clip, limit=limit, width=size[0], quality=LIVE_JPEG_QUALITY)


async def live_session(url: str, jpegs: list[bytes], fps: float, duration_s: float,
                       on_started: Callable[[], None] | None = None,
                       on_sent: Callable[[], None] | None = None) -> Live:
    """Send `duration_s` of frames at `fps`, paced by the clock, and collect the results.

    `on_started` is called once the session has started, `on_sent` once the last frame is sent
    (before the session is stopped and its outputs written)."""
    import websockets

    stats = Live(fps=fps, duration_s=duration_s)
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(json.dumps({"type": "start", "level": "beginner", "fps": fps}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=120))
            if message.get("type") == "started":
                break
            if message.get("type") == "error":
                raise RuntimeError(message.get("message"))
        if on_started is not None:
            on_started()

        async def receive() -> dict[str, Any]:
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "result":
                    if isinstance(message.get("server_ms"), int | float):
                        stats.latencies_ms.append(float(message["server_ms"]))
                    if isinstance(message.get("t"), int | float):
                        stats.walker_seen.append((float(message["t"]), bool(message.get("person"))))
                elif kind == "finished":
                    return message
            return {}

        receiver = asyncio.ensure_future(receive())
        loop = asyncio.get_running_loop()
        count = int(round(duration_s * fps))
        start = loop.time()
        for k in range(count):
            delay = start + k / fps - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            await ws.send(jpegs[k % len(jpegs)])
            stats.sent += 1
        if on_sent is not None:
            on_sent()
        await ws.send(json.dumps({"type": "stop"}))
        finished = await asyncio.wait_for(receiver, timeout=300)
    stats.processed = int(finished.get("frames", len(stats.latencies_ms)))
    stats.dropped = int(finished.get("dropped", 0))
    return stats


def live_model_ms(jpegs: list[bytes], settings: Any, frames: int = 300) -> list[float]:
    """Milliseconds per frame of JPEG decode and the one-person model: the live path's floor."""
    from posecoach.media.jpeg import decode_jpeg
    from posecoach.pose.estimator import PoseEstimator

    with PoseEstimator(settings, num_poses=settings.pose.live_num_poses) as model:
        model.detect(decode_jpeg(jpegs[0]), 0.0)
        times = []
        for k in range(1, frames + 1):
            start = time.perf_counter()
            model.detect(decode_jpeg(jpegs[k % len(jpegs)]), k / 30.0)
            times.append((time.perf_counter() - start) * 1000.0)
    return times


MODEL_RUNS = (("mediapipe", 1, "f32"), ("litert", 1, "f32"), ("litert", 2, "f32"),
              ("openvino", 1, "f32"), ("openvino", 2, "f32"), ("openvino", 1, "bf16"),
              ("openvino", 2, "bf16"))


def backend_model_ms(jpegs: list[bytes], settings: Any,
                     frames: int = 300) -> dict[str, list[float]]:
    """Milliseconds per frame of each pose backend alone, side by side on the same decoded
    frames: MediaPipe (one thread, its graph's own), LiteRT and OpenVINO with 1 and 2 threads,
    and OpenVINO at bf16 (measured only: it is not offered, its landmarks move too far)."""
    from posecoach.media.jpeg import decode_jpeg
    from posecoach.pose.estimator import PoseEstimator

    images = [decode_jpeg(j) for j in jpegs]
    out: dict[str, list[float]] = {}
    for backend, threads, precision in MODEL_RUNS:
        try:
            model = PoseEstimator(settings, num_poses=1, backend=backend, threads=threads,
                                  precision="bf16" if precision == "bf16" else "f32")
        except Exception:  # noqa: BLE001 - a backend not installed is left out of the table
            continue
        with model:
            model.detect(images[0], 0.0)
            times = []
            for k in range(1, frames + 1):
                start = time.perf_counter()
                model.detect(images[k % len(images)], k / 30.0)
                times.append((time.perf_counter() - start) * 1000.0)
        label = "mediapipe" if backend == "mediapipe" else (
            f"{backend}{' bf16 (not offered)' if precision == 'bf16' else ''}, {threads} thread"
            + ("s" if threads > 1 else ""))
        out[label] = times
    return out



def run_in_own_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to the end on a new event loop in its own thread, so that it works whether or
    not the caller's thread already runs a loop."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="bench-client")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]

def backend_config(out: Path, backend: str) -> str | None:
    """A configuration file that sets the pose backend, for a server ("" : none)."""
    if not backend:
        return None
    path = out / f"pose-{backend}.toml"
    out.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[pose]\nbackend = "{backend}"\n')
    return str(path)


def measure_live(clip: Path, out: Path, quick: bool, log: Callable[[str], None],
                 backend: str = "", plan: Sequence[tuple[float, float]] | None = None
                 ) -> list[Live]:
    """Latency at 30 and 60 frames/s and the server's memory (2 minutes at 30; quick: 20 s),
    the server running the pose `backend` ("": the default)."""
    plan = plan or [(30.0, 20.0 if quick else 120.0), (60.0, 10.0 if quick else 30.0)]
    data_dir = out / f"server-data{'-' + backend if backend else ''}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    port = free_port()
    code = (f"from benchmarks.bench import serve_app; "
            f"serve_app({port}, {str(data_dir)!r}, {backend_config(out, backend)!r})")
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                              stderr=open(out / "server.log", "w"))  # noqa: SIM115
    results: list[Live] = []
    try:
        _wait_for_server(port, server)
        jpegs = live_jpegs(clip)
        for fps, duration in plan:
            log(f"live: {duration:.0f} s at {fps:.0f} frames/s" + (
                f", {backend}" if backend else ""))
            samples: list[float] = []
            sampling = threading.Event()

            def sample(rss: list[float] = samples, stop: threading.Event = sampling) -> None:
                while not stop.wait(0.5):
                    rss.append(_proc_status(server.pid, "VmRSS"))

            sampler = threading.Thread(target=sample, daemon=True)

            cpu: list[float] = []

            def started(rss: list[float] = samples, thread: threading.Thread = sampler,
                        cpu: list[float] = cpu) -> None:
                rss.append(_proc_status(server.pid, "VmRSS"))
                cpu.append(_proc_cpu_s(server.pid))
                thread.start()

            def sent(cpu: list[float] = cpu) -> None:
                cpu.append(_proc_cpu_s(server.pid))

            try:
                stats = run_in_own_loop(live_session(
                    f"ws://127.0.0.1:{port}/ws/live", jpegs, fps, duration, on_started=started,
                    on_sent=sent,
                ))
            except Exception as exc:  # noqa: BLE001 - reported in the table
                stats = Live(fps=fps, duration_s=duration, error=f"{type(exc).__name__}: {exc}")
            stats.backend = backend
            if len(cpu) == 2:
                stats.server_cpu_s = cpu[1] - cpu[0]
            sampling.set()
            if sampler.is_alive():
                sampler.join()
            if samples:
                stats.rss_start_kib = samples[0]
                stats.rss_mid_kib = samples[len(samples) // 2]
                stats.rss_end_kib = samples[-1]
            stats.rss_peak_kib = _proc_status(server.pid, "VmHWM")
            results.append(stats)
    finally:
        stop_process(server)
    return results


def measure_multi(clip: Path, out: Path, quick: bool, log: Callable[[str], None],
                  clients: int = MULTI_CLIENTS, fps: float = MULTI_FPS,
                  duration_s: float | None = None, backend: str = "") -> Multi:
    """`clients` live sessions at once on one server that allows that many, each sending at
    `fps` for `duration_s` (30 s; quick: 10 s): the results per second each gets back. The
    server runs the pose `backend` ("": the default)."""
    duration_s = duration_s or (10.0 if quick else 30.0)
    multi = Multi(clients, fps, duration_s, backend=backend)
    data_dir = out / f"multi-data{'-' + backend if backend else ''}"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    port = free_port()
    code = (f"from benchmarks.bench import serve_app; "
            f"serve_app({port}, {str(data_dir)!r}, {backend_config(out, backend)!r})")
    env = {**os.environ, "POSECOACH_MAX_LIVE_SESSIONS": str(clients)}
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, env=env,
                              stderr=open(out / "multi-server.log", "w"))  # noqa: SIM115
    try:
        _wait_for_server(port, server)
        jpegs = live_jpegs(clip)
        url = f"ws://127.0.0.1:{port}/ws/live"
        log(f"live: {clients} clients at once, {duration_s:.0f} s at {fps:.0f} frames/s each"
            + (f", {backend}" if backend else ""))

        started: list[tuple[float, float, float]] = []
        sent: list[tuple[float, float, float]] = []

        def cpu_now() -> tuple[float, float, float]:
            return _proc_cpu_s(server.pid), time.process_time(), time.perf_counter()

        async def together() -> list[Live | BaseException]:
            return await asyncio.gather(
                *(live_session(url, jpegs, fps, duration_s,
                               on_started=lambda: started.append(cpu_now()),
                               on_sent=lambda: sent.append(cpu_now()))
                  for _ in range(clients)),
                return_exceptions=True)

        outcomes = run_in_own_loop(together())
        if started and sent:
            # from the first session started to the last frame sent: the outputs each session
            # writes when it stops are not part of serving frames
            first, last = min(started), max(sent)
            multi.server_cpu_s = last[0] - first[0]
            multi.client_cpu_s = last[1] - first[1]
            multi.window_s = last[2] - first[2]
        for k, outcome in enumerate(outcomes):
            if isinstance(outcome, BaseException):
                multi.sessions.append(Live(fps=fps, duration_s=duration_s,
                                           error=f"client {k + 1}: {type(outcome).__name__}: "
                                           f"{outcome}"))
                multi.error = multi.error or multi.sessions[-1].error
            else:
                multi.sessions.append(outcome)
    except Exception as exc:  # noqa: BLE001 - reported in the table
        multi.error = f"{type(exc).__name__}: {exc}"
    finally:
        stop_process(server)
    return multi


def measure_soak(clip: Path, out: Path, quick: bool, log: Callable[[str], None],
                 sessions: int | None = None, seconds_each: float | None = None,
                 fps: float = 15.0, settle_s: float = 1.0) -> Soak:
    """Live sessions one after another on one server (20 of 5 s; quick: 6 of 3 s), and its
    resident memory after each: a server that keeps nothing from past sessions stays flat."""
    sessions = sessions or (6 if quick else 20)
    seconds_each = seconds_each or (3.0 if quick else 5.0)
    soak = Soak(sessions, seconds_each, fps)
    data_dir = out / "soak-data"
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    port = free_port()
    code = f"from benchmarks.bench import serve_app; serve_app({port}, {str(data_dir)!r})"
    server = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL,
                              stderr=open(out / "soak-server.log", "w"))  # noqa: SIM115
    try:
        _wait_for_server(port, server)
        jpegs = live_jpegs(clip, limit=int(seconds_each * fps))
        soak.rss_start_kib = _proc_status(server.pid, "VmRSS")
        for k in range(sessions):
            stats = run_in_own_loop(
                live_session(f"ws://127.0.0.1:{port}/ws/live", jpegs, fps, seconds_each)
            )
            time.sleep(settle_s)  # the session's memory is handed back just after it finishes
            soak.rss_after_kib.append(_proc_status(server.pid, "VmRSS"))
            soak.frames.append(stats.processed)
            log(f"soak: session {k + 1} of {sessions}: {stats.processed} frames, "
                f"RSS {mib(soak.rss_after_kib[-1]):.0f} MiB")
    except Exception as exc:  # noqa: BLE001 - reported in the table
        soak.error = f"{type(exc).__name__}: {exc}"
    finally:
        stop_process(server)
    log(f"soak: {fmt_ratio(soak.flat_ratio)} after the 2nd session")
    return soak


def _wait_for_server(port: int, server: subprocess.Popen[Any], timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with {server.returncode}")
        url = f"http://127.0.0.1:{port}/api/config"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2):
            return
        time.sleep(0.2)
    raise RuntimeError("the server did not start in time")


# ---------------------------------------------------------------------------------------------


def installed_backends(settings: Any) -> tuple[list[str], str, str]:
    """The pose backends installed here, the one `auto` picks (after its calibration), and the
    CPU's model name with whether it has AMX."""
    from posecoach.pose.backend import resolve_threads
    from posecoach.pose.calibration import calibrate, installed_version
    from posecoach.pose.model import litert_model_paths
    from posecoach.pose.openvino_runtime import cpu_model, has_amx

    backends = [b for b in BACKENDS if installed_version(b) is not None]
    chosen = calibrate(litert_model_paths(settings.pose.model)[1],
                       resolve_threads(settings.pose.threads)).engine
    return backends, chosen, f"{cpu_model()}, AMX {'yes' if has_amx() else 'no'}"


def run_benchmarks(
    out: Path,
    repeats: int = 3,
    quick: bool = False,
    data_dir: Path = DATA_DIR,
    console: Console | None = None,
    parts: Sequence[str] = ("throughput", "live", "multi", "memory", "soak", "batch"),
) -> BenchReport:
    """Run the benchmark, print the table, and write `results.json` into `out`."""
    from posecoach.settings import load_settings

    console = console or Console(width=None if sys.stdout.isatty() else 160)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if quick:
        repeats = min(repeats, 1)
    report = BenchReport(quick=quick, repeats=repeats)

    def log(message: str) -> None:
        report.load.append(_load())
        console.print(f"[dim]{message}[/dim]")

    if not data_dir.is_dir():
        raise FileNotFoundError(f"no clips in {data_dir}")
    settings = load_settings()
    backends, report.chosen, report.cpu = installed_backends(settings)
    chosen = backend_settings(settings, report.chosen)
    log(f"pose backends: {', '.join(backends)}; auto picks {report.chosen} on {report.cpu}")
    if "throughput" in parts:
        report.throughput, report.model_input = measure_throughput(
            _clips(data_dir, quick), out, chosen, repeats, log, backends=backends
        )
    if "live" in parts:
        log("live: the pose model alone on the live frames")
        report.live_model_ms = live_model_ms(live_jpegs(data_dir / SIDE_CLIP), chosen)
        log("pose model: each backend alone, side by side")
        report.backend_ms = backend_model_ms(live_jpegs(data_dir / SIDE_CLIP), settings)
        for backend in backends:
            plan = None if backend == report.chosen else [(30.0, 20.0 if quick else 60.0)]
            report.live += measure_live(data_dir / SIDE_CLIP, out, quick, log, backend, plan)
        report.notes.append(glass_to_glass.bench_line(data_dir / SIDE_CLIP, out, quick, log))
    if "multi" in parts:
        for backend in backends:
            multi = measure_multi(data_dir / SIDE_CLIP, out, quick, log, backend=backend)
            if backend == report.chosen:
                report.multi = multi
            else:
                report.other_multi.append(multi)
    if "memory" in parts:
        report.memory = measure_memory(data_dir, out, quick, log)
    if "soak" in parts:
        report.soak = measure_soak(data_dir / SIDE_CLIP, out, quick, log)
    if "batch" in parts:
        report.batch = measure_batch(data_dir, out, quick, log)
    report.load.append(_load())
    report.notes.append(
        "analyze = analyze_video in this process: model load, frame loop and every output "
        "(annotated.mp4, landmarks.csv, metrics.csv, summary.json, report.html)"
    )
    (out / "results.json").write_text(json.dumps(report.to_json(), indent=2, default=str))
    console.print(build_table(report))
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """The benchmark's command line: `python -m benchmarks.bench`."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Measure throughput, live latency and memory on the real clips.",
    )
    parser.add_argument("--out", type=Path, default=Path("out/bench"),
                        help="where the benchmark writes its outputs (default: out/bench)")
    parser.add_argument("--repeats", type=_at_least_one, default=3,
                        help="runs per measurement, the median is shown (default: 3)")
    parser.add_argument("--quick", action="store_true", help="fewer clips and repeats")
    args = parser.parse_args(argv)
    run_benchmarks(args.out, repeats=args.repeats, quick=args.quick)
    return 0


def _at_least_one(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not at least 1")
    return value


if __name__ == "__main__":
    raise SystemExit(main())

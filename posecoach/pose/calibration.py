"""The `auto` pose backend: on each machine, the fastest installed engine that agrees.

Which engine runs BlazePose fastest depends on the CPU (OpenVINO gains most on recent Intel
CPUs; elsewhere LiteRT may win) and on the threads given. So the first time a machine runs a
model with `backend = "auto"`, posecoach times the landmark model (it runs on every frame) on
each installed engine for a few hundred milliseconds, runs interleaved so that a busy moment
slows both alike, checks each engine's landmarks against LiteRT's on the same input, and keeps
the answer in the user data folder (`calibration.json`), keyed by CPU, model file, threads and
engine versions. Later starts read it back; `posecoach doctor` shows it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import os
import statistics
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import platformdirs
from pydantic import BaseModel, ConfigDict, ValidationError

from posecoach.errors import ModelError
from posecoach.paths import APP_NAME
from posecoach.pose.blazepose.runtime_io import Engine, ModelRunner, Runtime, load_runner
from posecoach.pose.openvino_runtime import cpu_flags, cpu_model, has_amx
from posecoach.settings import Settings

CALIBRATION_FILE = "calibration.json"
ENGINES: tuple[Engine, ...] = ("litert", "openvino")
ENGINE_PACKAGES = {"litert": "ai-edge-litert", "openvino": "openvino"}
WARMUP_RUNS = 3
TIMED_RUNS = 12
# an engine agrees when its landmarks are within this many pixels of the 256 px crop of
# LiteRT's on the same input (f32 engines differ by about 0.001 px)
AGREE_PX = 0.05
POINTS_OUTPUT, PRESENCE_OUTPUT = "Identity", "Identity_1"
INPUT_SIZE = 256


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CalibrationKey(_Frozen):
    """What a calibration holds for: this CPU, this model file, these threads and versions."""

    cpu_model: str
    cpu_flags_sha: str
    model_sha: str
    threads: int
    versions: str  # "litert 2.3.0, openvino 2026.4.1"


class EngineTiming(_Frozen):
    """One engine's measurement: median ms per landmark run, and whether it agrees."""

    engine: Engine
    precision: Literal["f32", "bf16"] = "f32"
    ms: float | None = None
    agrees: bool = False
    note: str = ""


class Calibration(_Frozen):
    """The engine `auto` runs on this machine, and why."""

    key: CalibrationKey
    engine: Engine
    timings: list[EngineTiming]
    reason: str
    measured_at: str
    measured_s: float


class CalibrationFile(_Frozen):
    calibrations: list[Calibration] = []


def calibration_path() -> Path:
    """Where the calibrations are kept (the user data folder, e.g. ~/.local/share/posecoach)."""
    return platformdirs.user_data_path(APP_NAME) / CALIBRATION_FILE


def installed_version(engine: Engine) -> str | None:
    try:
        return importlib.metadata.version(ENGINE_PACKAGES[engine])
    except importlib.metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=8)
def _file_sha(path: Path, size: int, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def calibration_key(model_path: Path, threads: int) -> CalibrationKey:
    stat = model_path.stat()
    versions = ", ".join(f"{e} {v}" for e in ENGINES if (v := installed_version(e)) is not None)
    return CalibrationKey(
        cpu_model=cpu_model(),
        cpu_flags_sha=hashlib.sha256(" ".join(sorted(cpu_flags())).encode()).hexdigest()[:16],
        model_sha=_file_sha(model_path, stat.st_size, stat.st_mtime_ns), threads=threads,
        versions=versions)


def calibration_input() -> np.ndarray:
    """A fixed crop-sized input (smooth shapes with texture), the same on every machine."""
    ys, xs = np.mgrid[0:INPUT_SIZE, 0:INPUT_SIZE].astype(np.float32) / INPUT_SIZE
    noise = np.random.default_rng(20261207).random((INPUT_SIZE, INPUT_SIZE, 3), np.float32)
    image = np.stack([xs, ys, 0.5 + 0.5 * np.sin(8 * xs) * np.cos(6 * ys)], axis=-1)
    return np.clip(0.8 * image + 0.2 * noise, 0, 1)[None]


def _points(runner: ModelRunner, tensor: np.ndarray) -> tuple[np.ndarray, float]:
    outputs = runner.run(tensor)
    points = np.array(outputs[POINTS_OUTPUT], np.float64).reshape(-1, 5)[:, :2]
    return points, float(np.asarray(outputs[PRESENCE_OUTPUT]).reshape(-1)[0])


def measure(model_path: Path, threads: int) -> tuple[list[EngineTiming], float]:
    """Each installed engine timed on the landmark model, runs interleaved; and the seconds
    the whole measurement took."""
    start = time.perf_counter()
    tensor = calibration_input()
    runners: dict[Engine, ModelRunner] = {}
    notes: dict[Engine, str] = {}
    for engine in ENGINES:
        if installed_version(engine) is None:
            notes[engine] = "not installed"
            continue
        try:
            runners[engine] = load_runner(model_path, threads, Runtime(engine))
        except ModelError as exc:
            notes[engine] = str(exc)
    if not runners:
        raise ModelError("no pose runtime is installed: pip install ai-edge-litert or openvino")
    reference = _points(runners["litert"], tensor) if "litert" in runners else None
    agrees: dict[Engine, bool] = {}
    for engine, runner in runners.items():
        points, presence = _points(runner, tensor)
        agrees[engine] = reference is None or (
            float(np.abs(points - reference[0]).max()) <= AGREE_PX
            and abs(presence - reference[1]) <= 1e-3)
    times: dict[Engine, list[float]] = {engine: [] for engine in runners}
    for run in range(WARMUP_RUNS + TIMED_RUNS):
        for engine, runner in runners.items():
            begin = time.perf_counter()
            runner.run(tensor)
            if run >= WARMUP_RUNS:
                times[engine].append((time.perf_counter() - begin) * 1e3)
    timings = [EngineTiming(engine=engine, ms=(round(statistics.median(times[engine]), 2)
                                               if engine in times else None),
                            agrees=agrees.get(engine, False), note=notes.get(engine, ""))
               for engine in ENGINES]
    return timings, time.perf_counter() - start


def decide(timings: list[EngineTiming]) -> tuple[Engine, str]:
    """The fastest engine that agrees, and the reason in words."""
    usable = [t for t in timings if t.ms is not None and t.agrees]
    if not usable:
        raise ModelError("no pose runtime could run the landmark model")
    best = min(usable, key=lambda t: t.ms or 0.0)
    figures = ", ".join(f"{t.engine} {t.ms:.1f} ms" + ("" if t.agrees else " (disagrees)")
                        for t in timings if t.ms is not None)
    missing = [f"{t.engine} {t.note}" for t in timings if t.ms is None]
    reason = f"fastest that agrees with LiteRT: {figures} per landmark run"
    if missing:
        reason += f"; {', '.join(missing)}"
    return best.engine, reason


_lock = threading.Lock()
_in_memory: dict[CalibrationKey, Calibration] = {}


def _read(path: Path) -> CalibrationFile:
    try:
        return CalibrationFile.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):
        return CalibrationFile()


def _write(path: Path, data: CalibrationFile) -> None:
    """Written atomically; a folder that cannot be written only costs a calibration per run."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # each writer its own partial file: batch processes may calibrate at the same moment
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_text(data.model_dump_json(indent=1), encoding="utf-8")
        partial.replace(path)
    except OSError:
        pass


def calibrate(model_path: Path, threads: int, again: bool = False) -> Calibration:
    """This machine's calibration for `model_path` on `threads` threads: from memory, from
    the user data folder, or measured now (and kept); `again` measures anew."""
    key = calibration_key(model_path, threads)
    with _lock:
        if not again and key in _in_memory:
            return _in_memory[key]
        path = calibration_path()
        stored = _read(path)
        found = next((c for c in stored.calibrations if c.key == key), None)
        if found is None or again:
            timings, seconds = measure(model_path, threads)
            engine, reason = decide(timings)
            found = Calibration(key=key, engine=engine, timings=timings, reason=reason,
                                measured_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                                measured_s=round(seconds, 3))
            others = [c for c in stored.calibrations if c.key != key]
            _write(path, CalibrationFile(calibrations=[*others[-15:], found]))
        _in_memory[key] = found
        return found


def describe(calibration: Calibration | None, setting: str, threads: int) -> list[str]:
    """`posecoach doctor`'s lines: the CPU, the backend chosen, its precision and threads,
    and why."""
    flags = cpu_flags()
    lines = [f"CPU: {cpu_model()}",
             f"AMX: {'yes' if has_amx() else 'no'}; AVX-512: "
             f"{'yes' if 'avx512f' in flags else 'no'}; AVX-512 BF16: "
             f"{'yes' if 'avx512_bf16' in flags else 'no'}"]
    versions = ", ".join(f"{e} {installed_version(e) or 'not installed'}" for e in ENGINES)
    lines.append(f"pose runtimes: {versions}")
    lines.append(f"pose backend setting: {setting}")
    if calibration is None:
        lines.append(f"backend: {setting}, precision f32, {threads} threads (chosen in the "
                     "settings, not measured)")
    else:
        lines.append(f"backend: {calibration.engine}, precision f32, {threads} threads")
        lines.append(f"why: {calibration.reason} ({threads} threads; measured "
                     f"{calibration.measured_at} in {calibration.measured_s:.2f} s, kept in "
                     f"{calibration_path()})")
    lines.append("precision: f32 always; bf16 is not offered, its landmarks move beyond the "
                 "agreement bounds on the real clips")
    return lines


def doctor_lines(settings: Settings, again: bool = False) -> list[str]:
    """What `posecoach doctor` prints for these settings; with `again`, measured anew."""
    from posecoach.pose.backend import pipelined_threads, resolve_threads
    from posecoach.pose.model import litert_model_paths

    threads = resolve_threads(settings.pose.threads)
    setting = settings.pose.backend
    calibration = None
    if setting == "auto":
        calibration = calibrate(litert_model_paths(settings.pose.model)[1], threads, again)
    lines = describe(calibration, setting, threads)
    lines.append(f"threads: {threads} ({'every core' if settings.pose.threads <= 0 else 'set'}"
                 "; live sessions running at once share them, each model on its part)")
    lines.append(f"analyze: the model on {pipelined_threads(settings.pose.threads)} thread(s) "
                 "(decoding, coaching and encoding run beside it)")
    return lines

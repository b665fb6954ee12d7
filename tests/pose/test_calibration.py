"""The `auto` backend's calibration: measured once per machine and model, kept, and explained."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from posecoach.pose import calibration
from posecoach.pose.calibration import (
    Calibration,
    CalibrationFile,
    EngineTiming,
    calibrate,
    calibration_path,
    decide,
)
from posecoach.pose.estimator import PoseEstimator
from posecoach.pose.model import litert_model_paths
from posecoach.settings import load_settings
from tests.conftest import ROOT


@pytest.fixture
def data_home(tmp_path, monkeypatch):
    """A fresh user data folder, and no calibration remembered in this process."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setattr(calibration, "_in_memory", {})
    return tmp_path / "data"


@pytest.mark.parametrize(("timings", "chosen"), [
    ([EngineTiming(engine="litert", ms=8.0, agrees=True),
      EngineTiming(engine="openvino", ms=6.0, agrees=True)], "openvino"),
    ([EngineTiming(engine="litert", ms=8.0, agrees=True),
      EngineTiming(engine="openvino", ms=9.5, agrees=True)], "litert"),
    ([EngineTiming(engine="litert", ms=8.0, agrees=True),
      EngineTiming(engine="openvino", ms=3.0, agrees=False)], "litert"),
    ([EngineTiming(engine="litert", ms=8.0, agrees=True),
      EngineTiming(engine="openvino", note="not installed")], "litert"),
    ([EngineTiming(engine="litert", note="not installed"),
      EngineTiming(engine="openvino", ms=7.0, agrees=True)], "openvino"),
])
def test_decide_takes_the_fastest_that_agrees(timings, chosen):
    engine, reason = decide(timings)
    assert engine == chosen
    assert "fastest that agrees" in reason
    for t in timings:
        assert t.engine in reason


def test_calibration_times_both_engines_and_is_kept(data_home):
    _, landmark_path = litert_model_paths("auto")
    first = calibrate(landmark_path, 1)
    measured = {t.engine: t for t in first.timings}
    assert set(measured) == {"litert", "openvino"}
    assert all(t.ms is not None and t.ms > 0 and t.agrees for t in measured.values())
    assert first.engine == min(measured.values(), key=lambda t: t.ms or 0.0).engine
    stored = CalibrationFile.model_validate_json(calibration_path().read_bytes())
    assert stored.calibrations == [first]
    assert calibration_path().is_relative_to(data_home)

    calibration._in_memory.clear()  # a new process: read back, not measured again
    mtime = calibration_path().stat().st_mtime_ns
    assert calibrate(landmark_path, 1) == first
    assert calibration_path().stat().st_mtime_ns == mtime

    other = calibrate(landmark_path, 2)  # another thread count is another calibration
    assert other.key.threads == 2 and other.key != first.key
    stored = CalibrationFile.model_validate_json(calibration_path().read_bytes())
    assert [c.key.threads for c in stored.calibrations] == [1, 2]


def test_a_damaged_calibration_file_is_measured_again(data_home):
    path = calibration_path()
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    result = calibrate(litert_model_paths("auto")[1], 1)
    assert isinstance(result, Calibration)
    assert CalibrationFile.model_validate_json(path.read_bytes()).calibrations == [result]


def test_auto_backend_runs_the_calibrated_engine(data_home):
    settings = load_settings(overrides={"pose": {"backend": "auto"}})
    with PoseEstimator(settings, threads=1) as estimator:
        assert estimator.calibration is not None
        assert estimator.backend == estimator.calibration.engine
        assert estimator.backend in ("litert", "openvino")


def test_auto_is_the_default_backend():
    assert load_settings().pose.backend == "auto"


def test_doctor_says_backend_precision_threads_why_and_cpu(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "d"),
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "posecoach", "doctor"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Traceback" not in done.stderr
    lines = {line.split(":", 1)[0]: line for line in out.splitlines() if ":" in line}
    assert lines["CPU"].split(":", 1)[1].strip()
    assert lines["AMX"].startswith("AMX: yes") or lines["AMX"].startswith("AMX: no")
    backend = lines["backend"]
    assert ("openvino" in backend or "litert" in backend) and "f32" in backend
    assert "threads" in backend
    assert "fastest that agrees" in lines["why"]
    assert (tmp_path / "d" / "posecoach" / "calibration.json").is_file()

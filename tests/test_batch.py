"""Batch runners on landmark CSVs made from real motion capture (no pose model, so fast).

The inputs are Bandai-Namco backward-walking trials from `../shared/data/mocap`, projected
through a virtual side-view camera (tests/mocap/projection.py) and written as landmarks CSVs.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from posecoach.outputs.landmarks_csv import write_landmarks_csv
from posecoach.pipeline.batch import DaskRunner, LocalRunner, output_folder, run_batch
from tests.conftest import MOCAP as MOCAP_DIR
from tests.conftest import needs_shared_data
from tests.mocap.projection import load_trial, project_trial

TRIALS = ("dataset-1_walk-back_normal_001.bvh", "dataset-1_walk-back_active_001.bvh")

pytestmark = needs_shared_data


def _landmarks_csv(trial: str, folder: Path) -> Path:
    series, _ = project_trial(load_trial(MOCAP_DIR / trial), noise_px=2.0, far_visibility=0.6)
    return write_landmarks_csv(folder / f"{Path(trial).stem}.landmarks.csv", series)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("batch-inputs")
    return [_landmarks_csv(trial, folder) for trial in TRIALS]


def _jobs(paths: list[Path], out: Path) -> list[tuple[str, str]]:
    return [(str(p), str(output_folder(p, out))) for p in paths]


def test_local_runner_two_jobs_reports_a_bad_file_and_finishes_the_others(inputs, settings,
                                                                          tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is a shopping list, not a video\n")
    jobs = _jobs([inputs[0], bad], tmp_path / "out")

    outcomes = {Path(o.path).name: o for o in run_batch(jobs, settings, LocalRunner(jobs=2))}

    assert set(outcomes) == {inputs[0].name, "notes.mp4"}
    failed = outcomes["notes.mp4"]
    assert not failed.ok and "notes.mp4 is a text file" in (failed.error or "")
    good = outcomes[inputs[0].name]
    assert good.ok and good.error is None
    assert good.summary is not None and good.summary.direction == "backward"
    summary = json.loads((Path(good.out_dir) / "summary.json").read_text())
    assert summary["direction"] == "backward"
    assert (Path(good.out_dir) / "report.html").is_file()


@pytest.mark.skipif(
    importlib.util.find_spec("distributed") is None,
    reason="the Dask backend is optional: pip install 'posecoach[dask]' to test it",
)
def test_dask_runner_on_a_local_cluster(inputs, settings, tmp_path):
    jobs = _jobs(inputs, tmp_path / "out")

    outcomes = list(DaskRunner(address=None, workers=2).run(jobs, settings))

    assert sorted(Path(o.path).name for o in outcomes) == sorted(p.name for p in inputs)
    for outcome in outcomes:
        assert outcome.ok, outcome.error
        assert outcome.summary is not None and outcome.summary.direction == "backward"
        assert outcome.summary.steps >= 2
        assert (Path(outcome.out_dir) / "metrics.csv").is_file()

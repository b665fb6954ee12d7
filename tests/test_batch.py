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
from posecoach.pipeline.batch import (
    DaskRunner,
    LocalRunner,
    output_folder,
    output_folders,
    run_batch,
)
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


def test_output_folders_are_unique_and_the_same_on_every_run(tmp_path):
    out = tmp_path / "out"
    paths = [Path("a/clipA.mp4"), Path("b/clipA.gif"), Path("c/CLIPA.mp4"), Path("d/clipA.mp4"),
             Path("clipB.landmarks.csv"), Path("e/clipB.csv")]

    folders = output_folders(paths, out)

    assert [f.name for f in folders] == [
        "clipA", "clipA.gif", "CLIPA.mp4", "clipA-2", "clipB", "clipB.csv"
    ]
    assert len({f.name.casefold() for f in folders}) == len(paths)
    assert output_folders(paths, out) == folders
    assert output_folders(paths[:1], out) == folders[:1], "the first keeps the plain name"


def test_output_folder_of_an_odd_name_is_printable(tmp_path):
    folder = output_folder(Path(b"walk\xff\xfe.mp4".decode("utf-8", "surrogateescape")), tmp_path)
    assert folder.name == "walk\ufffd\ufffd"
    folder.name.encode("utf-8")
    assert output_folder(Path("...mp4"), tmp_path).name == "clip"


@pytest.mark.parametrize("jobs", [1, 2])
def test_cli_same_stem_inputs_get_folders_of_their_own(inputs, tmp_path, jobs):
    import shutil

    from typer.testing import CliRunner

    from posecoach.cli import app as cli_app

    first = shutil.copy(inputs[0], tmp_path / "walk.landmarks.csv")
    second = shutil.copy(inputs[1], tmp_path / "walk.csv")
    out = tmp_path / "out"
    args = ["analyze", str(first), str(second), "--out", str(out), "--jobs", str(jobs)]

    result = CliRunner().invoke(cli_app, args)

    assert result.exit_code == 0, result.output
    assert "2 analysed, 0 failed" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["walk", "walk.csv"]
    sources = {
        folder: json.loads((out / folder / "summary.json").read_text())["source"]
        for folder in ("walk", "walk.csv")
    }
    assert sources == {"walk": "walk.landmarks.csv", "walk.csv": "walk.csv"}
    for folder in ("walk", "walk.csv"):
        assert (out / folder / "report.html").is_file()
    again = CliRunner().invoke(cli_app, args)
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in out.iterdir()) == ["walk", "walk.csv"], "a re-run lands in place"

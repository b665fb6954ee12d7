"""Batch runners on landmark CSVs made from real motion capture (no pose model, so fast).

The inputs are Bandai-Namco backward-walking trials from `../shared/data/mocap`, projected
through a virtual side-view camera (tests/mocap/projection.py) and written as landmarks CSVs.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from posecoach.outputs.landmarks_csv import write_landmarks_csv
from posecoach.pipeline.batch import (
    FileOutcome,
    InputProblem,
    LocalRunner,
    batch_rows,
    collect_inputs,
    output_folder,
    output_folders,
    run_batch,
    skipped_inputs,
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
def test_dask_backend_writes_the_same_table_as_the_local_one(inputs, tmp_path):
    from typer.testing import CliRunner

    from posecoach.cli import app as cli_app
    from posecoach.outputs.batch_table import read_batch_csv

    folder = tmp_path / "clips"
    folder.mkdir()
    for path in inputs:
        shutil.copy(path, folder / path.name)
    (folder / "notes.mp4").write_text("this is a shopping list, not a video\n")
    tables = {}
    for backend in ("dask", "local"):
        out = tmp_path / backend
        result = CliRunner().invoke(cli_app, ["analyze", str(folder), "--out", str(out),
                                              "--backend", backend, "--jobs", "2"])
        assert result.exit_code == 1, result.output
        tables[backend] = read_batch_csv(out / "batch.csv")

    dask = tables["dask"]
    first, second = sorted(p.name for p in inputs)  # rows follow the inputs' order
    assert [(Path(r.file).name, r.status) for r in dask] == [
        (first, "done"), (second, "done"), ("notes.mp4", "failed")]
    for row in dask[:2]:
        assert row.direction == "backward" and row.steps is not None and row.steps >= 2
        assert (tmp_path / "dask" / (row.report or "")).is_file()
    assert dask == tables["local"]


def test_inputs_leave_out_the_output_folder_and_list_other_files_as_skipped(tmp_path):
    folder = tmp_path / "clips"
    (folder / "day 2").mkdir(parents=True)
    for name in ("walk.mp4", "day 2/turn.MOV", "walk.landmarks.csv", "notes.txt",
                 ".DS_Store", "out/walk/annotated.mp4", "out/walk/metrics.csv",
                 "out/batch.csv"):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")
    out = folder / "out"
    missing = tmp_path / "nowhere.mp4"

    files, problems = collect_inputs([folder, missing], out)

    assert [p.relative_to(folder).as_posix() for p in files] == [
        "day 2/turn.MOV", "walk.landmarks.csv", "walk.mp4"]
    assert [(p.path, p.reason) for p in problems] == [(str(missing), "no such file or folder")]
    assert str(problems[0]) == f"{missing}: no such file or folder"
    assert skipped_inputs([folder, missing], out) == [folder / "notes.txt"]


def test_rows_follow_the_input_order_whatever_order_files_finish_in(tmp_path):
    jobs = [(str(tmp_path / "a.mp4"), str(tmp_path / "out" / "a")),
            (str(tmp_path / "b.mp4"), str(tmp_path / "out" / "b"))]
    finished = [FileOutcome(jobs[1][0], jobs[1][1], False, error="b.mp4 is empty (0 bytes)")]

    rows = batch_rows(jobs, finished, tmp_path / "out",
                      problems=[InputProblem("c.mp4", "no such file or folder")],
                      skipped=[tmp_path / "notes.txt"], person="Ana")

    assert [(Path(r.file).name, r.status) for r in rows] == [
        ("a.mp4", "skipped"), ("b.mp4", "failed"), ("c.mp4", "failed"),
        ("notes.txt", "skipped")]
    assert rows[0].reason == "not analysed: the batch was stopped"
    assert rows[1].reason == "b.mp4 is empty (0 bytes)"
    assert {r.person for r in rows} == {"Ana"}


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
    from typer.testing import CliRunner

    from posecoach.cli import app as cli_app

    first = shutil.copy(inputs[0], tmp_path / "walk.landmarks.csv")
    second = shutil.copy(inputs[1], tmp_path / "walk.csv")
    out = tmp_path / "out"
    args = ["analyze", str(first), str(second), "--out", str(out), "--jobs", str(jobs)]

    result = CliRunner().invoke(cli_app, args)

    assert result.exit_code == 0, result.output
    assert "2 analysed, 0 failed" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["batch.csv", "index.html", "walk", "walk.csv"]
    sources = {
        folder: json.loads((out / folder / "summary.json").read_text())["source"]
        for folder in ("walk", "walk.csv")
    }
    assert sources == {"walk": "walk.landmarks.csv", "walk.csv": "walk.csv"}
    for folder in ("walk", "walk.csv"):
        assert (out / folder / "report.html").is_file()
    again = CliRunner().invoke(cli_app, args)
    assert again.exit_code == 0, again.output
    assert sorted(p.name for p in out.iterdir()) == [
        "batch.csv", "index.html", "walk", "walk.csv"], "a re-run lands in place"


def test_a_table_that_cannot_be_written_is_reported_and_the_results_still_print(inputs,
                                                                                 tmp_path):
    from typer.testing import CliRunner

    from posecoach.cli import app as cli_app

    out = tmp_path / "out"
    (out / "batch.csv").mkdir(parents=True)  # a folder where the table should go

    result = CliRunner().invoke(cli_app, ["analyze", str(inputs[0]), str(inputs[1]),
                                          "--out", str(out)])

    assert result.exit_code == 1, result.output
    assert "the table of results was not written" in result.stderr
    assert "Traceback" not in result.output
    statuses = [line.split("\t")[0] for line in result.stdout.splitlines()]
    assert statuses == ["done", "done"], "every file's result, and no table line"
    assert "2 analysed, 0 failed" in result.stderr
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]

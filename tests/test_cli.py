"""The command line as a user runs it: real clips, bad files, batches and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import DATA, FIXTURES, VIDEO, needs_shared_data


def posecoach(*args: str, timeout: float = 600,
              env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "posecoach", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=None if env is None else {**os.environ, **env},
    )


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    files = {
        "empty.mp4": b"",
        "notes.mp4": b"this is a text file, not a video\n" * 20,
        "random.mp4": bytes(range(256)) * 64,
    }
    out = {}
    for name, content in files.items():
        (root / name).write_bytes(content)
        out[name] = root / name
    photo = root / "photo.mp4"
    shutil.copy(DATA / "images" / "COCO_val2014_000000000241.jpg", photo)
    out["photo.mp4"] = photo
    truncated = root / "truncated.mp4"
    whole = (VIDEO / "side_walk_1080p60.mp4").read_bytes()
    truncated.write_bytes(whole[: len(whole) // 3])
    out["truncated.mp4"] = truncated
    return out


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("empty.mp4", "empty"),
        ("notes.mp4", "not a video"),
        ("random.mp4", "not a video"),
        ("photo.mp4", "photo"),
    ],
)
def test_bad_input_gives_a_clear_message_and_nonzero_exit(bad_files, tmp_path, name, message):
    proc = posecoach("analyze", str(bad_files[name]), "--out", str(tmp_path))
    assert proc.returncode == 1
    no_traceback(proc)
    assert name in proc.stderr
    assert message in proc.stderr.lower()


def test_truncated_video_says_it_was_cut_short(bad_files, tmp_path):
    proc = posecoach("analyze", str(bad_files["truncated.mp4"]), "--out", str(tmp_path))
    no_traceback(proc)
    text = proc.stderr.lower()
    # Either the readable part is analysed with a warning, or the file is refused clearly.
    if proc.returncode == 0:
        assert "cut short" in text or "ends early" in text
        summary = json.loads((tmp_path / "truncated" / "summary.json").read_text())
        assert summary["warnings"]
    else:
        assert "truncated" in text or "cut short" in text or "not a video" in text


def test_missing_path_and_bad_config(tmp_path):
    proc = posecoach("analyze", str(tmp_path / "nope.mp4"))
    assert proc.returncode == 1 and "no such file" in proc.stderr
    no_traceback(proc)
    cfg = tmp_path / "c.toml"
    cfg.write_text("[rules.head_up\n")
    proc = posecoach("analyze", str(FIXTURES / "backward_walk_side_1080p60.mp4"),
                     "--config", str(cfg))
    assert proc.returncode == 2 and "not valid TOML" in proc.stderr
    no_traceback(proc)


@pytest.mark.parametrize("columns", ["40", "200"])
@pytest.mark.parametrize(
    ("name", "problem"),
    [
        # a path of 300+ characters in folders: missing
        (f"{'folder-' * 20}/{'clip-' * 30}.mp4", "no such file or folder"),
        # one name of 300 characters: longer than a file name may be
        (f"{'x' * 296}.mp4", "the name is too long"),
    ],
)
def test_a_long_message_sent_to_a_pipe_stays_on_one_line(tmp_path, columns, name, problem):
    path = tmp_path / name
    assert len(str(path)) > 300
    proc = posecoach("analyze", str(path), "--out", str(tmp_path / "out"),
                     env={"COLUMNS": columns})
    assert proc.returncode == 1
    no_traceback(proc)
    assert f"error: {path}: {problem}" in proc.stderr.splitlines()


@pytest.mark.parametrize("columns", ["40", "200"])
def test_a_usage_error_sent_to_a_pipe_stays_on_one_line(columns):
    option = "--" + "no-such-option-" * 20
    proc = posecoach("analyze", option, "clip.mp4", env={"COLUMNS": columns})
    assert proc.returncode == 2
    no_traceback(proc)
    assert [line for line in proc.stderr.splitlines() if option in line and "Error" in line]


def test_version_option():
    from importlib.metadata import version

    proc = posecoach("--version")
    assert proc.returncode == 0
    assert proc.stdout == f"posecoach {version('posecoach')}\n"


def test_bench_is_not_a_command_of_the_installed_tool():
    proc = posecoach("bench")
    assert proc.returncode == 2
    no_traceback(proc)


def _write_folder(folder: Path, files: dict[str, bytes | Path]) -> Path:
    folder.mkdir(parents=True)
    for name, content in files.items():
        target = folder / name
        if isinstance(content, Path):
            shutil.copy(content, target)
        else:
            target.write_bytes(content)
    return folder


# What each input of the folder becomes: its status, and words its reason must hold.
EXPECTED = {
    "walk.mp4": ("done", None),
    "corrupt.mp4": ("failed", "damaged"),
    "empty.mp4": ("failed", "empty"),
    "notes.mp4": ("failed", "text file"),
    "readme.txt": ("skipped", "not a video or landmarks csv"),
}


@pytest.mark.video
def test_a_folder_of_good_and_bad_files_gives_one_table_and_results_on_stdout(tmp_path):
    """The shortest real clip beside a corrupt, an empty and a renamed text file: batch.csv
    has a row for each with the right status, results go to stdout and only progress,
    warnings and errors to stderr; a re-run with --json prints one JSON line per file."""
    from posecoach.outputs.batch_table import BatchRow, read_batch_csv

    whole = (VIDEO / "side_walk_1080p60.mp4").read_bytes()
    folder = _write_folder(tmp_path / "clips", {
        "walk.mp4": VIDEO / "side_walk_1080p60.mp4",
        # the start of an MP4 with its middle overwritten: a real header, damaged data
        "corrupt.mp4": whole[:64] + bytes(range(256)) * 200,
        "empty.mp4": b"",
        "notes.mp4": b"this is a text file, not a video\n" * 20,
        "readme.txt": b"clips of Tuesday's session\n",
    })
    out = folder / "out"  # inside the folder: a second run must not read it as input
    proc = posecoach("analyze", str(folder), "--out", str(out), "--jobs", "2")
    no_traceback(proc)
    assert proc.returncode == 1, "a failed file makes the exit code non-zero"

    rows = {Path(row.file).name: row for row in read_batch_csv(out / "batch.csv")}
    assert set(rows) == set(EXPECTED)
    for name, (status, words) in EXPECTED.items():
        assert rows[name].status == status, name
        if words is not None:
            assert words in (rows[name].reason or "").lower(), name
    summary = json.loads((out / "walk" / "summary.json").read_text())
    walk = rows["walk.mp4"]
    assert walk.reason is None and walk.report == "walk/report.html"
    assert (walk.duration_s, walk.steps, walk.direction, walk.view) == (
        summary["duration_s"], summary["steps"], summary["direction"], summary["view"])
    assert walk.trunk_lean_deg_median == summary["trunk_lean_deg_median"]
    for name in ("annotated.mp4", "landmarks.csv", "metrics.csv", "summary.json", "report.html"):
        assert (out / "walk" / name).stat().st_size > 0, name

    lines = proc.stdout.splitlines()
    by_file = {Path(line.split("\t")[1]).name: line.split("\t") for line in lines[:-1]}
    assert set(by_file) == set(EXPECTED) and len(lines) == len(EXPECTED) + 1
    for name, (status, _) in EXPECTED.items():
        assert by_file[name][0] == status, name
    assert f"steps={summary['steps']}" in by_file["walk.mp4"][2].split()
    assert by_file["walk.mp4"][3] == str(out / "walk" / "report.html")
    assert lines[-1] == f"table\t{out / 'batch.csv'}\t{out / 'index.html'}"
    assert "walk.mp4" not in proc.stderr and "batch.csv" not in proc.stderr
    assert not [line for line in proc.stderr.splitlines() if "\t" in line]
    for name in ("corrupt.mp4", "empty.mp4", "notes.mp4"):
        assert any(line.startswith("error:") and name in line
                   for line in proc.stderr.splitlines()), name

    # Again with --json, now without the video (its landmarks stand in: no pose model runs).
    again = _write_folder(tmp_path / "again", {
        "walk.landmarks.csv": out / "walk" / "landmarks.csv",
        "notes.mp4": b"this is a text file, not a video\n",
    })
    shutil.copytree(out, again / "out")
    proc = posecoach("analyze", str(again), "--out", str(again / "out"), "--json")
    no_traceback(proc)
    assert proc.returncode == 1
    parsed = [BatchRow.model_validate_json(line) for line in proc.stdout.splitlines()]
    assert [(Path(r.file).name, r.status) for r in parsed] == [
        ("notes.mp4", "failed"), ("walk.landmarks.csv", "done")]
    assert parsed[1].steps == summary["steps"] and parsed[1].direction == summary["direction"]
    assert read_batch_csv(again / "out" / "batch.csv") == parsed


@pytest.mark.video
def test_landmarks_csv_reanalysis_matches_the_video_analysis(analysed, tmp_path):
    """A coach can re-check exported landmarks under other thresholds without the video."""
    result = analysed(FIXTURES / "backward_walk_side_1080p60.mp4")
    csv_path = result.files["landmarks.csv"]
    proc = posecoach("analyze", str(csv_path), "--out", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    again = json.loads((tmp_path / "landmarks" / "summary.json").read_text())
    first = result.summary.to_json()
    for key in ("direction", "steps", "view", "frames", "frames_with_person"):
        assert again[key] == first[key], key
    for key in ("trunk_lean_deg_median", "head_angle_deg_median", "cadence_spm"):
        if first[key] is not None:
            assert again[key] == pytest.approx(first[key], abs=0.05), key
    stricter = posecoach("analyze", str(csv_path), "--out", str(tmp_path / "strict"),
                         "--level", "advanced")
    assert stricter.returncode == 0
    strict = json.loads((tmp_path / "strict" / "landmarks" / "summary.json").read_text())
    assert strict["thresholds"]["trunk_max_forward_lean_deg"] < again["thresholds"][
        "trunk_max_forward_lean_deg"]


@pytest.mark.usefixtures("shared_data")
def test_person_records_each_clip_in_the_library(tmp_path):
    """`--person` adds the clip as a session of that person; their height and last test
    carry over to the next analysis, and without --person no library is touched."""
    from posecoach.outputs.batch_table import BatchRow
    from posecoach.outputs.landmarks_csv import write_landmarks_csv
    from posecoach.server.storage import Storage
    from tests.conftest import MOCAP
    from tests.mocap.projection import load_trial, reference_values
    from tests.mocap.timed_walk import held_trial, project_held

    trial = MOCAP / "dataset-1_walk-back_active_001.bvh"
    height_cm = float(reference_values(load_trial(trial))["height_cm"])
    series, _ = project_held(held_trial(str(trial)), noise_px=1.0, seed=3)
    csv_path = write_landmarks_csv(tmp_path / "walk.csv", series)
    library = tmp_path / "library"
    run = ["analyze", str(csv_path), "--test", "3m-backward", "--data-dir", str(library)]

    first = posecoach(*run, "--out", str(tmp_path / "one"), "--person", "Ana Ruiz",
                      "--height-cm", f"{height_cm:.1f}", "--population", "parkinsons")
    assert first.returncode == 0, first.stderr
    no_traceback(first)
    assert "recorded as a session of Ana Ruiz" in first.stderr
    # Same person (any case), no height given: the person's height scales the test.
    second = posecoach(*run, "--out", str(tmp_path / "two"), "--person", "ana ruiz", "--json")
    assert second.returncode == 0, second.stderr
    row = BatchRow.model_validate_json(second.stdout)
    assert row.person == "Ana Ruiz", "the person as the library spells the name"

    storage = Storage(library / "posecoach.db", library)
    (person,) = storage.list_people()
    assert person.name == "Ana Ruiz" and person.height_cm == pytest.approx(height_cm, 0.01)
    assert person.population == "parkinsons" and person.sessions == 2
    older, newer = reversed(storage.list_sessions(person_id=person.id))
    for record in (older, newer):
        assert record.status == "done" and record.source_name == "walk.csv"
        for name in ("landmarks.csv", "summary.json", "report.html"):
            assert (record.out_dir / name).is_file(), name
    tests = storage.timed_tests(person.id)
    assert [t.session_id for t in tests] == [older.id, newer.id]
    assert all(t.timed and t.population == "parkinsons" for t in tests)
    again = json.loads((tmp_path / "two" / "walk" / "summary.json").read_text())["timed_test"]
    assert again["previous_time_s"] == pytest.approx(tests[0].time_s)
    assert row.test_time_s == pytest.approx(tests[1].time_s) and row.status == "done"
    assert newer.height_cm == pytest.approx(height_cm, 0.01)

    alone = posecoach("analyze", str(csv_path), "--out", str(tmp_path / "three"),
                      "--data-dir", str(tmp_path / "elsewhere"))
    assert alone.returncode == 2 and "--data-dir goes with --person" in alone.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_serve_refuses_a_bad_job_budget_in_plain_words() -> None:
    proc = posecoach("serve", "--job-budget-min", "0", timeout=120)
    assert proc.returncode != 0
    assert "--job-budget-min must be a positive number" in proc.stderr
    no_traceback(proc)
    proc = posecoach("serve", timeout=120, env={"POSECOACH_JOB_BUDGET_S_PER_FRAME": "fast"})
    assert proc.returncode != 0
    assert "POSECOACH_JOB_BUDGET_S_PER_FRAME must be a number" in proc.stderr
    no_traceback(proc)


@needs_shared_data
def test_job_budget_set_by_environment_and_option_stops_a_stuck_upload(tmp_path: Path) -> None:
    import threading

    from fastapi.testclient import TestClient

    from posecoach.server import create_app, limits_from_options
    from posecoach.server.context import ServerLimits
    from tests.server.conftest import FakeEngine, wait_job

    env = {"POSECOACH_JOB_BUDGET_MIN": "10", "POSECOACH_JOB_BUDGET_S_PER_FRAME": "0.5"}
    from_env = ServerLimits().with_env(env)
    assert (from_env.job_budget_min_s, from_env.job_budget_s_per_frame) == (600.0, 0.5)
    limits = limits_from_options(job_budget_min=0.01, job_budget_s_per_frame=0.001,
                                 base=from_env)
    assert (limits.job_budget_min_s, limits.job_budget_s_per_frame) == (0.6, 0.001)
    release = threading.Event()

    class Stuck(FakeEngine):
        def analyze_video(self, path, out_dir, settings, progress,  # type: ignore[no-untyped-def]
                          source_name=None):
            release.wait(120)
            return super().analyze_video(path, out_dir, settings, progress)

    app = create_app(tmp_path / "data", engine=Stuck(), limits=limits)
    clip = VIDEO / "side_walk_1080p60.mp4"
    try:
        with TestClient(app) as client, clip.open("rb") as fh:
            response = client.post("/api/uploads", files=[("files", (clip.name, fh, "video/mp4"))],
                                   headers={"origin": "http://testserver"})
            assert response.status_code == 202, response.text
            job = wait_job(client, response.json()["jobs"][0]["id"], timeout_s=60)
    finally:
        release.set()
    assert job["status"] == "failed"
    assert "time budget" in job["error"] and "Traceback" not in job["error"]

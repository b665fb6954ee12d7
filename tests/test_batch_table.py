"""batch.csv and index.html from real analyses (landmark CSVs projected from motion capture, so
no pose model runs) and from inputs that failed, with names that try to break the page."""

from __future__ import annotations

import csv
import html
import json
from pathlib import Path

import pytest

from posecoach.outputs.batch_table import (
    BATCH_CSV,
    BATCH_INDEX,
    COLUMNS,
    BatchRow,
    batch_index_html,
    read_batch_csv,
    report_link,
    write_batch_table,
)
from posecoach.outputs.landmarks_csv import write_landmarks_csv
from posecoach.outputs.summary import SessionSummary
from posecoach.pipeline.offline import analyze_landmarks_file
from posecoach.settings import Settings
from tests.conftest import MOCAP, needs_shared_data
from tests.mocap.projection import load_trial, project_trial

pytestmark = needs_shared_data

# A file name may hold markup (never a slash): it must show as text and run nothing.
HOSTILE = '<img src=x onerror=alert("x")><script>&"walk".mp4'


TRIALS = {"walk #1 100%": "dataset-1_walk-back_normal_001.bvh",
          "active": "dataset-1_walk-back_active_001.bvh"}


def table_rows(root: Path, settings: Settings) -> tuple[Path, list[BatchRow]]:
    """Real analyses of projected motion capture in `root`/out, then a failed input whose name
    is markup and a skipped one: the output folder and the rows of its table."""
    out = root / "out"
    rows = []
    for folder, trial in TRIALS.items():
        series, _ = project_trial(load_trial(MOCAP / trial), noise_px=2.0, far_visibility=0.6)
        csv_path = write_landmarks_csv(root / f"{folder}.csv", series)
        result = analyze_landmarks_file(csv_path, out / folder, settings)
        rows.append(BatchRow.analysed(str(csv_path), result.summary,
                                      report_link(out, out / folder), person="Ana"))
    rows.append(BatchRow(file=f"clips/{HOSTILE}", status="failed",
                         reason=f"{HOSTILE} is a text file, not a video file", person="Ana"))
    rows.append(BatchRow(file="clips/notes.txt", status="skipped",
                         reason="not a video or landmarks CSV file", person="Ana"))
    return out, rows


@pytest.fixture(scope="module")
def analysed_rows(tmp_path_factory, settings) -> tuple[Path, list[BatchRow]]:
    return table_rows(tmp_path_factory.mktemp("table"), settings)


def test_a_done_row_carries_the_summary_numbers(analysed_rows) -> None:
    out, rows = analysed_rows
    done = rows[0]
    summary = SessionSummary.from_json(
        json.loads((out / "walk #1 100%" / "summary.json").read_text()))
    assert done.status == "done" and done.reason is None
    assert done.direction == summary.direction == "backward"
    assert done.steps == summary.steps and done.steps >= 2
    assert done.cadence_spm == summary.cadence_spm
    assert done.trunk_lean_deg_median == summary.trunk_lean_deg_median
    assert done.head_angle_deg_median == summary.head_angle_deg_median
    assert done.report == "walk #1 100%/report.html"
    measures = done.measures()
    assert measures["steps"] == done.steps and "file" not in measures
    assert None not in measures.values()
    assert ("cadence_spm" in measures) is (done.cadence_spm is not None)


def test_csv_has_one_row_per_input_and_reads_back_the_same(analysed_rows) -> None:
    out, rows = analysed_rows
    table = write_batch_table(out, rows)

    assert table.csv == out / BATCH_CSV and table.index == out / BATCH_INDEX
    with table.csv.open(newline="", encoding="utf-8") as fh:
        lines = list(csv.reader(fh))
    assert tuple(lines[0]) == COLUMNS
    assert [line[COLUMNS.index("status")] for line in lines[1:]] == [
        "done", "done", "failed", "skipped"]
    assert lines[3][0] == f"clips/{HOSTILE}", "the csv module quotes the name whole"
    assert read_batch_csv(table.csv) == rows
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")], "no temporary file left"


def test_a_second_write_replaces_the_table_whole(analysed_rows) -> None:
    out, rows = analysed_rows
    write_batch_table(out, rows)
    write_batch_table(out, rows[:1])
    assert read_batch_csv(out / BATCH_CSV) == rows[:1]
    assert (out / BATCH_INDEX).read_text(encoding="utf-8").count("<tr>") == 2


@pytest.mark.parametrize(
    ("fragment", "present"),
    [
        ("<img src=x", False),                    # the file name is text, never markup
        ('<script>&"walk"', False),
        (html.escape(HOSTILE, quote=True), True),
        ('href="walk%20%231%20100%25/report.html"', True),   # a relative link, URL-quoted
        ('href="active/report.html"', True),
        ("http://", False), ("https://", False),  # nothing fetched
        ('data-type="number"', True),
        ('<span class="why">not a video or landmarks CSV file</span>', True),  # why, in words
        (">'-", False),                           # a negative number shows as a number
    ],
)
def test_index_page_escapes_names_and_links_each_report(analysed_rows, fragment, present) -> None:
    _, rows = analysed_rows
    page = batch_index_html(rows, title=f"posecoach: {HOSTILE}")
    assert (fragment in page) is present
    assert page.count("<script>") == 1, "only the page's own sorting script"


def test_index_page_leaves_out_the_person_column_when_no_row_has_one(analysed_rows) -> None:
    _, rows = analysed_rows
    with_person = batch_index_html(rows)
    without = batch_index_html([row.model_copy(update={"person": None}) for row in rows])
    assert 'th scope="col" class="person"' in with_person
    assert 'class="person"' not in without
    assert without.count("<tr>") == with_person.count("<tr>") == len(rows) + 1


@pytest.mark.parametrize("name", [
    "=HYPERLINK(\"http://x\",\"y\").mp4", "+1.mp4", "-walk.mp4", "@SUM(A1).mp4", "\tclip.mp4",
])
def test_a_name_a_spreadsheet_would_run_is_written_as_text_and_reads_back(tmp_path: Path,
                                                                          name: str) -> None:
    row = BatchRow(file=name, status="failed", reason="=cmd|' /C calc'!A0",
                   trunk_lean_deg_median=-3.5)
    table = write_batch_table(tmp_path, [row])
    with table.csv.open(newline="", encoding="utf-8") as fh:
        cells = list(csv.reader(fh))[1]
    assert cells[COLUMNS.index("file")] == "'" + name
    assert cells[COLUMNS.index("reason")].startswith("'=")
    assert cells[COLUMNS.index("trunk_lean_deg_median")] == "-3.5", "numbers stay numbers"
    assert read_batch_csv(table.csv) == [row]

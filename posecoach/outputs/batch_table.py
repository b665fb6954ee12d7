"""One table for a batch of clips: `batch.csv` and `index.html` in the output folder.

`BatchRow` is the one shape of a row: the CSV columns are its field names (units in the names),
the HTML headers its field titles, and `--json` prints it as one JSON line. Both files are
written to a temporary file and renamed, so a crash never leaves half a table. The page is
self-contained: inline CSS and a few lines of inline script to sort by a column, nothing
fetched, every value HTML-escaped.
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from posecoach.outputs.files import SessionFiles, atomic_write_text
from posecoach.outputs.summary import SessionSummary

BATCH_CSV = "batch.csv"
BATCH_INDEX = "index.html"

Status = Literal["done", "failed", "skipped"]


class BatchRow(BaseModel):
    """One input of a batch: what became of it and, when analysed, its summary's key numbers.

    None where a number could not be measured (or the file was not analysed). `report` is the
    clip's report.html relative to the batch's output folder.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str = Field(title="File")
    status: Status = Field(title="Status")
    person: str | None = Field(default=None, title="Person")
    duration_s: float | None = Field(default=None, title="Duration (s)")
    direction: str | None = Field(default=None, title="Direction")
    view: str | None = Field(default=None, title="View")
    setting: str | None = Field(default=None, title="Setting")
    steps: int | None = Field(default=None, title="Steps")
    cadence_spm: float | None = Field(default=None, title="Cadence (steps/min)")
    step_length_m: float | None = Field(default=None, title="Step length (m)")
    step_length_leg: float | None = Field(default=None, title="Step length (leg lengths)")
    step_time_s: float | None = Field(default=None, title="Step time (s)")
    speed_m_s: float | None = Field(default=None, title="Speed (m/s)")
    trunk_lean_deg_median: float | None = Field(default=None, title="Trunk lean, median (\u00b0)")
    head_angle_deg_median: float | None = Field(default=None, title="Head angle, median (\u00b0)")
    upright_share: float | None = Field(default=None, title="Upright share")
    head_up_share: float | None = Field(default=None, title="Head-up share")
    test_time_s: float | None = Field(default=None, title="3 m backward walk (s)")
    cues: int | None = Field(default=None, title="Cues")
    warnings: int | None = Field(default=None, title="Warnings")
    reason: str | None = Field(default=None, title="Why not analysed")
    report: str | None = Field(default=None, title="Report")

    @classmethod
    def analysed(cls, file: str, summary: SessionSummary, report: str | None,
                 person: str | None = None) -> BatchRow:
        """The row of an analysed input, from its summary."""
        test = summary.timed_test
        return cls(
            file=file, status="done", person=person,
            duration_s=summary.duration_s, direction=summary.direction, view=summary.view,
            setting=summary.setting, steps=summary.steps, cadence_spm=summary.cadence_spm,
            step_length_m=summary.step_length_m, step_length_leg=summary.step_length_leg,
            step_time_s=summary.step_time_s, speed_m_s=summary.speed_m_s,
            trunk_lean_deg_median=summary.trunk_lean_deg_median,
            head_angle_deg_median=summary.head_angle_deg_median,
            upright_share=summary.upright_share, head_up_share=summary.head_up_share,
            test_time_s=test.time_s if test is not None and test.timed else None,
            cues=len(summary.cues), warnings=len(summary.warnings), report=report,
        )

    def measures(self) -> dict[str, float | int | str]:
        """The summary's numbers and words this row holds (those measured), by column name."""
        skip = {"file", "status", "reason", "person", "report"}
        return {
            name: value for name, value in self.model_dump().items()
            if name not in skip and value is not None
        }


COLUMNS: tuple[str, ...] = tuple(BatchRow.model_fields)
"""The table's columns, in order: batch.csv's header."""

NUMERIC: frozenset[str] = frozenset(
    name for name, field in BatchRow.model_fields.items()
    if field.annotation in (float | None, int | None)
)


@dataclass(frozen=True)
class BatchTable:
    """Where a batch's table was written."""

    csv: Path
    index: Path


def report_link(out_root: Path, out_dir: Path) -> str | None:
    """`out_dir`'s report.html relative to `out_root` (POSIX separators), None if not there."""
    report = SessionFiles(out_dir).report
    if not report.is_file():
        return None
    try:
        return report.relative_to(out_root).as_posix()
    except ValueError:
        return report.as_posix()


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A text cell starting with one of these is a formula to a spreadsheet (a file named
`=HYPERLINK(...)` would run as one), so such cells are written behind a quote."""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return str(value)


def _uncell(text: str) -> str | None:
    """A cell as `_cell` wrote it, back to its value (the quote before a formula removed)."""
    if text == "":
        return None
    if text.startswith("'") and text[1:].startswith(_FORMULA_STARTS):
        return text[1:]
    return text


def batch_csv_text(rows: Sequence[BatchRow]) -> str:
    """batch.csv's content: a header of the column names, then one line per row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name in COLUMNS])
    return buf.getvalue()


def read_batch_csv(path: Path) -> list[BatchRow]:
    """The rows of a batch.csv written by `write_batch_table`."""
    with path.open(newline="", encoding="utf-8") as fh:
        return [
            BatchRow.model_validate({k: _uncell(v) for k, v in line.items()})
            for line in csv.DictReader(fh)
        ]


_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #F6F7F9; color: #1F2328;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1400px; margin: 0 auto; padding: 20px 16px 40px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; overflow-wrap: break-word; }
.meta { color: #57606A; margin: 0 0 12px; overflow-wrap: break-word; }
/* One card per file, as many side by side as fit; the column names above sort the cards. */
table, tbody, thead { display: block; }
table { font-size: 0.9rem; }
thead tr { display: flex; flex-wrap: wrap; gap: 6px; margin: 0 0 12px; }
thead th { display: block; padding: 0; }
thead th button { all: unset; cursor: pointer; font-weight: 600; display: inline-block;
  padding: 2px 10px; border: 1px solid #D0D7DE; border-radius: 999px; background: #FFFFFF; }
thead th button:focus-visible { outline: 2px solid #0072B2; }
thead th[aria-sort] button { background: #DDF4FF; border-color: #0969DA; }
thead th[aria-sort=ascending] button::after { content: " \\25B2"; }
thead th[aria-sort=descending] button::after { content: " \\25BC"; }
tbody { display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 19rem), 1fr)); }
tbody tr { display: block; background: #FFFFFF; border: 1px solid #D0D7DE; border-radius: 6px;
  padding: 8px 12px; }
td { display: flex; justify-content: space-between; align-items: baseline; gap: 12px;
  padding: 2px 0; border-bottom: 1px solid #EEF0F3; text-align: right; }
td::before { content: attr(data-label); color: #57606A; text-align: left; }
td:last-child { border-bottom: 0; }
td[data-value=""] { display: none; }
td.file { display: block; font-weight: 600; font-size: 1rem; text-align: left;
  overflow-wrap: break-word; padding-bottom: 4px; }
td.file::before { content: none; }
td.num { font-variant-numeric: tabular-nums; }
td.status { flex-wrap: wrap; }
td.status .why { display: block; flex-basis: 100%; font-size: 0.85rem; color: #6E3A00;
  text-align: left; overflow-wrap: break-word; }
.status-done { color: #1A7F37; font-weight: 600; }
.status-failed { color: #CF222E; font-weight: 600; }
.status-skipped { color: #57606A; font-weight: 600; }
a { color: #0550AE; }
@media (max-width: 600px) {
  main { padding: 12px 8px 32px; }
  h1 { font-size: 1.25rem; }
}
"""

# Sorts the rows by the clicked column: numbers as numbers, text by locale, blanks last.
_SCRIPT = """
document.querySelectorAll("thead th button").forEach(function (button) {
  button.addEventListener("click", function () {
    var th = button.parentElement, table = th.closest("table"), body = table.tBodies[0];
    var col = Array.prototype.indexOf.call(th.parentElement.children, th);
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var numeric = th.dataset.type === "number";
    table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].dataset.value, y = b.cells[col].dataset.value;
      if (x === "" || y === "") { return (x === "") - (y === ""); }
      var d = numeric ? Number(x) - Number(y) : x.localeCompare(y, undefined, {numeric: true});
      return asc ? d : -d;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _e(value: object) -> str:
    return html.escape(_cell(value), quote=True)


def _breakable(text: str) -> str:
    """Escaped `text` with a line-break chance (<wbr>) after each "_", ".", "-" and "/", so a
    long file name wraps between its parts, never inside a word."""
    return re.sub(r"(?<=[_./-])", "<wbr>", text)


def _shown(name: str, value: object) -> str:
    """A value as the page shows it (text, not a spreadsheet cell: no formula guard)."""
    if isinstance(value, float):
        digits = 1 if name in ("cadence_spm", "duration_s") else 2
        return f"{value:.{digits}f}"
    return "" if value is None else str(value)


def _page_columns(rows: Sequence[BatchRow]) -> tuple[str, ...]:
    """The page's columns: the table's, less the reason (shown under the status) and the
    person when no row has one."""
    hidden = {"reason"} | ({"person"} if all(row.person is None for row in rows) else set())
    return tuple(name for name in COLUMNS if name not in hidden)


def _row_html(row: BatchRow, columns: Sequence[str]) -> str:
    cells = []
    for name in columns:
        value = getattr(row, name)
        kind = f"{name} num" if name in NUMERIC else name
        if name == "report":
            inner = (f'<a href="{_e(quote(value))}">report</a>' if value else "")
        elif name == "file":
            label = _breakable(_e(Path(value).name or value))
            inner = f'<a href="{_e(quote(row.report))}">{label}</a>' if row.report else label
        elif name == "status":
            inner = f'<span class="status-{_e(value)}">{_e(value)}</span>'
            if row.reason:
                inner += f'<span class="why">{_e(row.reason)}</span>'
        else:
            inner = html.escape(_shown(name, value), quote=True)
        title = f' title="{_e(value)}"' if name == "file" else ""
        label_attr = _e(BatchRow.model_fields[name].title)
        cells.append(f'<td class="{kind}" data-label="{label_attr}" data-value="{_e(value)}"'
                     f'{title}>{inner}</td>')
    return "<tr>" + "".join(cells) + "</tr>"


def batch_index_html(rows: Sequence[BatchRow], title: str = "posecoach batch") -> str:
    """index.html's content: the rows as a table sortable by any column."""
    columns = _page_columns(rows)
    heads = []
    for name in columns:
        kind = "number" if name in NUMERIC else "text"
        heads.append(
            f'<th scope="col" class="{name}" data-type="{kind}" title="{name}">'
            f'<button type="button">{_e(BatchRow.model_fields[name].title)}</button></th>'
        )
    done = sum(row.status == "done" for row in rows)
    failed = sum(row.status == "failed" for row in rows)
    skipped = sum(row.status == "skipped" for row in rows)
    body = "\n".join(_row_html(row, columns) for row in rows)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<h1>{_e(title)}</h1>
<p class="meta">{len(rows)} files: {done} done, {failed} failed, {skipped} skipped. Click a
column's name to sort by it; a file's name opens its report.</p>
<div class="box" tabindex="0" role="region" aria-label="results">
<table>
<thead><tr>{"".join(heads)}</tr></thead>
<tbody>
{body}
</tbody>
</table>
</div>
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def write_batch_table(out_root: Path, rows: Sequence[BatchRow],
                      title: str = "posecoach batch") -> BatchTable:
    """Write batch.csv and index.html into `out_root`, each replaced whole (temp + rename)."""
    csv_path = atomic_write_text(out_root / BATCH_CSV, batch_csv_text(rows))
    index = atomic_write_text(out_root / BATCH_INDEX, batch_index_html(rows, title))
    return BatchTable(csv_path, index)

"""The `posecoach` command line: analyse clips, serve the web UI, build the pose model.

Results (one line per file, `--json` lines, the table's location) and `--version` go to stdout;
progress, warnings and errors go to stderr, so `posecoach analyze clips > results.txt` keeps
the results. On a terminal rich wraps messages to its width; on a pipe or in a log nothing is
hard-wrapped, so every message stays on one line whatever the terminal width or the length of
a path.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from posecoach.errors import PosecoachError, user_message
from posecoach.settings import LEVELS, Settings, load_settings

if TYPE_CHECKING:
    from posecoach.outputs.batch_table import BatchRow, BatchTable
    from posecoach.outputs.summary import SessionSummary
    from posecoach.pipeline.batch import FileOutcome
    from posecoach.server.lock import LibraryLock
    from posecoach.server.storage import Person, Storage

DEFAULT_DATA_DIR = Path("posecoach-data")
LIBRARY_IN_USE_EXIT = 3
"""The exit code when another program holds the library (`posecoach serve` or `--person`)."""
PERSON_LOCK_WAIT_S = 5.0
"""How long `analyze --person` waits for a library another program is writing."""


def make_console(stderr: bool = False) -> Console:
    """A console that wraps to a terminal's width, and never hard-wraps on a pipe or in a log."""
    console = Console(stderr=stderr, emoji=False)
    console.soft_wrap = not console.is_terminal
    return console


console = make_console(stderr=True)
results = make_console()
"""Results go to stdout (`results`); progress, warnings and errors to stderr (`console`)."""
_on_terminal = console.is_terminal and make_console().is_terminal

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # rich's boxed usage errors and help are drawn to a fixed width: only on a terminal.
    rich_markup_mode="rich" if _on_terminal else None,
    help="posecoach: camera coaching for backward walking.",
)


def _error(message: str) -> None:
    console.print(f"[red]error:[/red] {escape(message)}")


def _fail(exc: BaseException, code: int = 2) -> typer.Exit:
    """Print `exc` as one plain line; the caller raises the returned exit."""
    _error(user_message(exc))
    return typer.Exit(code)


def _show_version(value: bool) -> None:
    if value:
        from posecoach import __version__

        print(f"posecoach {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """posecoach: camera coaching for backward walking."""


def _settings(config: Path | None, level: str | None, height_cm: float | None,
              model: str | None = None, extra: dict[str, Any] | None = None) -> Settings:
    overrides: dict[str, Any] = {"pose": {"model": model}} if model else {}
    overrides.update(extra or {})
    try:
        return load_settings(config, level, height_cm, overrides)
    except PosecoachError as exc:
        raise _fail(exc) from None


TESTS = ("3m-backward",)
WALK_SETTINGS = ("auto", "overground", "treadmill")


def _timed_test_overrides(test: str | None, floor_marks: str | None, population: str | None,
                          previous_time_s: float | None) -> dict[str, Any]:
    """The [timed_test] settings the analyze options ask for; exits on a bad option."""
    from posecoach.coach.timed_test import POPULATIONS, FloorMarks

    if test is None:
        if floor_marks is not None or population or previous_time_s is not None:
            _error("--floor-marks, --population and --previous-time-s go with --test 3m-backward")
            raise typer.Exit(2)
        return {}
    if test not in TESTS:
        _error(f"unknown test {test!r}: choose {', '.join(TESTS)}")
        raise typer.Exit(2)
    section: dict[str, Any] = {"run": True}
    if floor_marks is not None:
        try:
            marks = FloorMarks.parse(floor_marks)
        except PosecoachError as exc:
            raise _fail(exc) from None
        section["floor_marks_px"] = [*marks.start[0], *marks.start[1], *marks.end[0],
                                     *marks.end[1]]
    if population is not None:
        if population not in POPULATIONS:
            _error(f"unknown population {population!r}: choose {', '.join(POPULATIONS)}")
            raise typer.Exit(2)
        section["population"] = population
    if previous_time_s is not None:
        section["previous_time_s"] = previous_time_s
    return {"timed_test": section}


class _Library:
    """The library `analyze --person` records into: its storage and the person."""

    def __init__(self, storage: Storage, person: Person, data_dir: Path,
                 lock: LibraryLock) -> None:
        self.storage = storage
        self.person = person
        self.data_dir = data_dir
        self.lock = lock

    def last_test_time_s(self) -> float | None:
        """The person's latest timed 3-metre backward walk, for the change since then."""
        timed = [t.time_s for t in self.storage.timed_tests(self.person.id) if t.timed]
        return timed[-1] if timed else None

    def record(self, outcome: FileOutcome, settings: Settings) -> None:
        """Add an analysed clip as a finished session of the person, with its outputs."""
        from posecoach.outputs.files import SessionFiles

        summary = outcome.summary
        if summary is None:
            return
        try:
            session = self.storage.create_session(
                "upload", settings.level, settings.height_cm, Path(outcome.path).name,
                "analysing", person_id=self.person.id, settings=settings,
            )
            shutil.copytree(outcome.out_dir, session.out_dir, dirs_exist_ok=True,
                            copy_function=_link_or_copy)
            landmarks = SessionFiles(session.out_dir).landmarks
            if Path(outcome.path).suffix.lower() == ".csv" and not landmarks.exists():
                # An analysed landmarks CSV is not written again: the session keeps it.
                shutil.copy2(outcome.path, landmarks)
            self.storage.update_session(session.id, status="done", summary=summary,
                                        duration_s=summary.duration_s)
        except (PosecoachError, OSError) as exc:
            console.print(f"  [yellow]warning:[/yellow] not recorded in the library: "
                          f"{escape(user_message(exc))}")
            return
        console.print(f"  recorded as a session of {escape(self.person.name)} in "
                      f"{escape(str(self.data_dir))}")


def _link_or_copy(src: str, dest: str) -> None:
    """A hard link where the disk allows it (outputs are replaced, never rewritten in place),
    else a copy."""
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)


def _open_library(name: str, data_dir: Path, height_cm: float | None, level: str | None,
                  population: str | None) -> _Library:
    """The library at `data_dir`, locked for this command (as a server locks it), and the
    person called `name`, added when new; exits with a plain message when it cannot be used
    (another program holding it for longer than `PERSON_LOCK_WAIT_S` is named)."""
    from posecoach.server.lock import LibraryInUse, lock_library
    from posecoach.server.storage import Storage

    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        _error("--person is not valid text: the name reached posecoach as bytes that are not "
               "UTF-8 (set your terminal to UTF-8, or type the name again)")
        raise typer.Exit(2) from None
    try:
        lock = lock_library(data_dir, "posecoach analyze --person", PERSON_LOCK_WAIT_S)
    except LibraryInUse as exc:
        raise _fail(exc, LIBRARY_IN_USE_EXIT) from None
    except PosecoachError as exc:
        raise _fail(exc) from None
    try:
        storage = Storage(data_dir / "posecoach.db", data_dir)
        person = storage.find_person(name)
        if person is None:
            person = storage.create_person(name, height_cm, level, population=population)
            console.print(f"added {escape(person.name)} to the library in "
                          f"{escape(str(data_dir))}")
    except (PosecoachError, OSError) as exc:
        lock.release()
        raise _fail(exc) from None
    return _Library(storage, person, data_dir, lock)


def _print_timed_test(summary: SessionSummary, out: Console | None = None) -> None:
    """The 3-metre backward walk's time and what it means, on `out` (stdout by default)."""
    out = out or results
    result = summary.timed_test
    if result is None:
        return
    if result.timed:
        out.print(f"  3-metre backward walk: {result.time_s:.2f} s "
                  f"(\u00b1 {result.uncertainty_s or 0:.2f} s)")
        for item in result.interpretation:
            out.print(f"    {escape(item.text)}")
    else:
        out.print(f"  3-metre backward walk: {escape(result.reason or 'not timed')}")


def _print_summary(summary: SessionSummary, out: Console | None = None) -> None:
    """The summary in sentences, on `out` (stdout by default)."""
    from posecoach.outputs.words import summary_in_words

    out = out or results
    for sentence in summary_in_words(summary):
        out.print(f"  {escape(sentence)}")


def _result_line(row: BatchRow, out_root: Path) -> str:
    """One input's result as one tab-separated line: status, file, then its key numbers and
    report (or why it failed or was skipped)."""
    from posecoach.media.probe import shown_text

    fields = [row.status, row.file]
    if row.status == "done":
        fields.append(" ".join(f"{name}={value}" for name, value in row.measures().items()))
        if row.report:
            fields.append(shown_text(str(out_root / row.report)))
    elif row.reason:
        fields.append(row.reason)
    return "\t".join(field.replace("\t", " ").replace("\n", " ") for field in fields)


def _print_row(row: BatchRow, out_root: Path, as_json: bool) -> None:
    """A result on stdout: the row as one JSON line, or as one line of text."""
    print(row.model_dump_json() if as_json else _result_line(row, out_root), flush=True)


def _write_table(out_root: Path, rows: list[BatchRow], paths: list[Path]) -> BatchTable | None:
    """batch.csv and index.html in `out_root`; None (after saying why) when they cannot be
    written."""
    from posecoach.media.probe import file_label
    from posecoach.outputs.batch_table import write_batch_table

    names = [file_label(p) for p in paths]
    title = "posecoach: " + ", ".join(names[:3]) + (f" and {len(names) - 3} more"
                                                    if len(names) > 3 else "")
    try:
        return write_batch_table(out_root, rows, title)
    except PosecoachError as exc:
        _error(f"the table of results was not written: {user_message(exc)}")
        return None


@app.command()
def analyze(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Videos, landmark CSV files, or folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (one sub-folder per input).")] = Path("out"),
    level: Annotated[str | None, typer.Option(help=f"Rule preset: {', '.join(LEVELS)}.")] = None,
    height_cm: Annotated[float | None, typer.Option("--height-cm", help="Walker's height, for lengths in metres.")] = None,
    config: Annotated[Path | None, typer.Option(help="A TOML configuration file.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Files analysed in parallel.")] = 1,
    model: Annotated[str | None, typer.Option(help="Pose model: a .task file or a name in models/ (lite, full, heavy) with --pose-backend mediapipe.")] = None,
    pose_backend: Annotated[str | None, typer.Option("--pose-backend", help="Pose runtime: auto (default: the faster of litert and openvino here, see `posecoach doctor`), litert, openvino, or mediapipe (pip install 'posecoach[mediapipe]').")] = None,
    backend: Annotated[str, typer.Option(help="Batch backend: local, or dask (local cluster).")] = "local",
    dask_address: Annotated[str | None, typer.Option(help="Dask scheduler address for --backend dask.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print each file's result (a row of batch.csv) as one JSON line on stdout.")] = False,
    test: Annotated[str | None, typer.Option("--test", help="Time a clinical test: 3m-backward (the 3-metre backward walk test).")] = None,
    floor_marks: Annotated[str | None, typer.Option("--floor-marks", help="Two floor lines 3 m apart, two points each, in pixels: x1,y1,x2,y2,x3,y3,x4,y4.")] = None,
    population: Annotated[str | None, typer.Option(help="Cut-offs for --test: community, nursing_home, parkinsons, stroke, ms.")] = None,
    previous_time_s: Annotated[float | None, typer.Option("--previous-time-s", help="The last test's time, for the change since then.")] = None,
    setting: Annotated[str | None, typer.Option("--setting", help="Where the walk is: auto (measured), overground, or treadmill (also walking in place).")] = None,
    person: Annotated[str | None, typer.Option("--person", help="Also record each analysed clip as a session of this person (a name or code) in the library at --data-dir; a new name adds the person. Their height, level and population are the defaults.")] = None,
    data_dir: Annotated[Path | None, typer.Option("--data-dir", help="The library --person records into (default posecoach-data, as serve uses).")] = None,
) -> None:
    """Analyse backward-walking videos (or exported landmark CSVs) and write reports."""
    from posecoach.media.probe import file_label, shown_text
    from posecoach.pipeline.batch import (
        DaskRunner,
        LocalRunner,
        analyze_one,
        batch_rows,
        collect_inputs,
        is_folder,
        output_folders,
        skipped_inputs,
    )

    extra = _timed_test_overrides(test, floor_marks, population, previous_time_s)
    library = None
    if person is None and data_dir is not None:
        _error("--data-dir goes with --person")
        raise typer.Exit(2)
    if person is not None:
        library = _open_library(person, data_dir or DEFAULT_DATA_DIR, height_cm, level,
                                population)
        ctx.call_on_close(library.lock.release)
        height_cm = height_cm if height_cm is not None else library.person.height_cm
        level = level or library.person.level
        if "timed_test" in extra:
            section = extra["timed_test"]
            if library.person.population and population is None:
                section["population"] = library.person.population
            last_s = library.last_test_time_s()
            if last_s is not None and previous_time_s is None:
                section["previous_time_s"] = last_s
    if setting is not None:
        if setting not in WALK_SETTINGS:
            _error(f"unknown setting {setting!r}: choose {', '.join(WALK_SETTINGS)}")
            raise typer.Exit(2)
        extra["walk_setting"] = {"setting": setting}
    if pose_backend is not None:
        extra["pose"] = {"backend": pose_backend, **({"model": model} if model else {})}
    settings = _settings(config, level, height_cm, model, extra)
    files, problems = collect_inputs(paths, out)
    for problem in problems:
        _error(str(problem))
    folders = output_folders(files, out)
    jobs_list = [(str(p), str(folder)) for p, folder in zip(files, folders, strict=True)]
    as_table = len(paths) > 1 or any(is_folder(p) for p in paths)
    walker = library.person.name if library is not None else None  # as the library spells it
    outcomes: list[FileOutcome] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=True,
                      disable=not console.is_terminal) as bar:
            if len(jobs_list) == 1:
                path, out_dir = jobs_list[0]
                task = bar.add_task(f"analysing {escape(file_label(path))}", total=None)

                def progress(done: int, total: int | None) -> None:
                    bar.update(task, completed=done, total=total)

                outcomes.append(analyze_one(path, out_dir, settings, progress))
            elif jobs_list:
                runner = (DaskRunner(dask_address, workers=jobs) if backend == "dask"
                          else LocalRunner(jobs))
                task = bar.add_task("analysing files", total=len(jobs_list))
                for outcome in runner.run(jobs_list, settings):
                    outcomes.append(outcome)
                    bar.advance(task)
    except KeyboardInterrupt:
        if as_table:  # the files finished so far keep their rows; the others are "skipped"
            _write_table(out, batch_rows(jobs_list, outcomes, out, problems, (), walker), paths)
        raise
    rows = batch_rows(jobs_list, outcomes, out, problems,
                      skipped_inputs(paths, out) if as_table else (), walker)
    by_path = {outcome.path: outcome for outcome in outcomes}
    for (path, _), row in zip(jobs_list, rows, strict=False):
        outcome = by_path[path]
        if not outcome.ok:
            reason = outcome.error or "not analysed"
            name = file_label(path)
            _error(reason if name in reason else f"{name}: {reason}")
        for warning in outcome.warnings:
            console.print(f"[yellow]warning:[/yellow] {escape(f'{file_label(path)}: {warning}')}")
        _print_row(row, out, json_output)
        if outcome.summary is not None and not as_table and not json_output:
            _print_summary(outcome.summary)
            _print_timed_test(outcome.summary)
        if library is not None and outcome.ok:
            library.record(outcome, settings)
    for row in rows[len(jobs_list):]:
        _print_row(row, out, json_output)
    failed = sum(row.status == "failed" for row in rows)
    table_lost = False
    if as_table and rows:
        table = _write_table(out, rows, paths)
        if table is None:
            table_lost = True
        elif json_output:
            console.print(f"table: {escape(shown_text(str(table.csv)))}, "
                          f"{escape(shown_text(str(table.index)))}")
        else:
            print(f"table\t{shown_text(str(table.csv))}\t{shown_text(str(table.index))}")
    if len(outcomes) > 1 or failed:
        done = sum(row.status == "done" for row in rows)
        console.print(f"{done} analysed, {failed} failed")
    if failed or table_lost:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default 127.0.0.1; with --lan, every interface).")] = None,
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    source: Annotated[str | None, typer.Option(help="Server-side camera: index, file, or rtsp:// URL.")] = None,
    data_dir: Annotated[Path, typer.Option(help="Where sessions and the database live.")] = Path("posecoach-data"),
    config: Annotated[Path | None, typer.Option(help="A TOML configuration file.")] = None,
    token: Annotated[str | None, typer.Option(envvar="POSECOACH_TOKEN", help="Access token (required off loopback).")] = None,
    sample: Annotated[Path | None, typer.Option(help="A clip to analyse into the library first, when the library is empty.")] = None,
    max_upload_mb: Annotated[float | None, typer.Option(help="Largest uploaded file in MB (default 4000; env POSECOACH_MAX_UPLOAD_MB).")] = None,
    max_duration_min: Annotated[float | None, typer.Option(help="Longest uploaded clip in minutes (default 120; env POSECOACH_MAX_DURATION_MIN).")] = None,
    job_budget_min: Annotated[float | None, typer.Option(help="Least time an upload's analysis may take before it is stopped, in minutes (default 5; env POSECOACH_JOB_BUDGET_MIN).")] = None,
    job_budget_s_per_frame: Annotated[float | None, typer.Option(help="Seconds an upload's analysis may take per frame when longer than --job-budget-min (default 1; env POSECOACH_JOB_BUDGET_S_PER_FRAME).")] = None,
    lan: Annotated[bool, typer.Option("--lan", help="Let a phone on your network be the camera: HTTPS, a token, and a QR code to scan.")] = False,
    cert: Annotated[Path | None, typer.Option(help="With --lan: your own HTTPS certificate (PEM) instead of posecoach's.")] = None,
    key: Annotated[Path | None, typer.Option(help="With --lan: the private key (PEM) of --cert.")] = None,
    new_cert: Annotated[bool, typer.Option("--new-cert", help="With --lan: make a new certificate (phones warn once more).")] = False,
) -> None:
    """Start the local web UI for live coaching, uploads, review and progress."""
    from posecoach.server import SERVE_WHAT, is_loopback, limits_from_options, run_server
    from posecoach.server.auth import check_token_strength
    from posecoach.server.lock import LibraryInUse, lock_library

    settings = _settings(config, None, None)
    host = host or ("0.0.0.0" if lan else "127.0.0.1")
    if not lan and (cert is not None or key is not None or new_cert):
        _error("--cert, --key and --new-cert go with --lan")
        raise typer.Exit(2)
    if not lan and not is_loopback(host) and token is None:
        _error(f"listening on {host} exposes the camera and your sessions to the network: "
               "pass --token SECRET (or set POSECOACH_TOKEN)")
        raise typer.Exit(2)
    try:
        if token is not None:
            check_token_strength(token)
        limits = limits_from_options(max_upload_mb, max_duration_min,
                                     job_budget_min=job_budget_min,
                                     job_budget_s_per_frame=job_budget_s_per_frame)
    except ValueError as exc:
        raise _fail(exc) from None
    try:
        lock = lock_library(data_dir, SERVE_WHAT)
    except LibraryInUse as exc:
        raise _fail(exc, LIBRARY_IN_USE_EXIT) from None
    except PosecoachError as exc:
        raise _fail(exc) from None
    if sample is not None:
        _seed_library(data_dir, sample, settings)
    try:
        run_server(host=host, port=port, source=source, data_dir=data_dir, config=config,
                   token=token, limits=limits, lan=lan, cert=cert, key=key, new_cert=new_cert,
                   library_lock=lock)
    except (PosecoachError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    finally:
        lock.release()


def _seed_library(data_dir: Path, clip: Path, settings: Settings) -> None:
    """Analyse `clip` into an empty library so the UI opens on a real, reviewed session."""
    from posecoach.pipeline.offline import analyze_video
    from posecoach.server.storage import Storage

    storage = Storage(data_dir / "posecoach.db", data_dir)
    if storage.list_sessions():
        return
    session = storage.create_session("upload", settings.level, settings.height_cm, clip.name,
                                     "analysing", settings=settings)
    console.print(f"analysing the sample clip {escape(clip.name)} into the library...")
    try:
        result = analyze_video(clip, session.out_dir, settings)
    except (PosecoachError, OSError) as exc:
        message = user_message(exc)
        storage.update_session(session.id, status="failed", error=message)
        warning = escape(f"could not analyse {clip.name}: {message}")
        console.print(f"[yellow]warning:[/yellow] {warning}")
        return
    storage.update_session(session.id, status="done", summary=result.summary,
                           duration_s=result.summary.duration_s)
    _print_summary(result.summary, console)


@app.command("build-model")
def build_model(
    dest: Annotated[Path | None, typer.Argument(help="A folder for the LiteRT models, or a .task file for the mediapipe bundle (default: both, into the models folder).")] = None,
) -> None:
    """Build the offline pose models from the mediapipe 0.10.21 wheel (installed, or fetched with pip)."""
    from posecoach.pose.model import build_bundle, build_litert_models, mediapipe_installed

    try:
        written: list[Path] = []
        if dest is None or dest.suffix != ".task":
            written.extend(build_litert_models(dest))
        if (dest is None and mediapipe_installed()) or (dest is not None and dest.suffix == ".task"):
            written.append(build_bundle(dest))
    except (PosecoachError, OSError) as exc:
        raise _fail(exc, 1) from None
    for path in written:
        console.print(f"pose model written to {escape(str(path))}")


@app.command()
def doctor(
    config: Annotated[Path | None, typer.Option(help="A TOML configuration file.")] = None,
    recalibrate: Annotated[bool, typer.Option("--recalibrate", help="Time the pose runtimes again.")] = False,
) -> None:
    """Which pose backend, precision and threads this machine uses, and why; the CPU and its AMX."""
    from posecoach.pose.calibration import doctor_lines

    try:
        lines = doctor_lines(_settings(config, None, None), again=recalibrate)
    except PosecoachError as exc:
        raise _fail(exc, 1) from None
    out = make_console()
    for line in lines:
        out.print(escape(line))


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()

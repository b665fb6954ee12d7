"""The `posecoach` command line: analyse clips, serve the web UI, build the pose model.

Messages go to stderr; `--json` summaries and `--version` go to stdout. On a terminal rich wraps
messages to its width; on a pipe or in a log nothing is hard-wrapped, so every message stays on
one line whatever the terminal width or the length of a path.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from posecoach.errors import PosecoachError, user_message
from posecoach.settings import LEVELS, Settings, load_settings

if TYPE_CHECKING:
    from posecoach.outputs.summary import SessionSummary


def make_console(stderr: bool = False) -> Console:
    """A console that wraps to a terminal's width, and never hard-wraps on a pipe or in a log."""
    console = Console(stderr=stderr, emoji=False)
    console.soft_wrap = not console.is_terminal
    return console


console = make_console(stderr=True)
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
              model: str | None = None) -> Settings:
    overrides = {"pose": {"model": model}} if model else None
    try:
        return load_settings(config, level, height_cm, overrides)
    except PosecoachError as exc:
        raise _fail(exc) from None


def _print_summary(summary: SessionSummary) -> None:
    from posecoach.outputs.words import summary_in_words

    for sentence in summary_in_words(summary):
        console.print(f"  {escape(sentence)}")


@app.command()
def analyze(
    paths: Annotated[list[Path], typer.Argument(help="Videos, landmark CSV files, or folders.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (one sub-folder per input).")] = Path("out"),
    level: Annotated[str | None, typer.Option(help=f"Rule preset: {', '.join(LEVELS)}.")] = None,
    height_cm: Annotated[float | None, typer.Option("--height-cm", help="Walker's height, for lengths in metres.")] = None,
    config: Annotated[Path | None, typer.Option(help="A TOML configuration file.")] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Files analysed in parallel.")] = 1,
    model: Annotated[str | None, typer.Option(help="Pose model: a .task file or a name in models/ (lite, full, heavy).")] = None,
    backend: Annotated[str, typer.Option(help="Batch backend: local, or dask (local cluster).")] = "local",
    dask_address: Annotated[str | None, typer.Option(help="Dask scheduler address for --backend dask.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print each summary as JSON.")] = False,
) -> None:
    """Analyse backward-walking videos (or exported landmark CSVs) and write reports."""
    from posecoach.pipeline.batch import (
        DaskRunner,
        LocalRunner,
        analyze_one,
        collect_inputs,
        output_folder,
    )

    settings = _settings(config, level, height_cm, model)
    files, problems = collect_inputs(paths)
    for problem in problems:
        _error(problem)
    jobs_list = [(str(p), str(output_folder(p, out))) for p in files]
    names = [Path(p).name for p, _ in jobs_list]
    if len(set(names)) != len(names):
        jobs_list = [
            (str(p), str(out / f"{i:03d}-{output_folder(p, out).name}"))
            for i, p in enumerate(files)
        ]
    failed = len(problems)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as bar:
        if len(jobs_list) == 1:
            path, out_dir = jobs_list[0]
            task = bar.add_task(f"analysing {Path(path).name}", total=None)

            def progress(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            outcomes = [analyze_one(path, out_dir, settings, progress)]
        else:
            runner = (DaskRunner(dask_address, workers=jobs) if backend == "dask"
                      else LocalRunner(jobs))
            task = bar.add_task("analysing files", total=len(jobs_list))
            outcomes = []
            for outcome in runner.run(jobs_list, settings):
                outcomes.append(outcome)
                bar.advance(task)
    for outcome in outcomes:
        name = Path(outcome.path).name
        if not outcome.ok:
            failed += 1
            console.print(f"[red]failed:[/red] {escape(f'{name}: {outcome.error}')}")
            continue
        console.print(f"[green]done:[/green] {escape(f'{name} -> {outcome.out_dir}')}")
        for warning in outcome.warnings:
            console.print(f"  [yellow]warning:[/yellow] {escape(warning)}")
        if json_output:
            summary = outcome.summary.to_json() if outcome.summary is not None else None
            print(json.dumps(summary, indent=2))
        elif outcome.summary is not None:
            _print_summary(outcome.summary)
    if len(outcomes) > 1 or failed:
        console.print(f"{len(outcomes) - (failed - len(problems))} analysed, {failed} failed")
    if failed:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    source: Annotated[str | None, typer.Option(help="Server-side camera: index, file, or rtsp:// URL.")] = None,
    data_dir: Annotated[Path, typer.Option(help="Where sessions and the database live.")] = Path("posecoach-data"),
    config: Annotated[Path | None, typer.Option(help="A TOML configuration file.")] = None,
    token: Annotated[str | None, typer.Option(envvar="POSECOACH_TOKEN", help="Access token (required off loopback).")] = None,
    sample: Annotated[Path | None, typer.Option(help="A clip to analyse into the library first, when the library is empty.")] = None,
    max_upload_mb: Annotated[float | None, typer.Option(help="Largest uploaded file in MB (default 4000; env POSECOACH_MAX_UPLOAD_MB).")] = None,
    max_duration_min: Annotated[float | None, typer.Option(help="Longest uploaded clip in minutes (default 120; env POSECOACH_MAX_DURATION_MIN).")] = None,
) -> None:
    """Start the local web UI for live coaching, uploads, review and progress."""
    from posecoach.server import is_loopback, limits_from_options, run_server

    settings = _settings(config, None, None)
    if not is_loopback(host) and token is None:
        _error(f"listening on {host} exposes the camera and your sessions to the network: "
               "pass --token SECRET (or set POSECOACH_TOKEN)")
        raise typer.Exit(2)
    try:
        limits = limits_from_options(max_upload_mb, max_duration_min)
    except ValueError as exc:
        raise _fail(exc) from None
    if sample is not None:
        _seed_library(data_dir, sample, settings)
    try:
        run_server(host=host, port=port, source=source, data_dir=data_dir, config=config,
                   token=token, limits=limits)
    except (ValueError, OSError) as exc:
        raise _fail(exc) from None


def _seed_library(data_dir: Path, clip: Path, settings: Settings) -> None:
    """Analyse `clip` into an empty library so the UI opens on a real, reviewed session."""
    from posecoach.pipeline.offline import analyze_video
    from posecoach.server.storage import Storage

    storage = Storage(data_dir / "posecoach.db", data_dir)
    if storage.list_sessions():
        return
    session = storage.create_session("upload", settings.level, settings.height_cm, clip.name,
                                     "analysing")
    console.print(f"analysing the sample clip {escape(clip.name)} into the library...")
    try:
        result = analyze_video(clip, Path(session["out_dir"]), settings)
    except (PosecoachError, OSError) as exc:
        message = user_message(exc)
        storage.update_session(session["id"], status="failed", error=message)
        warning = escape(f"could not analyse {clip.name}: {message}")
        console.print(f"[yellow]warning:[/yellow] {warning}")
        return
    storage.update_session(session["id"], status="done", summary=result.summary,
                           duration_s=result.summary.duration_s)
    _print_summary(result.summary)


@app.command("build-model")
def build_model(
    dest: Annotated[Path | None, typer.Argument(help="Where to write the bundle.")] = None,
) -> None:
    """Build the offline pose model bundle from the mediapipe wheel."""
    from posecoach.pose.model import build_bundle

    try:
        path = build_bundle(dest)
    except (PosecoachError, OSError) as exc:
        raise _fail(exc, 1) from None
    console.print(f"pose model bundle written to {escape(str(path))}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        sys.exit(130)


if __name__ == "__main__":
    main()

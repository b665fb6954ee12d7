"""Crash recovery and re-checks of finished sessions' files.

At start-up, sessions a stop left 'recording' or 'analysing' are settled: an upload is
analysed again from its kept clip, a live session is rebuilt from the landmarks it recorded,
and a clip whose drawing was deferred is finished from the frames waiting beside it
(`frames-waiting.mjpeg`). Finished sessions are checked for files deleted or damaged while the
server was stopped. Whatever cannot be completed is recorded as missing, neither listed nor
served, and said in the session's warnings.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from posecoach.errors import OutputError
from posecoach.outputs.files import SessionFiles
from posecoach.outputs.summary import SessionSummary
from posecoach.server.storage.db import Stamps, has_table, stamps_of
from posecoach.server.storage.records import UNFINISHED, SessionRecord
from posecoach.server.storage.sessions import Sessions
from posecoach.settings import Settings

RecoverFn = Callable[[SessionRecord], "SessionSummary | None"]
CheckFn = Callable[[Path], list[str]]
CheckNamedFn = Callable[[Path, list[str]], list[str]]
ResumeFn = Callable[[SessionRecord], bool]
SettingsFn = Callable[[SessionRecord], Settings]
MAX_RESUMES = 1
"""How often an interrupted upload is analysed again from its clip on start; a clip that
stops the server every time is then settled with what it left."""
WAITING_FRAMES = SessionFiles.WAITING_FRAMES
REBUILT_WITH_SUMMARY = frozenset(
    {SessionFiles.SUMMARY, SessionFiles.REPORT, SessionFiles.METRICS}
)
"""Outputs the analysis of the recorded landmarks writes again (with the summary)."""
log = logging.getLogger(__name__)


class Recovery(Sessions):
    """Settles unfinished sessions at start-up and re-checks finished ones."""

    def recover(
        self,
        finalise: RecoverFn | None = None,
        check: CheckFn | None = None,
        resume: ResumeFn | None = None,
        settings_of: SettingsFn | None = None,
    ) -> list[str]:
        """Settle sessions a crash left 'recording' or 'analysing'; return their ids.

        The session's outputs are checked with `check(out_dir)` (the names of the missing or
        incomplete ones): a session whose `summary.json` was written and whose outputs are all
        complete is 'done'. Otherwise an upload is offered to `resume(record)`, at most
        `MAX_RESUMES` times: when it queues the analysis again from the kept clip, the session
        stays 'analysing'. Any other session keeps its summary when every file written with it
        is complete; otherwise `finalise(record)` may rebuild them and return the summary. With
        `settings_of`, a clip whose drawing was deferred is finished from its waiting frames
        and those are removed. A session with a summary is 'done', with what is still unusable
        recorded as `missing`; without one it is 'interrupted'. While the disk is full nothing
        is settled (the next start does it).
        """
        if self.read_only:
            return []
        settled: list[str] = []
        with self._lock:
            stale = [
                record
                for status in UNFINISHED
                for record in self.list_sessions(status=status)
            ]
            for record in stale:
                if self.read_only:
                    break
                summary = read_summary(record.out_dir)
                missing = check(record.out_dir) if check is not None else []
                waiting = (record.out_dir / WAITING_FRAMES).is_file()
                try:
                    if ((summary is not None and not missing and not waiting)
                            or not self._resume(record, resume)):
                        self._settle(record, summary, missing, finalise, check, settings_of)
                except OutputError:
                    break
                settled.append(record.id)
        return settled

    def _resume(self, record: SessionRecord, resume: ResumeFn | None) -> bool:
        """Offer an interrupted upload to `resume`; True when its analysis was queued again."""
        if resume is None or record.kind != "upload":
            return False
        if record.recoveries >= MAX_RESUMES:
            return False
        with self._connect() as db:
            db.execute(
                "UPDATE sessions SET recoveries = recoveries + 1 WHERE id = ?", (record.id,)
            )
        try:
            return bool(resume(record))
        except Exception:  # noqa: BLE001 - recovery is best effort
            log.warning("the analysis of %s could not be queued again", record.id,
                        exc_info=True)
            return False

    def _settle(
        self,
        record: SessionRecord,
        summary: SessionSummary | None,
        missing: list[str],
        finalise: RecoverFn | None,
        check: CheckFn | None,
        settings_of: SettingsFn | None,
    ) -> None:
        """Mark one unfinished session 'done' (with what is missing) or 'interrupted'."""
        out_dir = record.out_dir
        rebuild = summary is None or bool(REBUILT_WITH_SUMMARY.intersection(missing))
        if rebuild and finalise is not None:
            try:
                rebuilt = finalise(record)
            except Exception:  # noqa: BLE001 - recovery is best effort
                log.warning("session %s could not be rebuilt", record.id, exc_info=True)
                rebuilt = None
            if rebuilt is not None:
                summary = rebuilt
                missing = check(out_dir) if check is not None else []
        if settings_of is not None and (out_dir / WAITING_FRAMES).is_file():
            try:
                finish_clip_from_spool(out_dir, settings_of(record))
            except Exception:  # noqa: BLE001 - recovery is best effort
                log.warning("the clip of session %s could not be finished from its waiting "
                            "frames", record.id, exc_info=True)
            else:
                missing = check(out_dir) if check is not None else []
        if summary is None:
            self.update_session(
                record.id,
                status="interrupted",
                error="the server stopped before this session was finalised",
                missing=missing,
            )
            return
        if missing:
            summary = replace(summary, warnings=(*summary.warnings, _missing_words(missing)))
        self.update_session(
            record.id,
            status="done",
            summary=summary,
            duration_s=summary.duration_s,
            missing=missing,
        )

    def recheck_done(self, check: CheckNamedFn | None = None) -> list[str]:
        """Record as `missing` the outputs of finished sessions that were deleted or damaged
        while the server was stopped; return the ids of the sessions that lost one.

        Cheap for every session: each output must be present and non-empty, and `summary.json`
        must parse. Only the outputs whose size or modification time differ from when the
        session was finished (or last checked) are given the full `check(out_dir, names)`
        (the clip must play to its end), which takes a tenth of a second or more a clip. A session
        finished before stamps were kept is checked cheaply and has its stamps recorded, so
        later changes are noticed. Names already recorded as missing stay so.
        """
        if self.read_only:
            return []
        lost: list[str] = []
        with self._lock:
            records = self.list_sessions(status="done")
            known = self._read(_all_stamps)
            restamped: dict[str, Stamps] = {}
            for record in records:
                now = stamps_of(record.out_dir)
                before = known.get(record.id)
                problems = set(_cheap_problems(record.out_dir, now))
                changed = {name for name, stamp in now.items()
                           if before is not None and before.get(name) != stamp} - problems
                if changed and check is not None:
                    problems.update(check(record.out_dir, sorted(changed)))
                found = problems - set(record.missing)
                try:
                    if found:
                        self._mark_damaged(record, sorted(found))
                        lost.append(record.id)
                except OutputError:
                    break
                if now != before:
                    restamped[record.id] = now
            if restamped and not self.read_only:
                try:
                    with self._connect() as db:
                        db.executemany(
                            "INSERT OR REPLACE INTO output_stamps (session_id, stamps_json)"
                            " VALUES (?, ?)",
                            [(sid, json.dumps(stamps)) for sid, stamps in restamped.items()],
                        )
                except OutputError:
                    pass
        return lost

    def _mark_damaged(self, record: SessionRecord, names: list[str]) -> None:
        """Record `names` as missing from a finished session, said in its warnings."""
        summary = record.summary
        if summary is not None:
            summary = replace(summary, warnings=(*summary.warnings, _damaged_words(names)))
        self.update_session(record.id, summary=summary,
                            missing=sorted({*record.missing, *names}))


def finish_clip_from_spool(out_dir: Path, settings: Settings) -> int:
    """Finish a live session's annotated clip from the frames whose drawing was deferred when
    the process died; return how many frames were added, and remove the waiting frames.

    The frames already in the clip (up to its last complete fragment) are kept as they are;
    the waiting JPEGs are decoded, drawn with the skeleton of their recorded landmarks by the
    session's overlay, and encoded after them. When the clip has no frame, the waiting frames
    are the session's from its start, matched to the landmark rows in order (frames past the
    last row the stop left in the table are kept undrawn); otherwise the last waiting frames
    are matched to the rows after the clip's end.
    """
    import cv2

    from posecoach.media.probe import output_size
    from posecoach.media.writer import VideoWriter
    from posecoach.outputs.landmarks_csv import read_landmarks_csv
    from posecoach.outputs.overlay import Overlay
    from posecoach.pose.landmarks import PoseFrame

    files = SessionFiles(out_dir)
    spool = out_dir / WAITING_FRAMES
    landmarks = files.landmarks if files.landmarks.is_file() else files.landmarks_partial
    series = read_landmarks_csv(landmarks)
    drawn = _decoded_frames(files.annotated)
    waiting = _spooled_images(spool)
    if not waiting and not drawn:
        raise OutputError(0, f"{spool.name} holds no frame that can be decoded")
    times = np.asarray(series.time_s, dtype=float)
    last_drawn_s = drawn[-1][1] if drawn else -np.inf
    rows = [i for i in range(len(times)) if times[i] > last_drawn_s + 1e-6]
    if drawn:
        # the tail of the waiting frames is what was not drawn yet
        waiting = waiting[-len(rows):] if rows else []
        rows = rows[-len(waiting):] if waiting else []
    height, width = (drawn[0][0] if drawn else waiting[0]).shape[:2]
    if not drawn:
        width, height = output_size(width, height, settings.output.annotated_max_side_px)
    fps = series.fps if series.fps and np.isfinite(series.fps) and series.fps > 0 else 30.0
    step_s = 1.0 / fps
    overlay = Overlay(settings)
    temporary = files.annotated.with_name(f".rebuilding-{files.annotated.name}")
    writer = VideoWriter(temporary, fps, width, height, crf=settings.output.crf,
                         preset=settings.output.preset)
    try:
        for image, time_s in drawn:
            writer.write(image, time_s)
        time_s = drawn[-1][1] if drawn else -step_s
        for index, image in enumerate(waiting):
            if (image.shape[1], image.shape[0]) != (width, height):
                image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            if index < len(rows):
                row = rows[index]
                time_s = float(times[row])
                frame = PoseFrame(index=int(series.frame_index[row]), time_s=time_s,
                                  width=series.width, height=series.height,
                                  points=np.asarray(series.points[row], dtype=np.float64))
                overlay.draw(image, frame, None, None)
            else:
                # a frame whose landmarks the stop cut from the table: kept, undrawn
                time_s += step_s
            writer.write(image, time_s)
    except BaseException:
        writer.close()
        temporary.unlink(missing_ok=True)
        raise
    writer.close()
    temporary.replace(files.annotated)
    spool.unlink(missing_ok=True)
    log.warning("the clip of %s was finished from %d waiting frame(s)", out_dir.name,
                len(waiting))
    return len(waiting)


def _decoded_frames(path: Path) -> list[tuple[np.ndarray, float]]:
    """The frames of a clip that decode (RGB, with their times), up to where it breaks."""
    import av

    frames: list[tuple[np.ndarray, float]] = []
    if not path.is_file():
        return frames
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                if frame.pts is None or frame.time_base is None:
                    continue
                frames.append((frame.to_ndarray(format="rgb24"),
                               float(frame.pts * frame.time_base)))
    except (av.error.FFmpegError, OSError, ValueError):
        pass
    return frames


def _spooled_images(path: Path) -> list[np.ndarray]:
    """The JPEGs of a waiting-frames file that decode (RGB), in order."""
    import av

    images: list[np.ndarray] = []
    try:
        with av.open(str(path), format="mjpeg") as container:
            for frame in container.decode(video=0):
                images.append(frame.to_ndarray(format="rgb24"))
    except (av.error.FFmpegError, OSError, ValueError):
        pass
    return images


def read_summary(out_dir: Path) -> SessionSummary | None:
    """A session folder's summary, or None when it is absent or does not parse."""
    path = SessionFiles(out_dir).summary
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return SessionSummary.from_json(data) if isinstance(data, dict) else None


def _cheap_problems(out_dir: Path, stamps: Stamps) -> list[str]:
    """The outputs that are absent or empty, and the summary when it does not parse."""
    problems = [name for name in SessionFiles.OUTPUTS if stamps.get(name, [0])[0] <= 0]
    if SessionFiles.SUMMARY not in problems and read_summary(out_dir) is None:
        problems.append(SessionFiles.SUMMARY)
    return problems


def _all_stamps(db: sqlite3.Connection) -> dict[str, Stamps]:
    if not has_table(db, "output_stamps"):
        return {}
    stamps: dict[str, Stamps] = {}
    for session_id, stored in db.execute("SELECT session_id, stamps_json FROM output_stamps"):
        try:
            data = json.loads(stored)
        except ValueError:
            continue
        if isinstance(data, dict):
            stamps[str(session_id)] = {str(k): list(v) for k, v in data.items()
                                       if isinstance(v, list)}
    return stamps


def _listed(names: list[str]) -> tuple[str, tuple[str, str]]:
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
    verbs = ("were", "are") if len(names) > 1 else ("was", "is")
    return listed, verbs


def _damaged_words(names: list[str]) -> str:
    """The warning a finished session carries about outputs lost since it was finished."""
    listed, verbs = _listed(names)
    return (
        f"{listed} {verbs[0]} deleted or damaged after this session was finished and "
        f"{verbs[1]} not offered."
    )


def _missing_words(missing: list[str]) -> str:
    """The warning a recovered session carries about the files it lacks."""
    listed, verbs = _listed(sorted(set(missing)))
    return (
        f"The server stopped before this session was finished: {listed} {verbs[0]} not "
        f"completed and {verbs[1]} not offered."
    )

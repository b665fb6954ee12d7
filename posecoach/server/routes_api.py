"""JSON API: uploads and jobs, sessions and their files, check-ins, progress, config."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from posecoach.outputs.files import atomic_write_text
from posecoach.server.context import ServerContext
from posecoach.server.engine import InputError
from posecoach.server.progression import suggest_next
from posecoach.server.uploads import UploadError, UploadTooLarge, receive_files
from posecoach.settings import LEVELS, Settings, SettingsError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api")

SESSION_FILES: dict[str, str] = {
    "annotated.mp4": "video/mp4",
    "landmarks.csv": "text/csv; charset=utf-8",
    "metrics.csv": "text/csv; charset=utf-8",
    "summary.json": "application/json",
    "report.html": "text/html; charset=utf-8",
}
DIGEST_KEYS = (
    "direction", "view", "backward_time_s", "steps", "cadence_spm", "speed_m_s", "speed_leg_s",
    "step_length_m", "step_length_leg", "upright_share", "head_up_share",
)
SETUP_GUIDE = (
    "Choose a clear, flat, open space free from obstacles.",
    "Place the camera to the side of your walking line, at about hip height, level and square "
    "to the line: the side view is the one that can judge posture and step length.",
    "Stand far enough away that your whole body, head to feet, stays in the picture.",
    "Start slowly: short sessions (5-10 minutes for beginners) at an easy pace.",
    "Keep your head up and shoulders back; glance over your shoulder only briefly.",
    "Listen to your body: if anything hurts, reduce the intensity or stop.",
)
_SVG_RE = re.compile(r'<svg class="plot"[^>]*aria-labelledby="([\w-]+)-title.*?</svg>', re.S)


def _ctx(request: Request) -> ServerContext:
    return request.app.state.ctx


def _public(record: dict[str, Any], full: bool) -> dict[str, Any]:
    out = {k: v for k, v in record.items() if k not in ("out_dir", "summary")}
    summary = record.get("summary") or {}
    if full:
        out["summary"] = record.get("summary")
        out_dir = Path(record["out_dir"])
        out["files"] = [name for name in SESSION_FILES if (out_dir / name).is_file()]
    else:
        out["summary"] = {key: summary.get(key) for key in DIGEST_KEYS} if summary else None
        out["cue_count"] = len(summary.get("cues") or []) if summary else 0
    return out


def _session(ctx: ServerContext, session_id: str) -> dict[str, Any]:
    record = ctx.storage.get_session(session_id)
    if record is None:
        raise HTTPException(404, "no such session")
    return record


def _settings(ctx: ServerContext, level: str | None, height_cm: float | None) -> Settings:
    try:
        return ctx.settings_loader(level, height_cm)
    except SettingsError as exc:
        raise HTTPException(422, str(exc)) from exc


def _float_field(fields: dict[str, str], name: str) -> float | None:
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise HTTPException(422, f"{name} must be a number") from None


@router.post("/uploads", status_code=202)
async def upload(request: Request) -> dict[str, Any]:
    """Receive clips (multipart `files`), check each one, and queue the good ones."""
    ctx = _ctx(request)
    try:
        received = await receive_files(
            request,
            ctx.uploads_dir,
            max_file_bytes=ctx.limits.max_upload_bytes,
            max_files=ctx.limits.max_files_per_upload,
        )
    except UploadTooLarge as exc:
        raise HTTPException(413, str(exc)) from exc
    except UploadError as exc:
        raise HTTPException(400, str(exc)) from exc
    fields = {**received.fields, **request.query_params}
    try:
        settings = _settings(
            ctx, fields.get("level") or None, _float_field(fields, "height_cm")
        )
    except HTTPException:
        for item in received.files:
            item.path.unlink(missing_ok=True)
        raise
    jobs: list[dict[str, Any]] = []
    problems: list[tuple[int, str]] = []
    for item in received.files:
        status, problem, info = await _check_clip(ctx, item.path)
        if problem is not None:
            problem = problem.replace(item.path.name, item.filename)
            item.path.unlink(missing_ok=True)
            problems.append((status, f"{item.filename}: {problem}"))
            jobs.append(ctx.jobs.rejected(item.filename, problem).to_json())
            continue
        frames = getattr(info, "frame_count", None)
        jobs.append(ctx.jobs.submit(item.path, item.filename, settings, frames).to_json())
    if len(problems) == len(received.files):
        raise HTTPException(max(s for s, _ in problems), "; ".join(p for _, p in problems))
    return {"jobs": jobs}


async def _check_clip(ctx: ServerContext, path: Path) -> tuple[int, str | None, Any]:
    try:
        info = await run_in_threadpool(ctx.engine.probe, path)
    except InputError as exc:
        return 415, str(exc), None
    duration = getattr(info, "duration_s", None)
    limit = ctx.limits.max_duration_s
    if isinstance(duration, int | float) and duration > limit:
        return (
            422,
            f"the clip is {duration / 60:.1f} min long; the limit is {limit / 60:.0f} min",
            info,
        )
    return 200, None, info


@router.get("/jobs/{job_id}")
def job(job_id: str, request: Request) -> dict[str, Any]:
    """Progress of one analysis job."""
    found = _ctx(request).jobs.get(job_id)
    if found is None:
        raise HTTPException(404, "no such job (jobs are forgotten when the server restarts)")
    return found.to_json()


@router.get("/sessions")
def sessions(request: Request) -> list[dict[str, Any]]:
    """Every session, newest first, with a digest of its summary."""
    return [_public(r, full=False) for r in _ctx(request).storage.list_sessions()]


@router.get("/sessions/{session_id}")
def session(session_id: str, request: Request) -> dict[str, Any]:
    """One session with its whole summary and the files it has."""
    return _public(_session(_ctx(request), session_id), full=True)


@router.get("/sessions/{session_id}/files/{name}")
def session_file(
    session_id: str, name: str, request: Request, download: bool = False
) -> FileResponse:
    """One of the session's output files (whitelisted names only)."""
    ctx = _ctx(request)
    media_type = SESSION_FILES.get(name)
    if media_type is None:
        raise HTTPException(404, "no such file")
    record = _session(ctx, session_id)
    path = Path(record["out_dir"]) / name
    if not path.is_file():
        raise HTTPException(404, f"{name} is not available for this session")
    headers = {"X-Content-Type-Options": "nosniff"}
    if name == "report.html":
        headers["Content-Security-Policy"] = "sandbox allow-scripts"
    return FileResponse(
        path,
        media_type=media_type,
        headers=headers,
        filename=f"posecoach-{session_id[:8]}-{name}",
        content_disposition_type="attachment" if download else "inline",
    )


@router.get("/sessions/{session_id}/plots")
async def plots(session_id: str, request: Request) -> dict[str, str]:
    """The session's plots as `{name: svg}` (cached in the session folder)."""
    ctx = _ctx(request)
    record = _session(ctx, session_id)
    if record["status"] != "done":
        raise HTTPException(409, f"the session is {record['status']}: no plots")
    out_dir = Path(record["out_dir"])
    cache = out_dir / "plots.json"
    try:
        return json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    settings = _settings(ctx, record["level"], record["height_cm"])
    try:
        rendered = await run_in_threadpool(ctx.engine.plots, out_dir, settings)
    except Exception:  # noqa: BLE001 - fall back to the report's copies
        log.warning("rendering plots for %s failed; reading the report", session_id, exc_info=True)
        rendered = _report_plots(out_dir / "report.html")
    if not rendered:
        raise HTTPException(404, "no plots for this session")
    try:
        atomic_write_text(cache, json.dumps(rendered))
    except OSError:
        log.warning("could not cache plots for %s", session_id)
    return rendered


def _report_plots(report: Path) -> dict[str, str]:
    try:
        text = report.read_text(encoding="utf-8")
    except OSError:
        return {}
    return {match.group(1): match.group(0) for match in _SVG_RE.finditer(text)}


class CheckIn(BaseModel):
    """How the walker's body felt after a session."""

    model_config = ConfigDict(extra="forbid")

    pain: Literal["none", "soreness", "pain"]
    score: int = Field(ge=0, le=10)

    @model_validator(mode="after")
    def _consistent(self) -> CheckIn:
        if self.pain == "none" and self.score != 0:
            raise ValueError("score must be 0 when pain is 'none'")
        return self


@router.post("/sessions/{session_id}/checkin")
def checkin(session_id: str, body: CheckIn, request: Request) -> dict[str, Any]:
    """Store the pain check-in for a session and return the updated suggestion."""
    ctx = _ctx(request)
    _session(ctx, session_id)
    stored = ctx.storage.add_checkin(session_id, body.pain, body.score)
    return {"session_id": session_id, "checkin": stored, "suggestion": _suggestion(ctx)}


def _suggestion(ctx: ServerContext, records: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    records = ctx.storage.list_sessions(status="done") if records is None else records
    level = records[0]["level"] if records else None
    height = records[0]["height_cm"] if records else None
    return suggest_next(records, _settings(ctx, level, height))


def _number(summary: dict[str, Any], key: str) -> float | None:
    value = summary.get(key)
    return float(value) if isinstance(value, int | float) else None


@router.get("/progress")
def progress(request: Request) -> dict[str, Any]:
    """Per-session series for the charts (oldest first) and the progression suggestion."""
    ctx = _ctx(request)
    records = ctx.storage.list_sessions(status="done")
    series = []
    for record in reversed(records):
        summary = record["summary"] or {}
        checkin = record["checkin"] or {}
        series.append(
            {
                "id": record["id"],
                "date": record["created_at"],
                "kind": record["kind"],
                "level": record["level"],
                "duration_s": record["duration_s"] or _number(summary, "duration_s"),
                "backward_time_s": _number(summary, "backward_time_s"),
                "speed": _number(summary, "speed_m_s"),
                "speed_leg_s": _number(summary, "speed_leg_s"),
                "step_length": _number(summary, "step_length_m"),
                "step_length_leg": _number(summary, "step_length_leg"),
                "upright_share": _number(summary, "upright_share"),
                "head_up_share": _number(summary, "head_up_share"),
                "pain": checkin.get("pain"),
                "pain_score": checkin.get("score"),
            }
        )
    return {
        "sessions": series,
        "units": {"speed": "m/s", "step_length": "m", "speed_leg_s": "leg lengths/s",
                  "step_length_leg": "leg lengths"},
        "suggestion": _suggestion(ctx, records),
    }


@router.get("/config")
def config(request: Request) -> dict[str, Any]:
    """Levels, suggested minutes per level, the set-up guide, and the server's limits."""
    ctx = _ctx(request)
    default = _settings(ctx, None, None)
    minutes = {level: _settings(ctx, level, None).session.suggested_minutes for level in LEVELS}
    return {
        "levels": list(LEVELS),
        "default_level": default.level,
        "suggested_minutes": minutes,
        "setup_guide": list(SETUP_GUIDE),
        "checkin": {"pain": ["none", "soreness", "pain"], "score_min": 0, "score_max": 10},
        "source": ctx.source is not None,
        "limits": {
            "max_upload_bytes": ctx.limits.max_upload_bytes,
            "max_files_per_upload": ctx.limits.max_files_per_upload,
            "max_duration_s": ctx.limits.max_duration_s,
            "max_frame_bytes": ctx.limits.max_frame_bytes,
            "live_fps": ctx.limits.live_fps,
        },
    }

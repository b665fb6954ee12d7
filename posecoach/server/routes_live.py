"""WebSockets for live coaching: the browser's camera (/ws/live) and a server-side source."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import BaseModel

from posecoach.errors import OutputError
from posecoach.media.jpeg import decode_jpeg, jpeg_size
from posecoach.server.broadcast import DEFAULT_SPEAK, LiveHub, live_hub
from posecoach.server.context import ServerContext, context_of
from posecoach.server.engine import InputError
from posecoach.server.live_run import FrameIn, LatestSlot, LiveRun
from posecoach.server.messages import (
    ErrorMessage,
    FrameNumberMessage,
    PingMessage,
    PongMessage,
    ResultMessage,
    SpeakChoice,
    StartedMessage,
    StartMessage,
    StopMessage,
    TimeTrialsMessage,
    dumps,
    parse_live,
)
from posecoach.server.storage import NoSuchPerson, Person, SessionRecord
from posecoach.settings import Settings, SettingsError

log = logging.getLogger(__name__)
router = APIRouter()
MAX_ERROR_CHARS = 300
CLOSE_POLICY_VIOLATION = 1008
CLOSE_INTERNAL_ERROR = 1011


class Channel:
    """Serialised JSON sends on one WebSocket; stops quietly once the client is gone."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self._lock = asyncio.Lock()
        self.open = True

    async def send(self, message: BaseModel) -> None:
        """Send one message; raises once the socket is closed."""
        await self._send_text(dumps(message))

    async def _send_text(self, text: str) -> None:
        async with self._lock:
            if not self.open:
                raise ConnectionError("the client has gone")
            try:
                await self.ws.send_text(text)
            except Exception:
                self.open = False
                raise

    async def error(self, message: str) -> None:
        """Tell the client about a bad message, without ending the session."""
        if len(message) > MAX_ERROR_CHARS:
            message = message[: MAX_ERROR_CHARS - 3] + "..."
        with contextlib.suppress(Exception):
            await self.send(ErrorMessage(message=message))


class PhoneChannel(Channel):
    """A browser camera's socket: the results it is sent also go to its session's viewers."""

    def __init__(self, ws: WebSocket, hub: LiveHub) -> None:
        super().__init__(ws)
        self.hub = hub
        self.session_id: str | None = None

    async def send(self, message: BaseModel) -> None:
        text = dumps(message)
        if self.session_id is not None and isinstance(message, ResultMessage):
            self.hub.publish(self.session_id, text)
        await self._send_text(text)


def _start_settings(ctx: ServerContext, start: StartMessage,
                    person: Person | None = None) -> Settings:
    """The session's settings from a start message; the person's level and height stand in
    for those the message leaves out, and a timed test's settings are added."""
    level, height = start.level, start.height_cm
    if person is not None:
        level = level if level is not None else person.level
        height = height if height is not None else person.height_cm
    settings = ctx.settings_loader(level, height)
    if start.test is not None:
        settings = _with_test(settings, start, person, _previous_time_s(ctx, person))
    if start.setting is None:
        return settings
    return settings.model_copy(update={
        "walk_setting": settings.walk_setting.model_copy(update={"setting": start.setting})})


def _with_test(settings: Settings, start: StartMessage, person: Person | None,
               previous_time_s: float | None) -> Settings:
    """`settings` with the timed test switched on; refused without a distance scale."""
    marks = start.floor_marks_px or ()
    if not marks and settings.height_cm is None:
        raise InputError(
            "the timed test needs a distance scale: mark the two floor lines on the "
            "camera picture, or give the walker's height"
        )
    population = start.population or (person.population if person else None) or (
        settings.timed_test.population)
    update: dict[str, Any] = {"run": True, "population": population,
                              "floor_marks_px": tuple(marks),
                              "previous_time_s": previous_time_s}
    return settings.model_copy(update={
        "timed_test": settings.timed_test.model_copy(update=update)})


def _person(ctx: ServerContext, start: StartMessage) -> Person | None:
    """The person a start message names (`person_id`), or None when it names nobody."""
    if start.person_id is None:
        return None
    person = ctx.storage.get_person(start.person_id)
    if person is None:
        raise NoSuchPerson()
    return person


def _previous_time_s(ctx: ServerContext, person: Person | None) -> float | None:
    """The time of the person's last timed test, for the change since then."""
    if person is None:
        return None
    times = [row.time_s for row in ctx.storage.timed_tests(person.id)
             if row.timed and row.time_s is not None]
    return float(times[-1]) if times else None


class RefusedMessage(InputError):
    """A text message the socket is closed for, with the WebSocket close code to send."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def _parse(text: str) -> dict[str, Any] | None:
    """A JSON object message, or None when it is not one; `RefusedMessage` when too deep."""
    try:
        message = json.loads(text)
    except ValueError:
        return None
    except RecursionError as exc:
        raise RefusedMessage(
            "text messages must be small JSON objects: this one is nested too deeply",
            CLOSE_POLICY_VIOLATION,
        ) from exc
    return message if isinstance(message, dict) else None


async def _close(ws: WebSocket, channel: Channel, code: int, message: str) -> None:
    """Say why, then close the socket with `code`."""
    await channel.error(message)
    channel.open = False
    with contextlib.suppress(Exception):
        await ws.close(code=code)


async def _end_after(ws: WebSocket, channel: Channel, exc: Exception, socket_name: str) -> None:
    """End a socket after `exc`: nothing more when the client went away, the refusal's own
    code and words for a refused message, else the server log and a plain message."""
    if isinstance(exc, WebSocketDisconnect):
        return
    if isinstance(exc, RefusedMessage):
        await _close(ws, channel, exc.code, str(exc))
        return
    log.error("%s WebSocket failed", socket_name, exc_info=exc)
    await _close(ws, channel, CLOSE_INTERNAL_ERROR, "the live session failed (see the server log)")


@router.websocket("/ws/live")
async def live(ws: WebSocket) -> None:
    """Browser camera: start, JPEG frames, stop (see docs/architecture.md)."""
    ctx = context_of(ws)
    await ws.accept()
    hub = live_hub(ws.app)
    channel = PhoneChannel(ws, hub)
    loop = asyncio.get_running_loop()
    run: LiveRun | None = None
    slot: LatestSlot | None = None
    timing: asyncio.Future[None] | None = None
    t0 = 0.0
    frame_no: int | None = None  # the page's number for the next binary frame
    try:
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is not None:
                number, frame_no = frame_no, None
                if run is None or slot is None:
                    await channel.error("send a start message before frames")
                elif len(data) > ctx.limits.max_frame_bytes:
                    await channel.error(
                        f"frame of {len(data)} bytes is larger than the limit of "
                        f"{ctx.limits.max_frame_bytes} bytes"
                    )
                elif (size := jpeg_size(data)) is None:
                    await channel.error("frames must be JPEG images")
                elif size[0] * size[1] > ctx.limits.max_frame_pixels:
                    await channel.error(f"frame of {size[0]}x{size[1]} pixels is too large")
                else:
                    arrived = time.monotonic()
                    slot.put((data, arrived - t0, arrived, number))
                    hub.publish_frame(run.session_id, arrived - t0, data)
                continue
            request = _parse(message.get("text") or "")
            if request is None:
                await channel.error("text messages must be JSON objects")
                continue
            try:
                incoming = parse_live(request)
            except InputError as exc:
                await channel.error(str(exc))
                continue
            if isinstance(incoming, FrameNumberMessage):
                frame_no = incoming.frame_no
            elif isinstance(incoming, StartMessage):
                if run is not None:
                    await channel.error("a session is already running: stop it first")
                    continue
                try:
                    person = _person(ctx, incoming)
                    settings = _start_settings(ctx, incoming, person)
                    slot = LatestSlot()
                    fps = incoming.fps or ctx.limits.live_fps
                    run = await _open_run(
                        ctx, channel, loop, settings, "browser camera", fps,
                        _jpeg_frames(slot), lambda s=slot: s.dropped,
                        person_id=person.id if person is not None else None,
                    )
                except (SettingsError, InputError, OutputError) as exc:
                    slot = None
                    await channel.error(str(exc))
                    continue
                except Exception:
                    log.exception("starting a live session failed")
                    slot = None
                    await channel.error("the session could not be started (see the server log)")
                    continue
                t0 = time.monotonic()
                speak = incoming.speak or DEFAULT_SPEAK
                hub.open(run.session_id, settings.level, "browser camera", speak, channel.send)
                channel.session_id = run.session_id
                await channel.send(StartedMessage(session_id=run.session_id, speak=speak))
            elif isinstance(incoming, SpeakChoice):
                if run is None:
                    await channel.error("send speak (phone, viewer or both) during a session")
                    continue
                await hub.set_speak(run.session_id, incoming.speak)
            elif isinstance(incoming, TimeTrialsMessage):
                if run is None or not run.timed_test:
                    await channel.error("time_trials needs a session started as a timed test")
                    continue
                if timing is None or timing.done():
                    timing = asyncio.ensure_future(_send_trials(channel, run))
            elif isinstance(incoming, StopMessage):
                if run is None or slot is None:
                    await channel.error("no session is running")
                    continue
                if timing is not None:
                    await asyncio.wait([timing])
                    timing = None
                finished = await run.finish(slot.close)
                hub.close(run.session_id, finished)
                channel.session_id = None
                run, slot = None, None
                await channel.send(finished)
            else:
                await channel.send(PongMessage())
    except Exception as exc:
        await _end_after(ws, channel, exc, "live")
    finally:
        channel.open = False
        if timing is not None:
            timing.cancel()
        if run is not None and slot is not None:
            hub.close(run.session_id)
            await run.finish(slot.close)


async def _send_trials(channel: Channel, run: LiveRun) -> None:
    """Time the trials recorded so far and send them (`TrialsMessage`)."""
    try:
        trials = await run.time_trials()
    except Exception:
        log.exception("timing the trials of session %s failed", run.session_id)
        await channel.error("the trials could not be timed (see the server log)")
        return
    with contextlib.suppress(Exception):
        await channel.send(trials)


def _jpeg_frames(slot: LatestSlot) -> Any:
    def frames() -> Iterator[FrameIn]:
        while (item := slot.take()) is not None:
            data, time_s, arrived, frame_no = item
            try:
                yield FrameIn(decode_jpeg(data), time_s, arrived=arrived, jpeg=data,
                              frame_no=frame_no)
            except InputError as exc:
                yield FrameIn(None, time_s, str(exc))

    return frames


def _coach_and_recorder(
    ctx: ServerContext, settings: Settings, out_dir: Path, fps: float, source_name: str
) -> tuple[Any, Any]:
    """A session's coach, its pose model loaded so no frame waits for it, and its recorder."""
    coach = ctx.engine.live_coach(settings)
    try:
        load_model = getattr(coach, "load_model", None)
        if load_model is not None:
            load_model()
        recorder = ctx.engine.recorder(out_dir, settings, fps, source_name,
                                       defer_drawing=ctx.several_live_sessions)
    except BaseException:
        close = getattr(coach, "close", None)
        if close is not None:
            close()
        raise
    return coach, recorder


async def _open_run(
    ctx: ServerContext,
    channel: Channel,
    loop: asyncio.AbstractEventLoop,
    settings: Settings,
    source_name: str,
    fps: float,
    frames: Any,
    dropped: Any,
    on_close: Any = None,
    person_id: str | None = None,
) -> LiveRun:
    """Create the session record, the coach and the recorder, and start processing."""
    if not ctx.acquire_live():
        raise InputError(
            f"{ctx.limits.max_live_sessions} live sessions are already running on this server"
        )
    session: SessionRecord | None = None
    try:
        session = ctx.storage.create_session(
            "live", settings.level, settings.height_cm, source_name, "recording",
            person_id=person_id, settings=settings,
        )
        out_dir = ctx.storage.session_dir(session.id)
        coach, recorder = await loop.run_in_executor(
            None, _coach_and_recorder, ctx, settings, out_dir, fps, source_name
        )
    except BaseException:
        ctx.release_live()
        if session is not None:
            ctx.storage.update_session(
                session.id, status="failed", error="the session could not be started"
            )
        raise

    def closed() -> None:
        ctx.release_live()
        if on_close is not None:
            on_close()

    return LiveRun(
        storage=ctx.storage,
        coach=coach,
        recorder=recorder,
        session_id=session.id,
        frames=frames,
        dropped=dropped,
        send_json=channel.send,
        loop=loop,
        on_close=closed,
        timed_test=settings.timed_test.run,
    )


@router.websocket("/ws/source")
async def source(ws: WebSocket) -> None:
    """Server-side camera, file or stream: the server sends each frame and its result."""
    ctx = context_of(ws)
    await ws.accept()
    channel = Channel(ws)
    if ctx.source is None:
        await channel.error("no server-side source: start the server with --source 0|FILE|URL")
        await ws.close()
        return
    loop = asyncio.get_running_loop()
    run: LiveRun | None = None
    reader: Any = None
    stop_reader: Callable[[], None] = _nothing
    receiving: asyncio.Task[Any] | None = None
    try:
        while True:
            receiving = receiving or asyncio.ensure_future(ws.receive())
            waiting: set[asyncio.Future[Any]] = {receiving}
            if run is not None:
                waiting.add(run.processing)
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if run is not None and run.processing in done:
                finished = await run.finish(stop_reader)
                run, reader = None, None
                await channel.send(finished)
                continue
            message = receiving.result()
            receiving = None
            if message["type"] == "websocket.disconnect":
                break
            request = _parse(message.get("text") or "")
            try:
                incoming = parse_live(request) if request is not None else None
            except InputError as exc:
                await channel.error(str(exc))
                continue
            if isinstance(incoming, StartMessage):
                if run is not None:
                    await channel.error("a session is already running: stop it first")
                    continue
                if not ctx.source_lock.acquire(blocking=False):
                    await channel.error("the server-side camera is in use by another page")
                    continue
                try:
                    settings = _start_settings(ctx, incoming)
                    reader = await loop.run_in_executor(
                        None, ctx.engine.camera_reader, ctx.source
                    )
                    fps = getattr(getattr(reader, "info", None), "fps", 0.0) or ctx.limits.live_fps
                    stop = threading.Event()
                    run = await _open_run(
                        ctx, channel, loop, settings, str(ctx.source), fps,
                        _reader_frames(reader, stop),
                        lambda r=reader: getattr(r, "frames_dropped", 0),
                        on_close=ctx.source_lock.release,
                    )
                    stop_reader = _stopper(reader, stop)
                except Exception as exc:
                    if reader is not None:
                        reader.close()
                        reader = None
                    ctx.source_lock.release()
                    if isinstance(exc, SettingsError | InputError | OutputError):
                        await channel.error(str(exc))
                    else:
                        log.exception("starting the server-side source failed")
                        await channel.error("the source could not be started (see the server log)")
                    continue
                await channel.send(StartedMessage(session_id=run.session_id))
            elif isinstance(incoming, StopMessage):
                if run is None:
                    await channel.error("no session is running")
                    continue
                finished = await run.finish(stop_reader)
                run, reader = None, None
                await channel.send(finished)
            elif isinstance(incoming, PingMessage):
                await channel.send(PongMessage())
            else:
                await channel.error("send {\"type\": \"start\"} or {\"type\": \"stop\"}")
    except Exception as exc:
        await _end_after(ws, channel, exc, "source")
    finally:
        channel.open = False
        if receiving is not None:
            receiving.cancel()
        if run is not None:
            await run.finish(stop_reader)


def _nothing() -> None:
    """Nothing to stop."""


def _stopper(reader: Any, stop: threading.Event) -> Callable[[], None]:
    def stop_reader() -> None:
        stop.set()
        threading.Thread(target=reader.close, name="posecoach-source-close", daemon=True).start()

    return stop_reader


def _reader_frames(reader: Any, stop: threading.Event) -> Any:
    def frames() -> Iterator[FrameIn]:
        try:
            for frame in reader:
                if stop.is_set():
                    return
                yield FrameIn(frame.image, float(frame.time_s), preview=True)
        except Exception as exc:  # noqa: BLE001 - reported to the client, then the run ends
            message = str(exc) if str(exc) else "the server-side source stopped"
            yield FrameIn(None, 0.0, message)

    return frames

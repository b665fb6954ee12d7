"""A bounded load test of live coaching on loopback: several browser-like clients at once.

Each client behaves like the web page: it sends one JPEG frame, waits for that frame's result
(one frame in flight), and sends the next one no sooner than the frame rate allows. Latency is
the time from sending a frame to receiving its result.

    python -m tools.loadtest [--clients 3] [--seconds 10] [--fps 15]
                                          [--url ws://127.0.0.1:8000] [--clip FILE]

Without `--url` a server is started on a free loopback port with a temporary data folder and
stopped afterwards. The helpers here (`ServerProcess`, `jpeg_frames`, `live_client`) are also
used by the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tools.net import free_port
from tools.shared_data import REPO_ROOT as ROOT
from tools.shared_data import shared_data_dir

DEFAULT_CLIP = shared_data_dir() / "video" / "side_walk_1080p60.mp4"
FALLBACK_CLIP = ROOT / "fixtures" / "backward_walk_side_1080p60.mp4"
RESULT_TIMEOUT_S = 60.0


class ServerProcess:
    """`posecoach.server.run_server` in a subprocess on a loopback port, for tests and load.

    With `lan_token`, `posecoach serve --lan --host 127.0.0.1 --token …` instead: HTTPS with
    the server's own self-signed certificate, every request carrying the token.
    """

    def __init__(self, data_dir: Path, port: int | None = None,
                 env: dict[str, str] | None = None, lan_token: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.lan_token = lan_token
        scheme = "https" if lan_token else "http"
        self.base = f"{scheme}://127.0.0.1:{self.port}"
        self.ws_base = f"{'wss' if lan_token else 'ws'}://127.0.0.1:{self.port}"
        self.log_path = self.data_dir.parent / f"server-{self.port}.log"
        self._env = env
        self._log: IO[bytes] | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 120.0) -> ServerProcess:
        """Start the server and wait until it answers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(self._env or {})}
        if self.lan_token:
            env["COLUMNS"] = "200"
        self.proc = subprocess.Popen(
            self._command(), cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=env,
        )
        ready_url = f"{self.base}/api/config"
        tls = None
        if self.lan_token:
            ready_url += f"?token={self.lan_token}"
            tls = ssl.create_default_context()
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(ready_url, timeout=2, context=tls) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start:\n{self.log_tail()}")
            time.sleep(0.2)

    def _command(self) -> list[str]:
        if self.lan_token:
            return [sys.executable, "-m", "posecoach", "serve", "--lan", "--host", "127.0.0.1",
                    "--port", str(self.port), "--data-dir", str(self.data_dir),
                    "--token", self.lan_token]
        code = (
            "from pathlib import Path\n"
            "from posecoach.server import run_server\n"
            f"run_server(host='127.0.0.1', port={self.port}, "
            f"data_dir=Path({str(self.data_dir)!r}))\n"
        )
        return [sys.executable, "-c", code]

    def get_json(self, path: str) -> Any:
        """GET a JSON endpoint."""
        with urllib.request.urlopen(f"{self.base}{path}", timeout=30) as resp:
            return json.loads(resp.read())

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as in a crash or an out-of-memory kill."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._close_log()

    def stop(self) -> None:
        """Stop the server gracefully (SIGTERM), killing it if it does not stop in time."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's log."""
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def jpeg_frames(path: Path = DEFAULT_CLIP, limit: int = 135, every: int = 1,
                width: int = 640, quality: int = 80) -> list[bytes]:
    """JPEG frames of a clip, downscaled to `width` as a browser would send them."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    frames: list[bytes] = []
    index = 0
    try:
        while len(frames) < limit:
            ok, bgr = cap.read()
            if not ok:
                break
            if index % every == 0:
                height = round(bgr.shape[0] * width / bgr.shape[1])
                small = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
                ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
                if ok:
                    frames.append(buf.tobytes())
            index += 1
    finally:
        cap.release()
    if not frames:
        raise RuntimeError(f"no frames could be read from {path}")
    return frames


@dataclass
class ClientStats:
    """What one client saw."""

    session_id: str | None = None
    sent: int = 0
    results: int = 0
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    first_result_t: float | None = None
    last_result_t: float | None = None
    finished: dict[str, Any] | None = None


def live_client(
    ws_url: str,
    frames: Sequence[bytes],
    seconds: float,
    fps: float = 15.0,
    stop: bool = True,
    on_result: Callable[[ClientStats], None] | None = None,
    level: str = "beginner",
) -> ClientStats:
    """One browser-like live session for `seconds`; `stop=False` leaves it open (no stop).

    Protocol errors and exceptions are recorded in `errors`, never raised.
    """
    from websockets.sync.client import connect

    stats = ClientStats()
    period = 1.0 / fps if fps > 0 else 0.0
    try:
        with connect(f"{ws_url}/ws/live", max_size=None, open_timeout=30) as ws:
            ws.send(json.dumps({"type": "start", "level": level, "fps": fps}))
            started = _receive(ws, "started", stats)
            stats.session_id = started["session_id"]
            t_end = time.monotonic() + seconds
            i = 0
            while time.monotonic() < t_end:
                slot = time.monotonic() + period
                sent_at = time.monotonic()
                ws.send(frames[i % len(frames)])
                stats.sent += 1
                i += 1
                result = _receive(ws, "result", stats)
                stats.latencies_s.append(time.monotonic() - sent_at)
                stats.results += 1
                stats.last_result_t = float(result["t"])
                if stats.first_result_t is None:
                    stats.first_result_t = stats.last_result_t
                if on_result is not None:
                    on_result(stats)
                pause = slot - time.monotonic()
                if pause > 0:
                    time.sleep(pause)
            if stop:
                ws.send(json.dumps({"type": "stop"}))
                stats.finished = _receive(ws, "finished", stats)
                if stats.finished.get("status") != "done":
                    stats.errors.append(f"session finished as {stats.finished}")
    except Exception as exc:  # noqa: BLE001 - a load test reports failures, it does not stop
        stats.errors.append(f"{type(exc).__name__}: {exc}")
    return stats


def _receive(ws: Any, kind: str, stats: ClientStats) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=RESULT_TIMEOUT_S))
        if message.get("type") == kind:
            return message
        if message.get("type") == "error":
            stats.errors.append(str(message.get("message")))


def run_clients(ws_url: str, clients: int, seconds: float, frames: Sequence[bytes],
                fps: float) -> list[ClientStats]:
    """`clients` sessions at once, each for `seconds`; returns their stats."""
    out: list[ClientStats | None] = [None] * clients

    def run(k: int) -> None:
        out[k] = live_client(ws_url, frames, seconds, fps)

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [s if s is not None else ClientStats(errors=["the client never ran"]) for s in out]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def report(stats: Sequence[ClientStats], seconds: float) -> str:
    """A plain-text table of latency percentiles, throughput and errors."""
    lines = [
        f"{'client':>6} {'sent':>5} {'results':>7} {'fps':>5} {'p50 ms':>7} {'p90 ms':>7} "
        f"{'p99 ms':>7} {'max ms':>7} {'errors':>6}  finished"
    ]
    for k, s in enumerate(stats):
        ms = [v * 1000 for v in s.latencies_s]
        status = (s.finished or {}).get("status", "-")
        lines.append(
            f"{k:>6} {s.sent:>5} {s.results:>7} {s.results / seconds:>5.1f} "
            f"{percentile(ms, 50):>7.0f} {percentile(ms, 90):>7.0f} {percentile(ms, 99):>7.0f} "
            f"{max(ms, default=float('nan')):>7.0f} {len(s.errors):>6}  {status}"
        )
    every = [v * 1000 for s in stats for v in s.latencies_s]
    lines.append(
        f"{'all':>6} {sum(s.sent for s in stats):>5} {sum(s.results for s in stats):>7} "
        f"{sum(s.results for s in stats) / seconds:>5.1f} {percentile(every, 50):>7.0f} "
        f"{percentile(every, 90):>7.0f} {percentile(every, 99):>7.0f} "
        f"{max(every, default=float('nan')):>7.0f} {sum(len(s.errors) for s in stats):>6}"
    )
    for k, s in enumerate(stats):
        for error in s.errors[:5]:
            lines.append(f"client {k} error: {error}")
    return "\n".join(lines)


@contextlib.contextmanager
def _server_for(url: str | None, max_live: int) -> Iterator[str]:
    if url:
        yield url.rstrip("/")
        return
    with tempfile.TemporaryDirectory(prefix="posecoach-load-") as tmp:
        env = {"POSECOACH_MAX_LIVE_SESSIONS": str(max_live)}
        with ServerProcess(Path(tmp) / "data", env=env) as server:
            yield server.ws_base


def main(argv: Sequence[str] | None = None) -> int:
    """Run the load test and print the table; exit code 1 when any client saw an error."""
    parser = argparse.ArgumentParser(prog="python -m tools.loadtest",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--url", help="an already running server, e.g. ws://127.0.0.1:8000")
    parser.add_argument("--clip", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.clients < 1 or args.seconds <= 0 or args.fps <= 0:
        parser.error("--clients, --seconds and --fps must be positive")
    clip = args.clip or (DEFAULT_CLIP if DEFAULT_CLIP.is_file() else FALLBACK_CLIP)
    frames = jpeg_frames(clip, width=args.width)
    print(f"{args.clients} clients x {args.seconds:g} s at up to {args.fps:g} fps, "
          f"{len(frames)} JPEG frames of {clip.name} at {args.width} px wide", flush=True)
    try:
        with _server_for(args.url, args.clients) as ws_url:
            stats = run_clients(ws_url, args.clients, args.seconds, frames, args.fps)
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report(stats, args.seconds))
    return 1 if any(s.errors for s in stats) else 0


if __name__ == "__main__":
    sys.exit(main())

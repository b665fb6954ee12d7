"""Bounded memory for every request: pixel bombs refused from the stream header, request bodies
refused while they are read. Each against the real server process, whose peak memory (VmHWM)
must stay under 1 GB."""

from __future__ import annotations

import json
import struct
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from posecoach.cli import app
from posecoach.errors import VideoError
from posecoach.media.probe import MAX_VIDEO_PIXELS, probe
from tests.bar_clips import write_pyav
from tools.loadtest import ServerProcess

MEMORY_LIMIT_BYTES = 1024**3


def png_bytes(width: int, height: int) -> bytes:
    """A valid grey PNG of `width` x `height` black pixels, built row by row (a few hundred kB
    however large the picture: the test never holds the pixels)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join([packer.compress(row) for _ in range(height)] + [packer.flush()])
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def png_in_a_video_file(path: Path, side: int = 16000) -> Path:
    """One `side` x `side` PNG picture muxed as a video stream (a MOV container; FFmpeg's
    Matroska muxer here takes no PNG), the packet written as it is, never decoded."""
    with av.open(str(path), "w", format="mov") as out:
        stream = out.add_stream("png", rate=1)
        stream.width = stream.height = side
        stream.pix_fmt = "gray"
        packet = av.Packet(png_bytes(side, side))
        packet.stream = stream
        packet.pts = packet.dts = 0
        packet.time_base = Fraction(1, 1)
        out.mux(packet)
    return path


def clip_8k(path: Path, frames: int = 3) -> Path:
    """A black 7680x4320 H.264 clip of a few frames (about 100 kB)."""
    black = np.zeros((4320, 7680, 3), np.uint8)
    write_pyav(path, [black] * frames, options={"preset": "ultrafast", "crf": "40"})
    return path


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bombs")
    return {"png16000.mkv": png_in_a_video_file(folder / "png16000.mkv"),
            "8k.mp4": clip_8k(folder / "8k.mp4")}


def peak_rss_bytes(pid: int) -> int:
    """The process's peak resident memory (VmHWM) so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc")


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"{name}\"\r\nContent-Type: video/mp4\r\n\r\n").encode()
    body += data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def post(url: str, data: bytes | Iterator[bytes], content_type: str,
         length: int | None = None) -> tuple[int, dict]:
    """POST as a browser on the same origin would; the status and the JSON answer."""
    headers = {"Content-Type": content_type, "Origin": url.split("/api")[0]}
    if length is not None:
        headers["Content-Length"] = str(length)
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.mark.parametrize("name", ["png16000.mkv", "8k.mp4"])
def test_probe_refuses_a_pixel_bomb_from_its_header(bombs: dict[str, Path], name: str) -> None:
    with pytest.raises(VideoError) as refused:
        probe(bombs[name])
    assert f"{MAX_VIDEO_PIXELS / 1e6:.1f} million pixels" in str(refused.value)
    assert name in str(refused.value)


def test_the_command_line_refuses_pixel_bombs_alike(bombs: dict[str, Path],
                                                     tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["analyze", *map(str, bombs.values()), "--out",
                                      str(tmp_path / "out")])
    output = " ".join(result.output.split())
    assert result.exit_code == 1
    assert "png16000.mkv: no picture could be decoded within posecoach's limit of 12.6 " \
        "million pixels a picture" in output, output
    assert "8k.mp4 has pictures of 7680x4320 pixels" in output, output
    assert "Traceback" not in output


def test_the_server_refuses_pixel_bombs_within_1_gb(bombs: dict[str, Path],
                                                    tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "data") as server:
        assert server.proc is not None
        answers = {}
        for name, path in bombs.items():
            body, kind = multipart(name, path.read_bytes())
            answers[name] = post(f"{server.base}/api/uploads", body, kind)
        peak = peak_rss_bytes(server.proc.pid)
        alive = server.get_json("/api/config")
        sessions = server.get_json("/api/sessions")
    for name, (status, answer) in answers.items():
        assert status == 415, (name, status, answer)
        assert "million pixels a picture" in answer["detail"], answer
    assert peak < MEMORY_LIMIT_BYTES, f"server peak {peak / 1e6:.0f} MB"
    assert alive and sessions == []


BIG_BODY_BYTES = 600 * 1000**2
CHUNK = b" " * 1_000_000


def send_large_json(base: str, path: str, declare_length: bool) -> tuple[int, str, int]:
    """POST a 600 MB JSON body to `path`, a megabyte at a time from a generator (the test
    never holds it), as far as the server reads it; its status, its answer and the bytes
    sent before it answered or closed."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(base)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
    conn.putrequest("POST", path)
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Origin", base)
    if declare_length:
        conn.putheader("Content-Length", str(BIG_BODY_BYTES))
    else:
        conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    sent = 0
    head = b'{"name": "x", "notes": "'
    try:
        for i in range(BIG_BODY_BYTES // len(CHUNK)):
            data = head + CHUNK[len(head):] if i == 0 else CHUNK
            conn.send(b"%x\r\n%s\r\n" % (len(data), data) if not declare_length else data)
            sent += len(data)
    except (BrokenPipeError, ConnectionResetError):
        pass
    response = conn.getresponse()
    answer = response.read().decode()
    conn.close()
    return response.status, answer, sent


@pytest.mark.parametrize("declare_length", [False, True], ids=["chunked", "content-length"])
def test_a_600_mb_body_is_refused_while_read(tmp_path: Path, declare_length: bool) -> None:
    with ServerProcess(tmp_path / "data") as server:
        assert server.proc is not None
        status, answer, sent = send_large_json(server.base, "/api/people", declare_length)
        peak = peak_rss_bytes(server.proc.pid)
        people = server.get_json("/api/people")
    assert status == 413, answer
    assert "too large" in json.loads(answer)["detail"]
    assert sent < BIG_BODY_BYTES, "the server read the body to its end"
    assert peak < MEMORY_LIMIT_BYTES, f"server peak {peak / 1e6:.0f} MB"
    assert all(p["name"] != "x" for p in people)

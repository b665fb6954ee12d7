"""Loading a model file into an inference runtime, with plain-worded failures.

The two BlazePose models run on LiteRT or on OpenVINO (which reads the same `.tflite` files).
Either way a model is a `ModelRunner`: one float32 input in, its outputs by name out (the
names are the model file's own, the same in both runtimes).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from posecoach.errors import ModelError
from posecoach.pose.native import quiet_native_stderr

REBUILD_COMMAND = "posecoach build-model"
Engine = Literal["litert", "openvino"]
Precision = Literal["f32", "bf16"]


@dataclass(frozen=True)
class Runtime:
    """Which engine runs the models, and at what precision (bf16 exists on OpenVINO only)."""

    engine: Engine = "litert"
    precision: Precision = "f32"

    @property
    def label(self) -> str:
        return self.engine if self.precision == "f32" else f"{self.engine} {self.precision}"


LITERT = Runtime()


class ModelRunner(Protocol):
    """One model, ready to run: `output_shapes` by output name; `run` returns the outputs by
    name, valid until the next `run`."""

    output_shapes: dict[str, tuple[int, ...]]

    def run(self, tensor: np.ndarray) -> Mapping[str, np.ndarray]: ...


def _check_file(model_path: Path) -> None:
    if not model_path.is_file():
        raise ModelError(f"pose model file {model_path} is missing: run `{REBUILD_COMMAND}` "
                         "to rebuild it")


def _damaged(model_path: Path) -> ModelError:
    return ModelError(f"pose model file {model_path} is damaged and cannot be loaded: run "
                      f"`{REBUILD_COMMAND}` to rebuild it")


def load_interpreter(model_path: Path, num_threads: int) -> Any:
    """A ready LiteRT interpreter for `model_path` running on `num_threads` threads."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:
        raise ModelError(
            "the LiteRT runtime is not installed (pip install ai-edge-litert), or choose "
            "--pose-backend openvino"
        ) from exc
    _check_file(model_path)
    try:
        with quiet_native_stderr():
            interpreter = Interpreter(model_path=str(model_path), num_threads=max(1, num_threads))
            interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        raise _damaged(model_path) from exc
    return interpreter


class LiteRTRunner:
    """A model on LiteRT."""

    def __init__(self, model_path: Path, num_threads: int) -> None:
        self._interpreter = load_interpreter(model_path, num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        details = self._interpreter.get_output_details()
        self._index = {d["name"]: d["index"] for d in details}
        self.output_shapes = {d["name"]: tuple(int(n) for n in d["shape"]) for d in details}

    def run(self, tensor: np.ndarray) -> Mapping[str, np.ndarray]:
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        return _LiteRTOutputs(self._interpreter, self._index)


class _LiteRTOutputs(Mapping[str, np.ndarray]):
    """An interpreter's outputs by name, each copied out only when read."""

    def __init__(self, interpreter: Any, index: dict[str, int]) -> None:
        self._interpreter, self._index = interpreter, index

    def __getitem__(self, name: str) -> np.ndarray:
        return self._interpreter.get_tensor(self._index[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


class OpenVINORunner:
    """A model on OpenVINO's CPU plugin, read from the same `.tflite` file."""

    def __init__(self, model_path: Path, num_threads: int, precision: Precision) -> None:
        from posecoach.pose.openvino_runtime import compile_model

        _check_file(model_path)
        try:
            with quiet_native_stderr():
                compiled = compile_model(model_path, num_threads, precision)
        except (RuntimeError, ValueError) as exc:
            raise _damaged(model_path) from exc
        self._request = compiled.create_infer_request()
        self._ports = {}
        self.output_shapes = {}
        for port in compiled.outputs:
            for name in port.get_names():
                self._ports[name] = port
                self.output_shapes[name] = tuple(int(n) for n in port.get_shape())

    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        results = self._request.infer({0: tensor}, share_inputs=True, share_outputs=True)
        return {name: results[port] for name, port in self._ports.items()}


def load_runner(model_path: Path, num_threads: int, runtime: Runtime = LITERT) -> ModelRunner:
    """`model_path` ready to run on `runtime` with `num_threads` threads."""
    if runtime.engine == "openvino":
        return OpenVINORunner(model_path, max(1, num_threads), runtime.precision)
    return LiteRTRunner(model_path, num_threads)


def output_named(runner: ModelRunner, model_path: Path, name: str,
                 shape: tuple[int, ...] | None = None) -> str:
    """`name`, checked to be an output of the model (of `shape` when given)."""
    found = runner.output_shapes.get(name)
    if found is None or (shape is not None and found != shape):
        raise ModelError(f"pose model file {model_path} is not the BlazePose model posecoach "
                         f"expects (output {name} {found}): run `{REBUILD_COMMAND}` to rebuild it")
    return name

"""OpenVINO, imported so that it sends nothing anywhere, and the facts about this CPU it uses.

`import openvino` also imports its model converter, which starts Intel's usage telemetry
(`openvino_telemetry`): with no consent recorded it writes a client id under `~/intel` and
contacts an analytics server. posecoach promises that nothing leaves the machine, so it imports
OpenVINO through `import_openvino()`, which switches that off in two independent ways:

- the telemetry package is never loaded: `sys.modules["openvino_telemetry"]` is set to None
  before the import, so OpenVINO's own `except ImportError` fallback uses its built-in no-op
  stub (every import of the package inside OpenVINO has that fallback);
- should the package already be loaded by something else in the process, `CI=true` is set for
  the length of the import: the telemetry declines consent in CI whatever the consent file says
  (`OptInChecker.check(..., disable_in_ci=True)`, as OpenVINO calls it), and writes nothing.

Neither depends on the user's home folder. tests/pose/test_openvino_telemetry.py proves, in a
child process with a fresh HOME, that importing and running the model attempts no network
connection and writes nothing under HOME.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

import platformdirs

from posecoach.errors import ModelError
from posecoach.paths import APP_NAME

TELEMETRY_MODULE = "openvino_telemetry"
CI_ENV = "CI"
_import_lock = threading.Lock()


def import_openvino() -> ModuleType:
    """The `openvino` module, imported with its usage telemetry switched off.

    Raises ModelError with the install command when OpenVINO is not installed.
    """
    with _import_lock:
        loaded = sys.modules.get("openvino")
        if loaded is not None:
            return loaded
        if TELEMETRY_MODULE not in sys.modules:
            sys.modules[TELEMETRY_MODULE] = None  # type: ignore[assignment]
        saved = os.environ.get(CI_ENV)
        os.environ[CI_ENV] = "true"
        try:
            import openvino
        except ImportError as exc:
            raise ModelError(
                "the OpenVINO runtime is not installed (pip install openvino), or choose "
                "--pose-backend litert") from exc
        finally:
            if saved is None:
                os.environ.pop(CI_ENV, None)
            else:
                os.environ[CI_ENV] = saved
        return openvino


def compiled_cache_dir() -> Path:
    """Where OpenVINO keeps the models it compiled, so the next start loads them in a fraction
    of the time (posecoach's folder in the user cache, for example ~/.cache/posecoach)."""
    return platformdirs.user_cache_path(APP_NAME) / "openvino"


@functools.lru_cache(maxsize=1)
def core() -> Any:
    """The process's one OpenVINO `Core` (it holds the CPU plugin and its thread pools).

    Compiled models are cached on disk: compiling the landmark model takes 1-2 s on two busy
    cores, loading it from the cache a tenth of that (the cache also serves every thread count).
    """
    ov_core = import_openvino().Core()
    folder = compiled_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return ov_core  # a read-only home: compile every time
    ov_core.set_property({"CACHE_DIR": str(folder)})
    return ov_core


def compile_model(model_path: Path, num_threads: int, precision: str) -> Any:
    """`model_path` compiled for the CPU on `num_threads` threads at `precision` ("f32"/"bf16").

    The precision is always set: OpenVINO's own default on CPUs with AMX is bf16.
    """
    # compiled from the path, not from a read model: with the cache, a model compiled before is
    # loaded without reading and converting the .tflite file again (0.7 s each on a busy host)
    return core().compile_model(str(model_path), "CPU", {
        "INFERENCE_NUM_THREADS": max(1, int(num_threads)),
        "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_PRECISION_HINT": precision,
        # several models (live sessions, a batch's files) share two cores: no pinning
        "ENABLE_CPU_PINNING": False,
    })


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (Linux /proc/cpuinfo; empty elsewhere)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


@functools.lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name, as the system reports it."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        for line in text.splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine() or "unknown CPU"


def has_amx() -> bool:
    """True when the CPU has AMX tiles for bf16 (where OpenVINO's bf16 is fastest)."""
    return {"amx_bf16", "amx_tile"} <= cpu_flags()

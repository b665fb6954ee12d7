"""INT8 landmark model by NNCF post-training quantisation: its speed and its agreement with LiteRT.

An experiment, not a feature: NNCF is not a dependency of posecoach. Run it in an environment
that has it (`pip install nncf` beside the test environment's packages), from the checkout:

    CI=true python -m benchmarks.int8_experiment [--out out/int8]

(`CI=true` keeps OpenVINO's and NNCF's usage telemetry off.) It records the 256 x 256 crops the
landmark model sees on the shared clips (OpenVINO f32, as `analyze` runs it), quantises the model
on 300 of them picked at random, then times the f32, bf16 and INT8 landmark models on one and two
threads and runs every clip through LiteRT and through OpenVINO with the INT8 landmark model,
printing the agreement table of `tests/pose/test_openvino_agreement.py`'s bounds.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

CALIBRATION_CLIPS = ("side_walk_1080p60", "side_walk_two_people_vp9", "front_two_walkers",
                     "back_view_people_139s")
CALIBRATION_CROPS = 300
CROP_SHAPE = (1, 256, 256, 3)


def record_crops() -> list[np.ndarray]:
    """The landmark model's input on every frame of the calibration clips."""
    import posecoach.pose.blazepose.runtime_io as runtime_io
    from tests.pose.reference import CLIPS, run_backend

    crops: list[np.ndarray] = []
    run = runtime_io.OpenVINORunner.run

    def recording(self: Any, tensor: np.ndarray) -> Any:
        if tensor.shape == CROP_SHAPE:
            crops.append(np.array(tensor))
        return run(self, tensor)

    runtime_io.OpenVINORunner.run = recording  # type: ignore[method-assign]
    try:
        for name in CALIBRATION_CLIPS:
            run_backend(CLIPS[name], "openvino")
    finally:
        runtime_io.OpenVINORunner.run = run  # type: ignore[method-assign]
    return crops


def quantise(landmark_path: Path, out: Path) -> Path:
    """The INT8 landmark model as OpenVINO IR in `out` (made once)."""
    import nncf
    import openvino as ov

    xml = out / "pose_landmark_full_int8.xml"
    if xml.exists():
        return xml
    crops = record_crops()
    rng = np.random.default_rng(0)
    picked = sorted(rng.choice(len(crops), size=min(CALIBRATION_CROPS, len(crops)),
                               replace=False))
    model = ov.Core().read_model(str(landmark_path))
    quantised = nncf.quantize(model, nncf.Dataset([crops[i] for i in picked]),
                              subset_size=len(picked))
    out.mkdir(parents=True, exist_ok=True)
    ov.save_model(quantised, str(xml))
    return xml


def time_models(landmark_path: Path, int8_path: Path, runs: int = 200) -> None:
    from posecoach.pose.openvino_runtime import compile_model

    tensor = np.random.default_rng(1).random(CROP_SHAPE, dtype=np.float32)
    for threads in (1, 2):
        for label, path, precision in (("f32", landmark_path, "f32"),
                                       ("bf16", landmark_path, "bf16"),
                                       ("int8", int8_path, "f32")):
            request = compile_model(path, threads, precision).create_infer_request()
            for _ in range(10):
                request.infer({0: tensor})
            ms = []
            for _ in range(runs):
                start = time.perf_counter()
                request.infer({0: tensor})
                ms.append(1000 * (time.perf_counter() - start))
            print(f"landmark model {label}, {threads} thread(s): p50 {np.median(ms):.2f} ms "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)


def agreement(landmark_path: Path, int8_path: Path) -> None:
    import posecoach.pose.blazepose.landmarker as landmarker
    from posecoach.pose.blazepose.runtime_io import LITERT, Runtime
    from posecoach.settings import load_settings
    from tests.pose.reference import CLIPS, analyse, compare, run_backend

    load = landmarker.load_runner

    def int8_runner(path: Path, threads: int, runtime: Runtime = LITERT) -> Any:
        if runtime.engine == "openvino" and Path(path) == landmark_path:
            return load(int8_path, threads, runtime)
        return load(path, threads, runtime)

    landmarker.load_runner = int8_runner  # type: ignore[assignment]
    settings = load_settings()
    print("| clip | INT8 landmarks, % of body height, median / p95 | found differs | "
          "direction / view / steps (LiteRT) | trunk / head median change |")
    print("|---|---|---|---|---|")
    for name in sorted(CLIPS):
        litert = run_backend(CLIPS[name], "litert", threads=1)
        int8 = run_backend(CLIPS[name], "openvino", threads=1)
        agree = compare(litert, int8)
        theirs = analyse(litert, settings, name).summary
        ours = analyse(int8, settings, name).summary

        def change(field: str, a: Any = ours, b: Any = theirs) -> str:
            x, y = getattr(a, field), getattr(b, field)
            return "n/a" if x is None or y is None else f"{x - y:+.2f}"

        print(f"| {name} | {100 * agree.median_share:.2f} / {100 * agree.p95_share:.2f} | "
              f"{100 * agree.found_mismatch_share:.1f}% | {ours.direction} / {ours.view} / "
              f"{ours.steps} ({theirs.direction} / {theirs.view} / {theirs.steps}) | "
              f"{change('trunk_lean_deg_median')} / {change('head_angle_deg_median')} |",
              flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    from posecoach.pose.model import litert_model_paths

    parser = argparse.ArgumentParser(prog="python -m benchmarks.int8_experiment")
    parser.add_argument("--out", type=Path, default=Path("out/int8"))
    args = parser.parse_args(argv)
    _, landmark_path = litert_model_paths("auto")
    int8_path = quantise(landmark_path, args.out)
    time_models(landmark_path, int8_path)
    agreement(landmark_path, int8_path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

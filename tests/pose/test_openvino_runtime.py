"""Loading the models on OpenVINO: plain-worded failures, and the facts about the CPU."""

from __future__ import annotations

import pytest

from posecoach.errors import ModelError, user_message
from posecoach.pose.blazepose.runtime_io import OpenVINORunner, Runtime, load_runner
from posecoach.pose.model import litert_model_paths
from posecoach.pose.openvino_runtime import compiled_cache_dir, cpu_flags, cpu_model, has_amx


def test_missing_model_file_names_the_file_and_the_command(tmp_path):
    with pytest.raises(ModelError) as err:
        load_runner(tmp_path / "pose_landmark_full.tflite", 1, Runtime("openvino"))
    message = user_message(err.value)
    assert "pose_landmark_full.tflite" in message and "posecoach build-model" in message


def test_damaged_model_file_names_the_file_and_the_command(tmp_path):
    bad = tmp_path / "pose_detection.tflite"
    bad.write_bytes(b"not a model" * 100)
    with pytest.raises(ModelError) as err:
        OpenVINORunner(bad, 1, "f32")
    assert str(bad) in str(err.value) and "posecoach build-model" in str(err.value)


def test_outputs_are_named_as_in_the_model_file():
    detector_path, landmark_path = litert_model_paths("auto")
    detector = load_runner(detector_path, 1, Runtime("openvino"))
    landmarks = load_runner(landmark_path, 1, Runtime("openvino"))
    assert detector.output_shapes == {"Identity": (1, 2254, 12), "Identity_1": (1, 2254, 1)}
    assert landmarks.output_shapes["Identity"] == (1, 195)
    assert landmarks.output_shapes["Identity_3"] == (1, 64, 64, 39)
    assert any(compiled_cache_dir().iterdir())  # compiled models are kept for the next start


def test_cpu_facts_come_from_the_system():
    assert cpu_model().strip()
    flags = cpu_flags()
    assert has_amx() == ({"amx_bf16", "amx_tile"} <= flags)

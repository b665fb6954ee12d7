"""Tests for posecoach.outputs.overlay on a real frame with synthetic landmarks."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import cv2
import numpy as np
import pytest

import posecoach.outputs.overlay as overlay_mod
from posecoach.coach.cues import Cue
from posecoach.coach.gait import Step
from posecoach.coach.metrics import FrameMetrics
from posecoach.outputs.overlay import Overlay
from posecoach.pose.landmarks import Landmark as L
from posecoach.pose.landmarks import PoseFrame, empty_frame
from posecoach.settings import Settings
from tests.conftest import ROOT, TEST_OUTPUT, VIDEO

SIDE_1080 = VIDEO / "side_walk_1080p60.mp4"
OUT = TEST_OUTPUT / "overlay"

# The walker of side_walk_1080p60.mp4 at frame 60, facing image left (1920x1080 pixels).
POSE_1080 = {
    L.NOSE: (985, 385), L.LEFT_EYE: (995, 372), L.RIGHT_EYE: (995, 372),
    L.LEFT_EAR: (1038, 378), L.RIGHT_EAR: (1040, 380),
    L.LEFT_SHOULDER: (1045, 480), L.RIGHT_SHOULDER: (1050, 478),
    L.LEFT_ELBOW: (1015, 620), L.RIGHT_ELBOW: (1060, 610),
    L.LEFT_WRIST: (915, 705), L.RIGHT_WRIST: (1080, 700),
    L.LEFT_HIP: (1025, 740), L.RIGHT_HIP: (1035, 742),
    L.LEFT_KNEE: (965, 895), L.RIGHT_KNEE: (1075, 900),
    L.LEFT_ANKLE: (905, 1025), L.RIGHT_ANKLE: (1110, 1040),
    L.LEFT_HEEL: (915, 1040), L.RIGHT_HEEL: (1125, 1055),
    L.LEFT_FOOT_INDEX: (860, 1050), L.RIGHT_FOOT_INDEX: (1080, 1062),
}


def real_frame() -> np.ndarray:
    from posecoach.media.reader import VideoReader

    with VideoReader(SIDE_1080) as reader:
        for frame in reader:
            if frame.index == 60:
                return frame.image.copy()
    raise AssertionError("frame 60 not found")


@pytest.fixture(scope="module")
def base_image(shared_data: Path) -> np.ndarray:
    return real_frame()


def pose(index: int = 60, time_s: float = 1.0, w: int = 1920, h: int = 1080,
         shift: float = 0.0) -> PoseFrame:
    pts = empty_frame()
    for lm, (x, y) in POSE_1080.items():
        pts[lm] = (x * w / 1920 + shift, y * h / 1080, 0.0, 0.95)
    return PoseFrame(index, time_s, w, h, pts)


def metrics(time_s: float = 1.0, **changes: object) -> FrameMetrics:
    values: dict[str, object] = {
        "frame": 60, "time_s": time_s, "has_person": True, "view": "side", "facing": -1,
        "direction": "backward", "pelvis_speed_leg_s": -0.6, "trunk_lean_deg": 4.0,
        "trunk_lateral_lean_deg": math.nan, "head_angle_deg": 12.0, "looking_down": False,
        "head_turn": 0.1, "head_turned": False, "edge_distance_frac": 0.1,
        "fully_in_frame": True, "leg_length_px": 300.0, "hip_height_frac": 0.3,
        "fallen": False,
    }
    for f in dataclasses.fields(FrameMetrics):  # fields added later get a neutral value
        values.setdefault(f.name, math.nan)
    values.update(changes)
    return FrameMetrics(**{f.name: values[f.name] for f in dataclasses.fields(FrameMetrics)})


def cue(message: str = "Stand tall: chest up, shoulders over your hips.",
        severity: str = "warning") -> Cue:
    return Cue("trunk_upright", message, severity, 0.5, None,  # type: ignore[arg-type]
               "Maintain Good Posture: keep your head up, shoulders back, and core engaged.")


def changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=2) > 30


def mid(a: L, b: L) -> np.ndarray:
    return (np.array(POSE_1080[a]) + np.array(POSE_1080[b])) / 2.0


def test_draws_in_place_in_expected_regions(base_image: np.ndarray) -> None:
    img = base_image.copy()
    out = Overlay(Settings()).draw(img, pose(), metrics(), cue())
    assert out is img and out.shape == base_image.shape and out.dtype == np.uint8
    diff = changed(out, base_image)
    # banner: the top rows are tinted amber across the whole width
    top = out[:40].reshape(-1, 3).mean(axis=0)
    assert diff[:40].mean() > 0.9 and top[0] > 180 and top[1] > 110 and top[2] < 90
    # near the trunk line (mid-hip to mid-shoulder)
    hip, shoulder = mid(L.LEFT_HIP, L.RIGHT_HIP), mid(L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    for a in (0.25, 0.5, 0.75):
        x, y = (hip + a * (shoulder - hip)).round().astype(int)
        assert diff[y - 4 : y + 5, x - 4 : x + 5].any()
    # status box in the top-left corner, under the banner
    assert diff[95:175, 15:400].mean() > 0.15
    assert not diff[-10:].any()  # the feet near the bottom edge stay visible
    # an area away from the walker, banner and strip is untouched
    assert not diff[300:600, 100:500].any()


def test_trunk_and_head_colours_follow_the_limits(base_image: np.ndarray) -> None:
    hip, shoulder = mid(L.LEFT_HIP, L.RIGHT_HIP), mid(L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    ear = mid(L.LEFT_EAR, L.RIGHT_EAR)
    trunk_px = tuple((hip + 0.4 * (shoulder - hip)).round().astype(int))
    head_px = tuple((shoulder + 0.5 * (ear - shoulder)).round().astype(int))

    def colours(lean: float, head: float) -> tuple[tuple[int, ...], tuple[int, ...]]:
        img = base_image.copy()
        Overlay(Settings()).draw(img, pose(), metrics(trunk_lean_deg=lean, head_angle_deg=head),
                                 None)
        return tuple(img[trunk_px[1], trunk_px[0]]), tuple(img[head_px[1], head_px[0]])

    assert colours(4.0, 10.0) == (overlay_mod.GOOD, overlay_mod.GOOD)
    assert colours(-13.0, 30.0) == (overlay_mod.WARN, overlay_mod.WARN)
    assert colours(25.0, 60.0) == (overlay_mod.BAD, overlay_mod.BAD)
    assert colours(math.nan, math.nan) == (overlay_mod.NEUTRAL, overlay_mod.NEUTRAL)


def test_nobody_in_view(base_image: np.ndarray) -> None:
    ov = Overlay(Settings())
    img = base_image.copy()
    ov.draw(img, None, None, cue("Step back into the camera view", "critical"))
    diff = changed(img, base_image)
    top = img[:30].reshape(-1, 3).mean(axis=0)
    assert top[0] > 150 and top[1] < 80  # red banner
    assert diff[60:140, 15:300].any()  # status box under the banner
    assert not diff[200:1000, 200:1700].any()  # nothing drawn on the scene
    empty = PoseFrame(1, 0.1, 1920, 1080, empty_frame())
    img2 = base_image.copy()
    ov.draw(img2, empty, metrics(has_person=False), None)
    assert not changed(img2, base_image)[100:1000].any()


@pytest.mark.parametrize("kind", ["all_nan", "half_nan", "inf", "huge", "negative"])
def test_odd_landmarks_do_not_raise(base_image: np.ndarray, kind: str) -> None:
    p = pose()
    if kind == "all_nan":
        p.points[:] = np.nan
    elif kind == "half_nan":
        p.points[::2, :2] = np.nan
    elif kind == "inf":
        p.points[L.LEFT_HIP, 0] = np.inf
        p.points[L.RIGHT_SHOULDER, 1] = -np.inf
    elif kind == "huge":
        p.points[:, :2] *= 1e12
    elif kind == "negative":
        p.points[:, :2] -= 5000
    img = base_image.copy()
    out = Overlay(Settings()).draw(img, p, metrics(trunk_lean_deg=math.nan), cue())
    assert out.shape == base_image.shape and out.dtype == np.uint8


def test_step_marks_are_remembered_at_the_ankle(base_image: np.ndarray) -> None:
    ov = Overlay(Settings())
    fps = 60.0
    left_ankle = np.array(POSE_1080[L.LEFT_ANKLE])
    step = Step(time_s=10 / fps, frame=10, side="left", step_length_leg=0.5,
                step_length_m=None, step_time_s=None)
    img = base_image.copy()
    for i in range(40):
        # the walker drifts right by 10 px per frame; the step was at frame 10
        p = pose(i, i / fps, shift=10.0 * i)
        img = base_image.copy()
        steps = [step] if i >= 25 else []  # reported 15 frames late, as a live detector may
        ov.draw(img, p, metrics(i / fps), None, steps)
    diff = changed(img, base_image)
    heel_y = max(POSE_1080[L.LEFT_HEEL][1], POSE_1080[L.LEFT_FOOT_INDEX][1])
    x = int(left_ankle[0] + 100)  # the ankle at frame 10
    assert diff[heel_y - 3 : heel_y + 4, x - 10 : x + 11].mean() > 0.3
    # gone after the memory time
    img = base_image.copy()
    later = 40 / fps + overlay_mod.STEP_MEMORY_S + 1
    ov.draw(img, pose(500, later, shift=400), metrics(later), None, [step])
    assert not changed(img, base_image)[heel_y - 3 : heel_y + 4, x - 10 : x + 11].any()


def test_future_steps_wait_for_their_frame(base_image: np.ndarray) -> None:
    ov = Overlay(Settings())
    steps = [Step(2.0, 120, "right", 0.5, None, None)]
    ov.draw(base_image.copy(), pose(60, 1.0), metrics(1.0), None, steps)
    assert ov._marks == []
    ov.draw(base_image.copy(), pose(120, 2.0), metrics(2.0), None, steps)
    assert len(ov._marks) == 1 and ov._marks[0].side == "right"


@pytest.mark.parametrize(("w", "h"), [(854, 480), (1920, 1080)])
def test_sizes_follow_the_frame_height(base_image: np.ndarray, w: int, h: int) -> None:
    img = cv2.resize(base_image, (w, h), interpolation=cv2.INTER_AREA)
    before = img.copy()
    Overlay(Settings()).draw(img, pose(w=w, h=h), metrics(), cue())
    rows = np.where(changed(img, before).mean(axis=1) > 0.95)[0]
    banner_h = rows[rows < h // 2].max() + 1
    assert 0.06 * h < banner_h < 0.14 * h


def test_landmarks_are_scaled_to_the_image(base_image: np.ndarray) -> None:
    # pose found on a 960x540 copy, drawn on the full 1080p frame
    img = base_image.copy()
    Overlay(Settings()).draw(img, pose(w=960, h=540), metrics(), None)
    diff = changed(img, base_image)
    hip, shoulder = mid(L.LEFT_HIP, L.RIGHT_HIP), mid(L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    x, y = (hip + 0.5 * (shoulder - hip)).round().astype(int)
    assert diff[y - 4 : y + 5, x - 4 : x + 5].any()


def test_long_cue_wraps_within_the_width() -> None:
    ov = Overlay(Settings())
    img = np.full((480, 640, 3), 90, np.uint8)
    long = ("Keep your steps short and your weight over the balls of your feet, "
            "look ahead rather than down, and keep your shoulders relaxed and back. ") * 3
    before = img.copy()
    ov.draw(img, None, None, cue(long))
    lines = Overlay._wrap(long, 640 - 2 * 14 * 480 // 720, 1.05 * 480 / 720, 2, 3)
    assert len(lines) == 3 and lines[-1].endswith("...")
    banner_rows = changed(img, before).mean(axis=1) > 0.95
    assert banner_rows[:100].sum() > 80  # three lines tall
    assert Overlay._wrap("Supercalifragilisticexpialidocious" * 3, 200, 1.0, 2, 5)[0]


def test_non_contiguous_input_is_drawn_in_place(base_image: np.ndarray) -> None:
    big = base_image.copy()
    view = big[:, ::2]
    out = Overlay(Settings()).draw(view, None, metrics(has_person=False), cue())
    assert out is view
    assert changed(big[:30, ::2], base_image[:30, ::2]).mean() > 0.9


def test_draw_works_in_place_on_the_frame_it_is_given(base_image: np.ndarray) -> None:
    """The overlay draws into the frame it is given; its cost per frame is in `make bench`."""
    ov = Overlay(Settings())
    img = base_image.copy()
    steps = [Step(0.9, 54, "left", 0.5, None, None)]
    for i in range(30):
        out = ov.draw(img, pose(55 + i, 0.92 + i / 60), metrics(), cue(), steps)
        assert out is img
    assert out.shape == base_image.shape and out.dtype == base_image.dtype
    assert np.any(out != base_image)


def test_saves_samples_for_a_look(base_image: np.ndarray) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    ov = Overlay(Settings())
    img = base_image.copy()
    for i in range(0, 61):
        img = base_image.copy()
        steps = [Step(20 / 60, 20, "left", 0.5, None, None), Step(45 / 60, 45, "right", 0.5,
                                                                  None, None)]
        ov.draw(img, pose(i, i / 60, shift=2.0 * (i - 60)),
                metrics(i / 60, trunk_lean_deg=13.0, head_angle_deg=12.0),
                cue("Stand tall: lift your chest and keep your shoulders over your hips"),
                steps)
    path = OUT / "side_walk_1080p_overlay.png"
    assert cv2.imwrite(str(path), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    small = cv2.resize(base_image, (854, 480), interpolation=cv2.INTER_AREA)
    Overlay(Settings()).draw(small, pose(w=854, h=480), metrics(view="front",
                             direction="forward", fully_in_frame=False),
                             cue("Great form, keep going!", "info"))
    assert cv2.imwrite(str(OUT / "side_walk_480p_overlay.png"),
                       cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
    assert path.stat().st_size > 10_000


def test_one_side_palette_for_video_plots_and_web() -> None:
    from posecoach.outputs import palette, plots

    assert palette.hex_to_rgb(palette.LEFT_HEX) == overlay_mod.LEFT_COLOUR
    assert palette.hex_to_rgb(palette.RIGHT_HEX) == overlay_mod.RIGHT_COLOUR
    assert plots.SIDE_COLORS == {"left": palette.LEFT_HEX, "right": palette.RIGHT_HEX}
    css = (ROOT / "web" / "app.css").read_text(encoding="utf-8")
    declared = dict(re.findall(r"--side-(left|right):\s*(#[0-9A-Fa-f]{6})\s*;", css))
    assert {side: colour.upper() for side, colour in declared.items()} == palette.SIDE_HEX
    skeleton = (ROOT / "web" / "js" / "skeleton.js").read_text(encoding="utf-8")
    assert "--side-left" in skeleton and "--side-right" in skeleton

"""Typed settings, loaded from one TOML file that users can edit.

The defaults live in `default_config.toml` beside this module. A user file passed with
`--config` is merged over them key by key, and a level preset (`--level`) is merged over that.
"""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from posecoach.errors import SettingsError, os_error_words

View = Literal["side", "front", "back"]
LEVELS = ("beginner", "intermediate", "advanced")
# A walker's height must lie strictly between these, in centimetres: the one declaration that
# settings, the people records, the HTTP bodies and the pages (through /api/config) follow.
MIN_HEIGHT_CM, MAX_HEIGHT_CM = 50.0, 260.0
DEFAULT_CONFIG_PATH = Path(__file__).with_name("default_config.toml")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PoseSettings(_Strict):
    backend: Literal["auto", "litert", "openvino", "mediapipe"] = "auto"
    threads: int = Field(0, ge=0, le=256)
    model: str = "auto"
    num_poses: int = Field(2, ge=1, le=5)
    live_num_poses: int = Field(1, ge=1, le=5)
    people_check_s: float = Field(0.5, ge=0)
    min_detection_confidence: float = Field(0.5, ge=0, le=1)
    min_tracking_confidence: float = Field(0.5, ge=0, le=1)
    max_input_side_px: int = Field(1920, ge=160)


class OutputSettings(_Strict):
    annotated_max_side_px: int = Field(1280, ge=160)
    preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"
    ] = "ultrafast"
    crf: int = Field(26, ge=0, le=51)
    recording_backlog_mb: int = Field(96, ge=8, le=4096)


class TrackingSettings(_Strict):
    lost_after_s: float = Field(1.0, gt=0)


class SetupCheckSettings(_Strict):
    duration_s: float = Field(2.5, ge=0.5, le=10)
    min_body_height_frac: float = Field(0.4, gt=0, le=1)
    min_visibility: float = Field(0.6, ge=0, le=1)
    min_brightness: float = Field(30.0, ge=0, le=255)
    min_share: float = Field(0.5, gt=0, le=1)


class TimingSettings(_Strict):
    max_gap_s: float = Field(5.0, ge=0.1, le=3600)


class SmoothingSettings(_Strict):
    min_visibility: float = Field(0.5, ge=0, le=1)
    max_gap_s: float = Field(0.25, ge=0)
    offline_cutoff_hz: float = Field(6.0, gt=0)
    offline_order: int = Field(4, ge=1, le=8)
    live_min_cutoff_hz: float = Field(1.5, gt=0)
    live_beta: float = Field(0.3, ge=0)
    live_d_cutoff_hz: float = Field(1.0, gt=0)


class MetricsSettings(_Strict):
    side_view_max_shoulder_ratio: float = Field(0.45, gt=0)
    front_view_min_shoulder_ratio: float = Field(0.6, gt=0)
    standing_max_speed_leg_s: float = Field(0.12, ge=0)
    direction_window_s: float = Field(1.0, gt=0)
    edge_margin_frac: float = Field(0.015, ge=0, lt=0.5)
    head_turn_min: float = Field(0.55, ge=0, le=1)
    looking_down_min_deg: float = 25.0
    leg_length_ratio: float = Field(0.491, gt=0.2, lt=0.8)


class GaitSettings(_Strict):
    min_step_time_s: float = Field(0.25, gt=0)
    max_step_time_s: float = Field(2.0, gt=0)
    min_step_prominence_leg: float = Field(0.08, ge=0)
    min_step_share_of_median: float = Field(0.4, ge=0, le=1)
    min_edge_step_share: float = Field(0.6, ge=0, le=1)
    min_walk_s: float = Field(1.0, ge=0)


class WalkSettingSettings(_Strict):
    """Where the walk happens: overground, or on a treadmill (or in place)."""

    setting: Literal["auto", "overground", "treadmill"] = "auto"
    feet_cycle_min_range_leg: float = Field(0.25, gt=0)
    treadmill_min_share: float = Field(0.5, gt=0, le=1)
    live_window_s: float = Field(4.0, gt=0)
    hands_still_max_range_leg: float = Field(0.08, gt=0)
    letting_go_after_sessions: int = Field(3, ge=1)


class SafetySettings(_Strict):
    fall_drop_leg_s: float = Field(1.5, gt=0)
    fall_horizontal_deg: float = Field(60.0, gt=0, lt=90)


class RuleSettings(_Strict):
    """What every rule has: persistence before firing, cooldown, priority, the views it judges
    in (within the views it can judge at all), and the guidance sentence it enforces."""

    persist_s: float = Field(0.0, ge=0)
    cooldown_s: float = Field(0.0, ge=0)
    priority: int = Field(5, ge=1, description="1 is most urgent (safety)")
    views: tuple[View, ...] = ("side", "front", "back")
    guidance: str = ""


class TrunkUprightRule(RuleSettings):
    max_forward_lean_deg: float = 10.0
    max_backward_lean_deg: float = 10.0


class TrunkSwayRule(RuleSettings):
    max_lateral_lean_deg: float = 8.0


class HeadUpRule(RuleSettings):
    max_head_angle_deg: float = 25.0


class LookBackRule(RuleSettings):
    max_glance_s: float = Field(2.0, gt=0)


class StepLengthRule(RuleSettings):
    max_step_length_leg: float = Field(0.75, gt=0)
    min_steps: int = Field(2, ge=1)


class GoodFormRule(RuleSettings):
    """A praise rule: it speaks after this long with no fault."""

    praise_after_s: float = Field(15.0, gt=0)


class RulesSettings(_Strict):
    """One section per rule of `posecoach.coach.rules.RULES`, named by the rule's id."""

    trunk_upright: TrunkUprightRule = TrunkUprightRule()
    trunk_sway: TrunkSwayRule = TrunkSwayRule()
    head_up: HeadUpRule = HeadUpRule()
    look_back: LookBackRule = LookBackRule()
    step_length: StepLengthRule = StepLengthRule()
    in_frame: RuleSettings = RuleSettings()
    fall: RuleSettings = RuleSettings()
    camera_view: RuleSettings = RuleSettings()
    good_form: GoodFormRule = GoodFormRule()


class BaselineSettings(_Strict):
    enabled: bool = False
    duration_s: float = Field(3.0, gt=0)
    max_trunk_change_deg: float = Field(8.0, gt=0)
    max_head_change_deg: float = Field(10.0, gt=0)


class SessionSettings(_Strict):
    suggested_minutes: float = Field(5, gt=0)


Population = Literal["community", "nursing_home", "parkinsons", "stroke", "ms"]


class TimedTestSettings(_Strict):
    """The 3-metre backward walk test: whether to run it, its trials and scoring, and how the
    start, the end and the distance scale are found (see `posecoach.coach.timed_test`)."""

    run: bool = False
    population: Population = "community"
    distance_m: float = Field(3.0, gt=0)
    practice_trials: int = Field(0, ge=0)
    trials: int = Field(2, ge=1)
    scoring: Literal["mean", "best", "first", "median"] = "mean"
    floor_marks_px: tuple[float, ...] = ()
    floor_marks_apart_m: float = Field(3.0, gt=0)
    previous_time_s: float | None = Field(None, gt=0)
    still_min_s: float = Field(0.5, gt=0)
    still_max_speed_leg_s: float = Field(0.15, gt=0)
    onset_still_m: float = Field(0.02, gt=0)
    onset_moving_m: float = Field(0.10, gt=0)
    turn_min_s: float = Field(0.3, gt=0)
    forward_back_m: float = Field(0.3, gt=0)
    crown_above_ear_m: float = Field(0.12, ge=0, lt=0.3)
    height_scale_uncertainty: float = Field(0.03, ge=0, lt=0.5)
    mark_click_px: float = Field(2.0, ge=0)


class Settings(_Strict):
    level: Literal["beginner", "intermediate", "advanced"] = "beginner"
    pose: PoseSettings = PoseSettings()
    output: OutputSettings = OutputSettings()
    tracking: TrackingSettings = TrackingSettings()
    setup_check: SetupCheckSettings = SetupCheckSettings()
    timing: TimingSettings = TimingSettings()
    smoothing: SmoothingSettings = SmoothingSettings()
    metrics: MetricsSettings = MetricsSettings()
    gait: GaitSettings = GaitSettings()
    walk_setting: WalkSettingSettings = WalkSettingSettings()
    safety: SafetySettings = SafetySettings()
    rules: RulesSettings = RulesSettings()
    baseline: BaselineSettings = BaselineSettings()
    session: SessionSettings = SessionSettings()
    timed_test: TimedTestSettings = TimedTestSettings()
    height_cm: float | None = Field(None, gt=MIN_HEIGHT_CM, lt=MAX_HEIGHT_CM)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


MAX_TOML_DEPTH = 32
"""No posecoach setting nests deeper than a few levels; deeper files are refused plainly."""


def _depth(value: Any) -> int:
    """How deeply `value` nests tables and arrays, counted without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_TOML_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(
            item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        if _depth(data) > MAX_TOML_DEPTH:
            raise RecursionError
        return data
    except FileNotFoundError as exc:
        raise SettingsError(f"configuration file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError:
        raise SettingsError(f"{path} is not a text file in UTF-8, as TOML must be: save it "
                            "as UTF-8") from None
    except RecursionError:
        raise SettingsError(f"{path} nests its arrays or tables too deeply to be a "
                            "posecoach configuration") from None
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {os_error_words(exc)}") from exc


def load_settings(
    config: str | Path | None = None,
    level: str | None = None,
    height_cm: float | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    """Load the defaults, merge a user file, apply the level preset, and validate.

    Raises `SettingsError` with a readable message for any problem.
    """
    data = _read_toml(DEFAULT_CONFIG_PATH)
    if config is not None:
        data = _merge(data, _read_toml(Path(config)))
    if overrides:
        data = _merge(data, overrides)
    levels = data.pop("levels", {})
    chosen = level or data.get("level", "beginner")
    if chosen not in LEVELS:
        raise SettingsError(f"unknown level {chosen!r}: choose one of {', '.join(LEVELS)}")
    data["level"] = chosen
    data = _merge(data, levels.get(chosen, {}))
    if height_cm is not None:
        data["height_cm"] = height_cm
    height = data.get("height_cm")
    if isinstance(height, float) and not math.isfinite(height):
        raise SettingsError(f"height_cm must be a number between {MIN_HEIGHT_CM:g} and "
                            f"{MAX_HEIGHT_CM:g} cm, got {height}")
    try:
        return Settings.model_validate(data)
    except RecursionError:
        raise SettingsError("the configuration nests its tables too deeply") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from exc

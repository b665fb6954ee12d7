"""Settings: defaults, user files, level presets and readable errors."""

from __future__ import annotations

import pytest

from posecoach.coach.rules import RULE_IDS, RULES
from posecoach.settings import RulesSettings, SettingsError, load_settings


def test_defaults_load_and_have_every_rule():
    s = load_settings()
    assert s.level == "beginner"
    assert set(RulesSettings.model_fields) == set(RULE_IDS)
    for rule in RULES:
        section = getattr(s.rules, rule.id)
        assert isinstance(section, rule.settings_type), rule.id
        assert section.guidance, rule.id
    assert s.rules.fall.priority < s.rules.trunk_upright.priority


@pytest.mark.parametrize(
    ("level", "forward_limit", "minutes"),
    [("beginner", 12.0, 5), ("intermediate", 10.0, 10), ("advanced", 8.0, 15)],
)
def test_level_presets(level, forward_limit, minutes):
    s = load_settings(level=level)
    assert s.rules.trunk_upright.max_forward_lean_deg == forward_limit
    assert s.session.suggested_minutes == minutes


def test_user_file_overrides_one_key_and_keeps_the_rest(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('level = "intermediate"\n[rules.head_up]\npersist_s = 4.0\n')
    s = load_settings(cfg)
    assert s.level == "intermediate"
    assert s.rules.head_up.persist_s == 4.0
    assert s.rules.head_up.max_head_angle_deg == 25.0  # from the intermediate preset


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[rules.head_up\n", "not valid TOML"),
        ("[rules.head_up]\npersist_s = -1\n", "rules.head_up.persist_s"),
        ("[pose]\nunknown_key = 1\n", "pose.unknown_key"),
        ('level = "expert"\n', "unknown level"),
    ],
)
def test_bad_files_give_readable_errors(tmp_path, text, message):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_settings(cfg)


def test_missing_file():
    with pytest.raises(SettingsError, match="not found"):
        load_settings("/nonexistent/posecoach.toml")


def test_height_is_validated():
    assert load_settings(height_cm=172).height_cm == 172
    with pytest.raises(SettingsError, match="height_cm"):
        load_settings(height_cm=5)

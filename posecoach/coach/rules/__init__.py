"""Coaching rules: the catalogue of rules and the engine that times their cues."""

from posecoach.coach.rules.base import Judge, JudgeInput, Rule, Verdict
from posecoach.coach.rules.catalogue import (
    RULE_IDS,
    RULE_LABELS,
    RULES,
    RULES_BY_ID,
    rules_for_display,
)
from posecoach.coach.rules.engine import RuleEngine, evaluate_rules, urgency_key

__all__ = [
    "RULES",
    "RULES_BY_ID",
    "RULE_IDS",
    "RULE_LABELS",
    "Judge",
    "JudgeInput",
    "Rule",
    "RuleEngine",
    "Verdict",
    "evaluate_rules",
    "rules_for_display",
    "urgency_key",
]

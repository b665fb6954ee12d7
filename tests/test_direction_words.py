"""The walking direction reads the same everywhere: the reports' words (outputs/words.py) and
the pages' (web/js/words.js) are one list, with a word for every direction a frame or a clip
can have."""

from __future__ import annotations

import re
from typing import get_args

from posecoach.coach import metrics
from posecoach.outputs import summary
from posecoach.outputs.words import DIRECTION_WORDS
from tests.conftest import ROOT


def _page_words() -> dict[str, str]:
    text = (ROOT / "web" / "js" / "words.js").read_text(encoding="utf-8")
    block = text[text.index("DIRECTION_WORDS = {"):]
    block = block[:block.index("}")]
    return dict(re.findall(r'(\w+): "([^"]+)"', block))


def test_pages_and_reports_use_the_same_direction_words() -> None:
    assert _page_words() == DIRECTION_WORDS


def test_every_direction_has_a_word() -> None:
    directions = set(get_args(metrics.Direction)) | set(get_args(summary.Direction))
    assert directions == set(DIRECTION_WORDS)
    assert len(set(DIRECTION_WORDS.values())) == len(DIRECTION_WORDS)

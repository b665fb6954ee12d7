"""The README and the pages in docs/: every relative link and image resolves, every docs page is
reachable from the README, and the README stays short."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 260

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target "title"); the text may wrap onto the next line
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:


@dataclass(frozen=True)
class Link:
    """One relative link or image in a Markdown page."""

    page: Path
    target: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)} -> {self.target}"


def _prose(text: str) -> str:
    """The page without code, where brackets and parentheses are not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def _links(page: Path) -> list[Link]:
    targets = LINK.findall(_prose(page.read_text(encoding="utf-8")))
    return [Link(page, t) for t in targets if not EXTERNAL.match(t)]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", page.read_text(encoding="utf-8"))):
        slug = _slug(heading)
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


ALL_LINKS = [link for page in PAGES for link in _links(page)]


def test_the_pages_have_links_to_check() -> None:
    assert len(PAGES) >= 10, [p.name for p in PAGES]
    assert sum(link.page == README for link in ALL_LINKS) >= 20


@pytest.mark.parametrize("link", ALL_LINKS, ids=str)
def test_a_relative_link_resolves(link: Link) -> None:
    path_part, _, anchor = link.target.partition("#")
    target = (link.page.parent / unquote(path_part)).resolve() if path_part else link.page
    assert target.exists(), f"{link}: {target} does not exist"
    assert ROOT in target.parents or target == ROOT, f"{link} leaves the repository"
    if anchor:
        assert target.suffix == ".md", f"{link}: an anchor into a file that is not Markdown"
        assert anchor in _anchors(target), (
            f"{link}: no heading #{anchor} in {target.name} (it has {sorted(_anchors(target))})"
        )


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    linked = {(README.parent / link.target.partition("#")[0]).resolve()
              for link in _links(README)}
    unlinked = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not unlinked, f"docs pages the README does not link to: {unlinked}"


def test_the_readme_stays_short() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) < README_MAX_LINES, (
        f"README.md has {len(lines)} lines; keep it under {README_MAX_LINES} and move detail "
        "to docs/"
    )


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("The 3-metre backward walk test (3MBWT)", "the-3-metre-backward-walk-test-3mbwt"),
        ("Outputs (one folder per video)", "outputs-one-folder-per-video"),
        ("`summary.json` and `SessionSummary`", "summaryjson-and-sessionsummary"),
        ("Data and licences", "data-and-licences"),
    ],
)
def test_anchors_are_made_as_github_makes_them(heading: str, slug: str) -> None:
    assert _slug(heading) == slug

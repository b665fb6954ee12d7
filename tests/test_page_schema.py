"""web/schema.json is generated from the declarations and current, and the pages read no key
that it does not declare.

The scan is static and pragmatic: in every web/js/*.js it follows property chains on the
names the pages give to server data (`msg.metrics.fully_in_frame`, `result.trials`,
`cue?.message`) and destructuring of them (`const { a, b } = msg`); a name followed by `(` is a
method call and ends the chain. Every key read must be a property somewhere in the schema, or
a JavaScript built-in of the short list below.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tools.page_schema import SCHEMA_PATH, render

JS_DIR = SCHEMA_PATH.parent / "js"

# The names the pages bind to server data: WebSocket messages, HTTP bodies and their parts.
DATA_NAMES = (
    "msg", "message", "result", "lastResult", "m", "metrics", "cue", "active", "setup", "check",
    "st", "step", "item", "session", "summary", "sa", "sb", "rec", "ra", "rb", "detail",
    "record", "trial", "timed", "finished", "tt", "test", "row", "person", "config", "lan",
    "job", "j", "resp", "body", "progress", "suggestion", "checkin", "existing", "limits",
    "interp", "rule",
)
# Where a page uses one of those names for something else.
NOT_DATA = {
    "api.js": {"resp", "session"},   # a fetch Response; the page's own recording state
    "checkin.js": {"result"},        # a DOM element
}
# Built-in properties of JavaScript values (arrays, strings, objects) read on server data.
JS_BUILTINS = frozenset({
    "length",      # arrays and strings
})

CHAIN = re.compile(
    r"(?<![\w$.])(?P<name>" + "|".join(DATA_NAMES) + r")(?P<chain>(?:\??\.[A-Za-z_$][\w$]*)+)"
    r"(?P<call>\s*\()?"
)
DESTRUCTURE = re.compile(
    r"(?:const|let|var)\s*\{(?P<keys>[^}]*)\}\s*=\s*(?P<name>" + "|".join(DATA_NAMES) + r")\b"
)
COMMENT = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
STRING = re.compile(r"`(?:\\.|[^`\\])*`|\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*'")


def declared_keys(schema: dict) -> set[str]:
    """Every property name anywhere in the schema."""
    keys: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict):
                keys.update(properties)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    # The top level names the schema's entries, not keys of any object.
    walk([*schema.get("properties", {}).values(), *schema.get("$defs", {}).values()])
    return keys


def _code(text: str) -> str:
    """JavaScript without comments; template literals keep their ${...} parts."""
    text = COMMENT.sub(" ", text)
    def keep_expressions(match: re.Match[str]) -> str:
        literal = match.group(0)
        if literal.startswith("`"):
            return " ".join(re.findall(r"\$\{([^}]*)\}", literal)) or '""'
        return '""'
    return STRING.sub(keep_expressions, text)


def key_reads(text: str, not_data: frozenset[str] = frozenset()) -> list[str]:
    """The keys read on server data in one page's JavaScript (`not_data`: names the page uses
    for something else)."""
    code = _code(text)
    reads: list[str] = []
    for match in CHAIN.finditer(code):
        if match.group("name") in not_data:
            continue
        keys = [k for k in re.split(r"\??\.", match.group("chain")) if k]
        if match.group("call"):
            keys = keys[:-1]  # the last name is a method
        reads.extend(keys)
    for match in DESTRUCTURE.finditer(code):
        if match.group("name") in not_data:
            continue
        for part in match.group("keys").split(","):
            key = part.split(":")[0].split("=")[0].strip()
            if key and not key.startswith("..."):
                reads.append(key)
    return reads


def undeclared(declared: set[str]) -> dict[str, list[str]]:
    """Per page, the keys it reads that nothing declares."""
    out: dict[str, list[str]] = {}
    for path in sorted(JS_DIR.glob("*.js")):
        reads = key_reads(path.read_text(), frozenset(NOT_DATA.get(path.name, ())))
        unknown = sorted({k for k in reads if k not in declared and k not in JS_BUILTINS})
        if unknown:
            out[path.name] = unknown
    return out


@pytest.fixture(scope="module")
def declared() -> set[str]:
    return declared_keys(json.loads(SCHEMA_PATH.read_text()))


def test_the_committed_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text() == render(), (
        "web/schema.json is stale: run python -m tools.page_schema")


def test_the_schema_declares_the_websocket_keys_the_pages_read(declared: set[str]) -> None:
    assert {"fully_in_frame", "on_rails", "trunk_lean_deg", "head_angle_deg", "new_cues",
            "floor_marks_px", "praise", "walking", "session_id", "speak"} <= declared


def test_every_key_the_pages_read_is_declared(declared: set[str]) -> None:
    assert not undeclared(declared), (
        "the pages read keys no schema declares (declare them in posecoach/server/messages.py "
        "or schemas.py, then run python -m tools.page_schema)")


@pytest.mark.parametrize(
    ("code", "keys"),
    [
        ("const m = msg.metrics; if (m.fully_in_frame) x();", ["metrics", "fully_in_frame"]),
        ("if (msg?.setup?.done) x();", ["setup", "done"]),
        ("msg.cues.map((c) => c);", ["cues"]),
        ("const { status, error: why } = msg;", ["status", "error"]),
        ("const t = `${result.time_s.toFixed(2)} s`; // result.ignored", ["time_s"]),
        ("foo.msg.bar; msgs.baz; 'msg.quoted'", []),
    ],
)
def test_the_scan_finds_property_reads(code: str, keys: list[str]) -> None:
    assert key_reads(code) == keys


def test_a_read_of_an_undeclared_key_fails(
    declared: set[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for page in JS_DIR.glob("*.js"):
        (tmp_path / page.name).write_text(page.read_text())
    status = tmp_path / "status.js"
    status.write_text(status.read_text().replace(
        "const m = msg.metrics;", "const m = msg.metrics; const sway = m.bogus_sway_deg;"))
    monkeypatch.setattr(__name__ + ".JS_DIR", tmp_path)
    assert undeclared(declared) == {"status.js": ["bogus_sway_deg"]}

"""The package's imports point one way, down its floors (`posecoach.floors`), with no cycle.

Every import statement counts: at module level, inside functions, and under TYPE_CHECKING.
The checker is also run on small packages made here, so it is shown to fail when it should.
"""

from __future__ import annotations

import ast
import graphlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from posecoach.floors import FLOORS, floor_of

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "posecoach"


@dataclass(frozen=True)
class Import:
    """One import of a module of the package by another, where it is written."""

    importer: str
    target: str
    line: int


def module_name(path: Path, root: Path) -> str:
    """Dotted name of the module at `path` in the package whose folder is `root`."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports(root: Path) -> tuple[set[str], list[Import]]:
    """Every module of the package at `root`, and every import of one by another."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    found: list[Import] = []
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                # `from a import b` imports the module a.b when there is one, else a name of a
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base
                           for alias in node.names]
            else:
                continue
            found.extend(Import(name, t, node.lineno) for t in targets
                         if t == root.name or t.startswith(root.name + "."))
    return set(files), found


def upward_imports(imports: list[Import]) -> list[str]:
    """The imports from a lower floor to a higher one, in words."""
    out = []
    for imp in imports:
        low, high = floor_of(imp.importer), floor_of(imp.target)
        if low is not None and high is not None and high > low:
            out.append(f"{imp.importer} (floor {low}, line {imp.line}) imports "
                       f"{imp.target} (floor {high})")
    return out


def import_cycle(imports: list[Import]) -> list[str] | None:
    """One import cycle among the modules, or None when there is none."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.target != imp.importer:
            graph.setdefault(imp.importer, set()).add(imp.target)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def test_every_module_has_a_floor() -> None:
    modules, _ = package_imports(PACKAGE_DIR)
    assert [m for m in sorted(modules) if floor_of(m) is None] == []


def test_each_floor_is_listed_once() -> None:
    names = [name for floor in FLOORS for name in floor]
    assert len(names) == len(set(names))


def test_no_import_goes_up_a_floor() -> None:
    _, imports = package_imports(PACKAGE_DIR)
    assert len(imports) > 300, "the checker reads the package's imports"
    upward = upward_imports(imports)
    assert not upward, "imports up the floors (posecoach/floors.py):\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    _, imports = package_imports(PACKAGE_DIR)
    cycle = import_cycle(imports)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


# ---------------------------------------------------------------------------- the checker


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "posecoach"
    for name, text in {"__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(("files", "upward"), [
    ({"pose/__init__.py": "", "pose/a.py": "from posecoach.pipeline import b\n",
      "pipeline/__init__.py": "", "pipeline/b.py": ""}, ["posecoach.pose.a"]),
    ({"coach/__init__.py": "",
      "coach/a.py": "def f():\n    from posecoach.server.c import x\n    return x\n",
      "server/__init__.py": "", "server/c.py": "x = 1\n"}, ["posecoach.coach.a"]),
    ({"media/__init__.py": "", "media/a.py": "from ..outputs import files\n",
      "outputs/__init__.py": "", "outputs/files.py": ""}, ["posecoach.media.a"]),
    ({"settings.py": "from posecoach.coach import rules\n", "coach/__init__.py": "",
      "coach/rules/__init__.py": ""}, ["posecoach.settings"]),
    ({"outputs/__init__.py": "", "outputs/a.py": "from posecoach.coach.b import c\n",
      "coach/__init__.py": "", "coach/b.py": "c = 1\n"}, []),
], ids=["module level", "in a function", "relative", "helper to package", "downward"])
def test_the_checker_finds_upward_imports(
    tmp_path: Path, files: dict[str, str], upward: list[str]
) -> None:
    _, imports = package_imports(_package(tmp_path, files))
    assert [text.split(" ")[0] for text in upward_imports(imports)] == upward


def test_the_checker_finds_a_cycle(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "pipeline/__init__.py": "",
        "pipeline/offline.py": "from posecoach.pipeline.recorder import R\n",
        "pipeline/recorder.py": "def f():\n    from posecoach.pipeline import offline\n",
    })
    _, imports = package_imports(root)
    cycle = import_cycle(imports)
    assert cycle is not None
    assert set(cycle) == {"posecoach.pipeline.offline", "posecoach.pipeline.recorder"}

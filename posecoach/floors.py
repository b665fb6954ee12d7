"""The package's floors, bottom to top: a module imports only from its own floor or below.

Data flows up the floors: frames and their times (`media`) become landmarks (`pose`), metrics,
steps and cues (`coach`), then files (`outputs`); `pipeline` runs them together on threads and
`server` serves them. Plain helpers sit below everything; the command line and the package's
own public surface sit on top. tests/test_layers.py holds the package to this order.
"""

from __future__ import annotations

FLOORS: tuple[tuple[str, ...], ...] = (
    ("posecoach.errors", "posecoach.paths", "posecoach.settings", "posecoach.frame_rate",
     "posecoach.jsonable", "posecoach.version", "posecoach.floors", "posecoach.records"),
    ("posecoach.pose",),
    ("posecoach.media",),
    ("posecoach.coach",),
    ("posecoach.outputs",),
    ("posecoach.pipeline",),
    ("posecoach.server",),
    ("posecoach", "posecoach.cli", "posecoach.__main__"),
)
"""Each floor's modules and packages (a package holds every module under it)."""


def floor_of(module: str) -> int | None:
    """The floor of a module of posecoach (by its longest listed prefix), None if unlisted."""
    best: tuple[int, int] | None = None  # (prefix length, floor)
    for floor, names in enumerate(FLOORS):
        for name in names:
            inside = module == name or (name != "posecoach" and module.startswith(name + "."))
            if inside and (best is None or len(name) > best[0]):
                best = (len(name), floor)
    return None if best is None else best[1]

"""Time budgets for upload jobs: a job that overruns fails with its reason, and the queue moves on.

A job may take `min_s`, or `s_per_frame` for each of its frames when that is longer (the frame
count from the probe, or the frames decoded so far when the file does not say). The analysis
runs on a thread of its own; when the budget runs out the job fails at once and the worker
takes the next job, while the abandoned analysis stops at its next frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from posecoach.errors import PosecoachError

T = TypeVar("T")

MIN_BUDGET_S = 300.0
BUDGET_S_PER_FRAME = 1.0
_POLL_S = 0.5


class BudgetExceeded(PosecoachError):
    """An analysis ran longer than its time budget."""


class JobBudget:
    """The time one job may take; `check` is called with each frame's progress."""

    def __init__(
        self,
        frame_count: int | None = None,
        min_s: float = MIN_BUDGET_S,
        s_per_frame: float = BUDGET_S_PER_FRAME,
    ) -> None:
        if not min_s > 0 or not s_per_frame >= 0:
            raise ValueError("a job budget needs a positive floor and a non-negative rate")
        self.frame_count = frame_count or 0
        self.min_s = float(min_s)
        self.s_per_frame = float(s_per_frame)
        self.frames_done = 0
        self.started = time.monotonic()
        self._cancelled = threading.Event()

    @property
    def allowed_s(self) -> float:
        """Seconds the job may take, given the frames it has (or has shown it has)."""
        return max(self.min_s, self.s_per_frame * max(self.frame_count, self.frames_done))

    def remaining_s(self) -> float:
        return self.allowed_s - (time.monotonic() - self.started)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Make the analysis stop at its next `check`."""
        self._cancelled.set()

    def check(self, frames_done: int | None = None) -> None:
        """Note the progress; raise `BudgetExceeded` once the budget has run out."""
        if frames_done is not None:
            self.frames_done = max(self.frames_done, int(frames_done))
        if self.cancelled:
            raise BudgetExceeded(self.message())

    def message(self) -> str:
        minutes = self.allowed_s / 60.0
        return (
            f"the analysis was stopped: it took longer than its time budget of "
            f"{minutes:.1f} min" + (f" for {self.frame_count} frames" if self.frame_count else "")
        )


def run_within_budget(work: Callable[[], T], budget: JobBudget, name: str = "posecoach-analysis"
                      ) -> T:
    """`work()`'s result, run on its own thread; raises what it raised, or `BudgetExceeded`
    (after cancelling `budget`) when it is still running once the budget is spent."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    while True:
        thread.join(timeout=min(_POLL_S, max(0.01, budget.remaining_s())))
        if not thread.is_alive():
            break
        if budget.remaining_s() <= 0:
            budget.cancel()
            raise BudgetExceeded(budget.message())
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]

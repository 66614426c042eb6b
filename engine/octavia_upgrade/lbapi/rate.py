"""Rate control of a fleet operation, as AWS Systems Manager Automation names it.

A canary goes first, alone; then at most ``max_concurrency`` run at once;
once more than ``max_errors`` have failed, nothing new starts (those running
finish). Both limits take a count or a percentage of the targets, rounded
up to at least 1 for concurrency (``"10%"`` of 15 is 2), and down for errors
(``"10%"`` of 15 tolerates 1 failure).
"""

from __future__ import annotations

import math


def parse_limit(value: int | str) -> tuple[int | None, float | None]:
    """``5`` → (5, None); ``"20%"`` → (None, 20.0). Raises ValueError on anything else."""
    if isinstance(value, bool):
        raise ValueError(f"not a count or a percentage: {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a count cannot be negative: {value}")
        return value, None
    text = str(value).strip()
    if text.endswith("%"):
        pct = float(text[:-1])
        if not 0 <= pct <= 100:
            raise ValueError(f"a percentage is 0-100%: {value!r}")
        return None, pct
    if text.isdigit():
        return int(text), None
    raise ValueError(f"not a count or a percentage: {value!r}")


def concurrency(value: int | str, targets: int) -> int:
    """How many may run at once (at least 1)."""
    count, pct = parse_limit(value)
    n = count if count is not None else math.ceil(targets * (pct or 0) / 100)
    return max(1, n)


def error_budget(value: int | str, targets: int) -> int:
    """How many failures are tolerated; one more stops new starts."""
    count, pct = parse_limit(value)
    return count if count is not None else math.floor(targets * (pct or 0) / 100)


class RateControl:
    """Decides, as results come in, whether another target may start now.

    Canaries run one at a time, and nothing else starts until every canary
    succeeded; a failed canary stops the operation whatever ``max_errors``
    allows.
    """

    def __init__(self, targets: int, canary: int, max_concurrency: int | str,
                 max_errors: int | str) -> None:
        self.targets = targets
        self.canary = max(0, min(canary, targets))
        self.limit = concurrency(max_concurrency, targets)
        self.budget = error_budget(max_errors, targets)
        self.started = self.finished = self.errors = 0
        self.canary_failed = False

    @property
    def exceeded(self) -> bool:
        """More failures than ``max_errors`` allows."""
        return self.errors > self.budget

    @property
    def stopped(self) -> bool:
        """Nothing new may start: a canary failed or the error budget is spent."""
        return self.canary_failed or self.exceeded

    def may_start(self, running: int) -> bool:
        if self.stopped or self.started >= self.targets:
            return False
        if self.finished < self.canary:
            return running == 0
        return running < self.limit

    def start(self) -> None:
        self.started += 1

    def finish(self, ok: bool) -> None:
        if not ok:
            self.errors += 1
            if self.finished < self.canary:
                self.canary_failed = True
        self.finished += 1

"""Every status word the tool records or reports, in one place.

They are :class:`~enum.StrEnum` members, so they compare equal to the plain
strings stored in the state database and written to JSON (``RunStatus.FAILED
== "failed"``), and a typo is an ``AttributeError`` instead of a silent miss.
"""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:  # pragma: no cover - Python 3.10
    class StrEnum(str, Enum):
        """``enum.StrEnum`` of Python 3.11: members print as their value."""

        def __str__(self) -> str:
            return str(self.value)

        def __format__(self, spec: str) -> str:
            return format(str(self.value), spec)


class RunStatus(StrEnum):
    """A run's life: ``running`` until it ends; ``interrupted`` after SIGINT/SIGTERM
    (resumable); ``aborted`` when a failure policy stopped it; ``rolled_back``
    after its rollback steps ran; ``refused`` when the deployed release or the
    preflight refused it before its first step (nothing ran; not resumable)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    ABORTED = "aborted"
    ROLLED_BACK = "rolled_back"
    REFUSED = "refused"


class ResultStatus(StrEnum):
    """A (step, host, attempt)'s life. ``unknown``: it was in flight when the
    engine died, so whether it took effect is not known (see ``resume``)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMED_OUT = "timed_out"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"
    ABORTED = "aborted"


class Phase(StrEnum):
    MAIN = "main"
    ROLLBACK = "rollback"
    FINALLY = "finally"


#: Run statuses after which nothing more happens without ``resume``.
FINAL_RUN_STATUSES = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.ABORTED,
                      RunStatus.ROLLED_BACK, RunStatus.REFUSED)
#: Results that count as done: a resumed run does not repeat them.
DONE = (ResultStatus.SUCCEEDED, ResultStatus.SKIPPED)

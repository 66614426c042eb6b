"""One exception tree for the whole tool.

Every error a user can cause derives from :class:`UpgradeError` and carries
the exit code the CLI turns it into (see ``docs/cli.md``). Only the CLI's
entry point turns exceptions into exit codes; the core never calls
``sys.exit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_INVALID = 2
EXIT_REFUSED = 3
EXIT_INTERRUPTED = 130


@dataclass(frozen=True, order=True)
class Diagnostic:
    """A finding tied to a place in a file: ``path:line:col: rule: message``.

    ``line`` and ``col`` are 1-based; 0 means "the whole file".
    """

    path: str
    line: int
    col: int
    rule: str
    message: str
    severity: str = "error"  # error | warning | info

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.rule}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "rule": self.rule,
            "message": self.message,
            "severity": self.severity,
        }


class UpgradeError(Exception):
    """Root of every error octavia-upgrade reports to its user."""

    exit_code = EXIT_STEP_FAILED


class InvalidInput(UpgradeError):
    """Input (runbook, inventory, flavor, arguments) is wrong. Nothing ran."""

    exit_code = EXIT_INVALID

    def __init__(self, message: str, diagnostics: list[Diagnostic] | None = None) -> None:
        super().__init__(message)
        self.diagnostics: list[Diagnostic] = list(diagnostics or [])

    def __str__(self) -> str:
        if self.diagnostics:
            return "\n".join(str(d) for d in self.diagnostics)
        return super().__str__()


class Refused(UpgradeError):
    """The tool refuses to proceed (wrong jump, version mismatch, lock held)."""

    exit_code = EXIT_REFUSED


class ConnectionFailure(UpgradeError):
    """A host could not be reached, or the connection broke: its outcome is ``unreachable``."""


class StateError(UpgradeError):
    """The run-state database cannot be opened, written or migrated."""

    exit_code = EXIT_STEP_FAILED


class Interrupted(UpgradeError):
    """SIGINT/SIGTERM: the current state write finished, then the run stopped."""

    exit_code = EXIT_INTERRUPTED


@dataclass
class ErrorList:
    """Collects diagnostics while validating, so one pass reports them all."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, path: str, line: int, col: int, rule: str, message: str,
            severity: str = "error") -> None:
        self.items.append(Diagnostic(path, line, col, rule, message, severity))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    def raise_if_errors(self, what: str) -> None:
        if self.errors:
            raise InvalidInput(f"{what} is invalid", sorted(self.items))

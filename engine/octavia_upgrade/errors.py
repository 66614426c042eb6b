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


class StepFailed(UpgradeError):
    """A step failed on at least one host and the failure policy stopped the run."""

    exit_code = EXIT_STEP_FAILED


class StateError(UpgradeError):
    """The run-state database cannot be opened, written or migrated."""

    exit_code = EXIT_STEP_FAILED


class Interrupted(UpgradeError):
    """SIGINT/SIGTERM: the current state write finished, then the run stopped."""

    exit_code = EXIT_INTERRUPTED


# -- errors that carry data: the CLI words them in its own terms (see cli/wording.py)


class ParamSyntaxError(InvalidInput):
    """A parameter assignment is not ``NAME=VALUE``."""

    def __init__(self, item: str) -> None:
        super().__init__(f"parameter {item!r}: expected NAME=VALUE")
        self.item = item


class UnknownHosts(InvalidInput):
    """A host limit names hosts the inventory does not have."""

    def __init__(self, names: list[str], known: list[str], inventory: str) -> None:
        super().__init__(f"unknown host(s) {', '.join(names)} "
                         f"(inventory {inventory} has {', '.join(known)})")
        self.names, self.known, self.inventory = list(names), list(known), inventory


class SecretParamsMissing(InvalidInput):
    """A resumed run needs its secret parameters again: they are never stored."""

    def __init__(self, names: list[str]) -> None:
        super().__init__("secret parameter(s) are never stored; give them again: "
                         + ", ".join(names))
        self.names = list(names)


class UnknownOutcome(Refused):
    """A (step, host) was in flight when the run stopped and may not simply run again."""

    def __init__(self, step_id: str, host: str) -> None:
        super().__init__(f"step {step_id} on {host} has an unknown outcome and is not marked "
                         "idempotent: check the host, then confirm running it again")
        self.step_id, self.host = step_id, host


class PlanChanged(Refused):
    """The plan rebuilt for a resume differs from the plan the run recorded."""

    def __init__(self, run_id: str, diff: str) -> None:
        super().__init__(f"the plan of run {run_id} changed since it started (the inventory, "
                         "flavor, parameters or release data differ); a run resumes only with "
                         "the plan it started with:\n" + diff)
        self.run_id, self.diff = run_id, diff


class PlanSchemaChanged(Refused):
    """The run's plan was recorded by a tool version with another plan schema."""

    def __init__(self, run_id: str, recorded: int | None, current: int,
                 tool_version: str | None) -> None:
        made = f"octavia-upgrade {tool_version}" if tool_version else "another octavia-upgrade"
        schema = f"schema {recorded}" if recorded is not None else "no schema version"
        super().__init__(
            f"run {run_id} was planned by {made} ({schema}); this version plans with schema "
            f"{current} and cannot check that the resumed run executes what was approved: "
            f"finish the run with {made}, or start a new run with this version")
        self.run_id, self.recorded, self.current = run_id, recorded, current
        self.tool_version = tool_version


class ApprovalUnavailable(UpgradeError):
    """An approval is needed but nobody can give it: no terminal, and not approved in advance.

    ``rollback_gate``: the step is a rollback approval, which advance approval
    never covers (the work it stands for is done by hand while the run waits).
    """

    def __init__(self, step_id: str, *, rollback_gate: bool = False) -> None:
        # The stored message names the approval method as it is recorded ("--yes").
        if rollback_gate:
            text = (f"step {step_id} is a rollback gate: --yes never approves it; an operator "
                    "must approve it at a terminal")
        else:
            text = (f"step {step_id} needs an approval, but there is no terminal to ask on: "
                    "resume with --yes to approve")
        super().__init__(text)
        self.step_id, self.rollback_gate = step_id, rollback_gate


class ApprovalDeclined(UpgradeError):
    """The operator answered anything but 'yes'."""

    def __init__(self, step_id: str, answer: str) -> None:
        super().__init__(f"step {step_id} was not approved (answer {answer!r})")
        self.step_id, self.answer = step_id, answer


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

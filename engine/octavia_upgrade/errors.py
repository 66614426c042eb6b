"""One exception tree for the whole tool.

Every error a user can cause derives from :class:`UpgradeError` and carries
the exit code the CLI turns it into (see ``docs/cli.md``). Only the CLI's
entry point turns exceptions into exit codes; the core never calls
``sys.exit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

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


class StateError(UpgradeError):
    """The run-state database cannot be opened, written or migrated."""

    exit_code = EXIT_STEP_FAILED


class Interrupted(UpgradeError):
    """SIGINT/SIGTERM: the current state write finished, then the run stopped."""

    exit_code = EXIT_INTERRUPTED


class UnknownRelease(InvalidInput, KeyError):
    """A release name (series or version id) the catalog does not have.

    Also a :class:`KeyError`, as :meth:`Catalog.get <octavia_upgrade.catalog.Catalog.get>`
    is a lookup.

    Attributes:
        name: the name as given.
        known: the catalog's release names.
    """

    def __init__(self, name: str, known: Iterable[str] = ()) -> None:
        import difflib

        self.name = name
        self.known = list(known)
        close = difflib.get_close_matches(name.strip().lower(), self.known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listed = f"; known: {', '.join(self.known)}" if self.known else ""
        super().__init__(f"unknown release {name!r}{hint}{listed}")

    def __str__(self) -> str:
        # Not KeyError's, which would quote the message.
        return str(self.args[0])

    def __reduce__(self) -> tuple[type[UnknownRelease], tuple[str, list[str]]]:
        return type(self), (self.name, self.known)


# -- running commands (``octavia_upgrade.transport``) ------------------------------


class TransportError(UpgradeError):
    """A command could not be run on a host (the host's fault, not the command's).

    Attributes:
        host: the name of the host (the inventory host, or ``local``); None if unknown.
    """

    def __init__(self, message: str, *, host: str | None = None) -> None:
        super().__init__(message)
        self.host = host


class ConnectionFailure(TransportError):
    """The connection to a host could not be opened, or it broke.

    Either the command did not start (every subclass but
    :class:`ConnectionLost`) or its outcome is unknown (:class:`ConnectionLost`).

    Attributes:
        host: the inventory host the command was for.
        address, port: the SSH server that failed: the host itself, or a
            bastion on the way to it.
    """

    def __init__(self, message: str, *, host: str | None = None, address: str | None = None,
                 port: int | None = None) -> None:
        super().__init__(message, host=host)
        self.address = address
        self.port = port


class HostUnreachable(ConnectionFailure):
    """Connecting failed: refused, timed out, no route, or no SSH server answered."""


class AuthenticationFailed(ConnectionFailure):
    """The host refused our key (or the key file is missing).

    Attributes:
        key_file: the key file tried; None for the SSH agent and default keys.
    """

    def __init__(self, message: str, *, host: str | None = None, address: str | None = None,
                 port: int | None = None, key_file: str | None = None) -> None:
        super().__init__(message, host=host, address=address, port=port)
        self.key_file = key_file


class HostKeyMismatch(ConnectionFailure):
    """The host's key differs from the one in known_hosts: nothing was run.

    Attributes:
        offered: fingerprint (``SHA256:...``) of the key the server offered.
        expected: fingerprint of the key known_hosts has for it.
        known_hosts: the known_hosts file.
    """

    def __init__(self, message: str, *, host: str | None = None, address: str | None = None,
                 port: int | None = None, offered: str | None = None,
                 expected: str | None = None, known_hosts: str | None = None) -> None:
        super().__init__(message, host=host, address=address, port=port)
        self.offered = offered
        self.expected = expected
        self.known_hosts = known_hosts


class UnknownHostKey(ConnectionFailure):
    """The host is not in known_hosts and strict checking is on: nothing was run.

    Also raised when the known_hosts file cannot be read (then ``offered`` is None).

    Attributes:
        offered: fingerprint (``SHA256:...``) of the key the server offered.
        known_hosts: the known_hosts file.
    """

    def __init__(self, message: str, *, host: str | None = None, address: str | None = None,
                 port: int | None = None, offered: str | None = None,
                 known_hosts: str | None = None) -> None:
        super().__init__(message, host=host, address=address, port=port)
        self.offered = offered
        self.known_hosts = known_hosts


class ConnectionLost(ConnectionFailure):
    """The connection broke while a command was running; its outcome is unknown."""


class FileUnreadable(TransportError):
    """``Transport.read_text`` could not read the file (missing, not readable).

    Attributes:
        path: the file.
    """

    def __init__(self, message: str, *, host: str | None = None,
                 path: str | None = None) -> None:
        super().__init__(message, host=host)
        self.path = path


# -- the rehearsal lab (``octavia_upgrade.lab``) -----------------------------------


class LabError(UpgradeError):
    """The lab could not be brought up, inspected or changed."""


class LabNodeError(UpgradeError):
    """A lab node could not be created, started, blocked or stopped."""


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


class LimitSplitsStep(Refused):
    """A host limit would run a whole-control-plane step on part of the control plane."""

    def __init__(self, limit: str, step_id: str, reason: str, left_out: list[str]) -> None:
        super().__init__(f"--limit {limit!r} would split step {step_id!r}: {reason}; hosts "
                         f"left out: {', '.join(left_out)}. Nothing was run: drop --limit, or "
                         "widen it to these hosts")
        self.limit, self.step_id, self.reason = limit, step_id, reason
        self.left_out = list(left_out)


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


class ApprovalRefused(Refused):
    """An approve/reject/pause/continue that cannot count: nothing was recorded.

    The step is not waiting, the approver may not approve it (the operator
    under four-eyes) or has already decided, the run is not running.
    """


class ApprovalRejected(UpgradeError):
    """Someone rejected an approval step (or its timeout declared it rejected)."""

    def __init__(self, step_id: str, by: str, reason: str) -> None:
        super().__init__(f"step {step_id} was rejected by {by}: {reason}")
        self.step_id, self.by, self.reason = step_id, by, reason


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


class PreflightFailed(Refused):
    """Prerequisites of the plan are missing on some hosts; nothing was changed.

    Attributes:
        missing: ``(host, description, steps, why)`` of every missing item.
    """

    def __init__(self, message: str, missing: list[tuple[str, str, tuple[str, ...], str]]) -> None:
        super().__init__(message)
        self.missing = missing

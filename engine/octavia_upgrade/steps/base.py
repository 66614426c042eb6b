"""The contract between the planner/executor and each step kind."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from octavia_upgrade import templating
from octavia_upgrade.model import Flavor, Host, Inventory, Step

if TYPE_CHECKING:
    from octavia_upgrade.transport import CommandResult


class Runner(Protocol):
    """What a step needs from a transport (SSH to a host, or the local machine)."""

    name: str

    def run(self, command: str, *, timeout: float | None = None,
            env: dict[str, str] | None = None, stdin: str | None = None) -> CommandResult: ...

    def read_text(self, path: str) -> str: ...


@dataclass
class Outcome:
    """The result of one attempt of one (step, host)."""

    status: str  # succeeded | failed | timed_out | unreachable | skipped
    rc: int | None = None
    stdout: str = ""
    stderr: str = ""
    #: Exposed to later templates as ``outputs[step_id]`` (and ``.hosts[host]``).
    outputs: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    #: (kind, data) pairs for the report: versions, revisions, findings, ...
    evidence: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    message: str = ""
    #: What was actually sent, in order: ``{"key", "planned", "sent"}`` per command
    #: (``planned`` is the plan's text, ``sent`` the bytes run; they differ only
    #: where the plan holds a run-time value). Filled by the executor.
    commands: list[dict[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "skipped")


@dataclass
class Approval:
    user: str
    how: str  # prompt | --yes
    at: float


class Approver(Protocol):
    def __call__(self, step: Step, message: str, impact: str | None) -> Approval: ...


@dataclass
class TaskContext:
    """Everything one (step, host) attempt may use. Built by the executor."""

    step: Step
    host: Host | None
    runner: Runner
    flavor: Flavor
    ctx: dict[str, Any]
    approver: Approver
    cancel: threading.Event
    timeout: float | None = None
    #: Runs a command on the operator machine (for http/tcp waits, local steps).
    local: Runner | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def deadline(self) -> float | None:
        return None if self.timeout is None else time.monotonic() + self.timeout

    def remaining(self, deadline: float | None) -> float | None:
        return None if deadline is None else max(0.1, deadline - time.monotonic())

    def sleep(self, seconds: float) -> None:
        """Sleep, but wake up at once when the run is interrupted."""
        if self.cancel.wait(seconds):
            raise KeyboardInterrupt


def action(flavor: Flavor, name: str, ctx: Mapping[str, Any], **extra: Any) -> str:
    """Render a flavor action (a command template) for one host."""
    from octavia_upgrade.flavors import render_action

    return render_action(flavor, name, {**ctx, **extra})


def result_outcome(res: CommandResult, ok_rc: tuple[int, ...] = (0,), capture: str = "text",
                   message: str = "") -> Outcome:
    """Turn a command result into an outcome with standard outputs."""
    outputs: dict[str, Any] = {"rc": res.rc, "stdout": res.stdout.strip()}
    if capture == "json":
        import json

        try:
            outputs["json"] = json.loads(res.stdout)
        except ValueError:
            return Outcome("failed", res.rc, res.stdout, res.stderr, outputs,
                           message="output is not valid JSON (capture: json)")
    if res.timed_out:
        return Outcome("timed_out", res.rc, res.stdout, res.stderr, outputs,
                       message=message or "timed out; the remote command was stopped")
    status = "succeeded" if res.rc in ok_rc else "failed"
    return Outcome(status, res.rc, res.stdout, res.stderr, outputs, message=message)


class Kind:
    """Base class of step kinds. Subclasses override what differs."""

    name = ""
    #: ``hosts`` (every target host), ``once`` (one host), ``local`` (operator machine).
    placement = "hosts"
    #: For ``once`` kinds: the role preferred when choosing the host.
    once_role: str | None = None

    def default_hosts(self, step: Step, inventory: Inventory) -> tuple[Host, ...]:
        return inventory.hosts

    def template_fields(self, step: Step) -> list[str]:
        """Values of ``with:`` that are command templates."""
        return [v for k, v in step.with_.items() if k == "command" and isinstance(v, str)]

    def uses_outputs(self, step: Step) -> bool:
        for t in self.template_fields(step):
            if templating.is_templated(t) and any(
                    ref[0] == "outputs" for ref in templating.references(t)):
                return True
        return False

    def describe(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
                 *, deferred: bool) -> list[str]:
        """The commands this step will run on ``host``, for plans and reports."""
        return []

    def run(self, t: TaskContext) -> Outcome:
        raise NotImplementedError


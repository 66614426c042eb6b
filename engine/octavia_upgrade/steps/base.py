"""The contract between the planner/executor and each step kind."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from octavia_upgrade import inflight, templating
from octavia_upgrade.commands import RUN_ID_TOKEN, PlannedCommand, Prerequisite
from octavia_upgrade.model import Flavor, Host, Inventory, Step

if TYPE_CHECKING:
    from octavia_upgrade.plan import PlannedStep
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
    #: where the plan holds a run-time value), with ``times`` when a poll sent
    #: the same command repeatedly. Filled by the executor.
    commands: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "skipped")


@dataclass
class Approval:
    user: str
    how: str  # prompt | --yes | cli | timeout
    at: float
    #: Every decision that made it (identity, how, origin, comment), in order.
    decisions: tuple[dict[str, Any], ...] = ()
    #: Already in the state database (decided there): the sink does not record it again.
    recorded: bool = False


class Approver(Protocol):
    def __call__(self, step: Any, message: str, impact: str | None) -> Approval: ...


@dataclass
class TaskContext:
    """Everything one (step, host) attempt may use. Built by the executor.

    A kind sends only what the plan holds for this (step, host): :meth:`run`
    takes a planned command's key, never a command line, and every command
    sent is recorded in :attr:`sent` (planned text and sent text).
    """

    step: PlannedStep
    host: str
    runner: Runner
    ctx: dict[str, Any]
    approver: Approver
    cancel: threading.Event
    timeout: float | None = None
    #: Runs a command on the operator machine (for http/tcp waits, local steps).
    local: Runner | None = None
    sent: list[dict[str, Any]] = field(default_factory=list)
    #: This attempt's number, carried by every command (``inflight.ENV``).
    attempt: int = 1

    @property
    def args(self) -> Any:
        return self.step.args

    def planned(self, key: str) -> PlannedCommand:
        return self.step.command(self.host, key)

    def has(self, key: str) -> bool:
        return any(c.key == key for c in self.step.commands.get(self.host, ()))

    def text(self, key: str) -> str:
        """The planned command ``key`` as it is sent now (run-time values filled in)."""
        c = self.planned(key)
        if c.render == "shell":
            return templating.render_command(c.text, self.ctx)
        if c.render == "text":
            return templating.render_value(c.text, self.ctx)
        return self.fill(c.text)

    def record(self, key: str, sent: str | None = None) -> str:
        """Note that planned command ``key`` was carried out (as ``sent``); returns it."""
        text = self.text(key) if sent is None else sent
        last = self.sent[-1] if self.sent else None
        if last is not None and last["key"] == key and last["sent"] == text:
            last["times"] = int(last.get("times", 1)) + 1  # a poll: one entry, counted
        else:
            # ``at``: when it was first sent (UTC), for the measured outage window.
            self.sent.append({"key": key, "planned": self.planned(key).text, "sent": text,
                              "at": datetime.now(timezone.utc).isoformat()})
        return text

    def run(self, key: str, *, timeout: float | None = None,
            stdin: str | None = None) -> CommandResult:
        """Send planned command ``key`` to this task's host and record it."""
        c = self.planned(key)
        env = {k: (templating.render_value(v, self.ctx) if c.render else self.fill(v))
               for k, v in c.env.items()}
        run_id = (self.ctx.get("run") or {}).get("id")
        if run_id is not None:
            # so that `resume` finds what this attempt left running (inflight.py)
            env[inflight.ENV] = inflight.marker(str(run_id), self.host, self.step.id,
                                                  self.attempt)
        return self.runner.run(self.record(key), timeout=timeout, env=env or None, stdin=stdin)

    def fill(self, text: str) -> str:
        """``text`` with the run's id for the plan's :data:`RUN_ID_TOKEN`."""
        return text.replace(RUN_ID_TOKEN, str(self.ctx["run"]["id"]))

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
    """Base class of step kinds. Subclasses override what differs.

    A kind has two halves: :meth:`expand`, at planning, turns the step's
    arguments into the exact commands for one host; :meth:`run`, at
    execution, sends those commands (by key, through the task) and judges
    the results. ``run`` never builds a command of its own.
    """

    name = ""
    #: ``hosts`` (every target host), ``once`` (one host), ``local`` (operator machine).
    placement = "hosts"
    #: For ``once`` kinds: the role preferred when choosing the host.
    once_role: str | None = None
    #: True: :meth:`expand` also receives ``earlier``, the steps planned before
    #: this one by id (a restore reads its backup step's arguments).
    needs_earlier = False

    def default_hosts(self, step: Step, inventory: Inventory) -> tuple[Host, ...]:
        return inventory.hosts

    def template_fields(self, args: Any) -> list[str]:
        """Arguments that are templates and may refer to earlier outputs."""
        command = getattr(args, "command", None)
        return [command] if isinstance(command, str) else []

    def uses_outputs(self, args: Any) -> bool:
        for t in self.template_fields(args):
            if templating.is_templated(t) and any(
                    ref[0] == "outputs" for ref in templating.references(t)):
                return True
        return False

    def expand(self, step: Step, flavor: Flavor, ctx: dict[str, Any], host: Host | None,
               *, deferred: bool) -> list[PlannedCommand]:
        """The commands this step sends to ``host``, in order, exactly."""
        return []

    def prerequisite_extras(self, step: Step, ctx: dict[str, Any],
                            host: Host | None) -> list[dict[str, Any]]:
        """The extra template variables of each repetition of the flavor's checks."""
        return [{}]

    def prerequisites(self, step: Step, flavor: Flavor, ctx: dict[str, Any],
                      host: Host | None) -> list[Prerequisite]:
        """What this step needs on ``host`` before the run starts (see ``preflight``)."""
        from octavia_upgrade.preflight import render

        if step.kind not in flavor.preflight:
            return []
        return render(flavor, step.kind, ctx, host.name if host else "local",
                      self.prerequisite_extras(step, ctx, host))

    def run(self, t: TaskContext) -> Outcome:
        raise NotImplementedError

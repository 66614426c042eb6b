"""The store's runs and (step, host, attempt) results.

Part of :class:`~octavia_upgrade.state.store.Store`: a run row per
``run``, a result row per attempt, written when it starts and updated once
when it ends. Everything from commands is redacted before it is stored.
"""

from __future__ import annotations

import os
import socket
import statistics
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exc, insert, select, update

from octavia_upgrade import __version__
from octavia_upgrade.errors import InvalidInput, StateError
from octavia_upgrade.state.models import RUNS, STEP_RESULTS
from octavia_upgrade.state.records import (
    PHASES,
    RESULT_STATUSES,
    RUN_STATUSES,
    Run,
    StepResult,
    new_run_id,
)
from octavia_upgrade.state.storebase import StoreBase, check, tail
from octavia_upgrade.state.storebase import user as _user
from octavia_upgrade.statuses import Phase, ResultStatus, RunStatus

# The statements of every (step, host, attempt), built once: a statement
# object memoizes its cache key, so executing it again skips straight to
# SQLAlchemy's compiled-statement cache. The columns come from the parameters.
_INSERT_RESULT = insert(STEP_RESULTS)
_END_RESULT = update(STEP_RESULTS).where(STEP_RESULTS.c.id == bindparam("result_id"))

#: What ``record_start`` wrote that ``record_end`` does not change:
#: (run_id, step_id, host, attempt, phase, started_at).
_Start = tuple[str, str, str, int, str, datetime]

#: The fields of one recorded command, in the order they are shown.
COMMAND_FIELDS = ("key", "planned", "sent")


def _run(m: Mapping[str, Any]) -> Run:
    """A ``runs`` row (or the values just inserted) as a record."""
    return Run(id=m["id"], runbook_name=m["runbook_name"], runbook_path=m["runbook_path"],
               runbook_sha256=m["runbook_sha256"], runbook_revision=m["runbook_revision"],
               from_release=m["from_release"], to_release=m["to_release"],
               deployment=m["deployment"], inventory_path=m["inventory_path"], user=m["user"],
               hostname=m["hostname"], pid=m["pid"], status=m["status"],
               started_at=m["started_at"], ended_at=m["ended_at"], params=m["params"] or {},
               plan=m["plan"], tool_version=m["tool_version"],
               catalog_version=m["catalog_version"], provenance=m["provenance"] or {},
               inventory_options=m["inventory_options"], options=m["options"],
               change_id=m.get("change_id"), change_url=m.get("change_url"),
               paused_by=m.get("paused_by"), paused_at=m.get("paused_at"))


def _result(m: Mapping[str, Any]) -> StepResult:
    """A ``step_results`` row (or the values just written) as a record."""
    return StepResult(id=m["id"], run_id=m["run_id"], step_id=m["step_id"], host=m["host"],
                      attempt=m["attempt"], phase=m["phase"], status=m["status"], rc=m["rc"],
                      started_at=m["started_at"], ended_at=m["ended_at"],
                      stdout_tail=m["stdout_tail"], stderr_tail=m["stderr_tail"],
                      outputs=m["outputs"] or {}, artifacts=m["artifacts"] or {},
                      message=m["message"], commands=list(m["commands"] or []))


class RunStore(StoreBase):
    """Runs and their step results."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Attempts this process started and has not ended yet: ``record_end``
        # answers from here instead of reading back the row it just updated.
        self._started: dict[int, _Start] = {}

    # -- runs -----------------------------------------------------------------

    def create_run(self, *, runbook_name: str, runbook_path: str, runbook_sha256: str,
                   runbook_revision: int, from_release: str, to_release: str,
                   deployment: str, inventory_path: str | None = None,
                   inventory_options: dict[str, Any] | None = None,
                   params: dict[str, Any] | None = None, plan: Any = None,
                   provenance: dict[str, Any] | None = None, run_id: str | None = None,
                   user: str | None = None, hostname: str | None = None,
                   pid: int | None = None, catalog_version: str | None = None,
                   tool_version: str | None = None,
                   started_at: datetime | None = None,
                   options: dict[str, Any] | None = None,
                   change_id: str | None = None, change_url: str | None = None) -> Run:
        """Record a new run with status ``running``.

        ``params`` pass through the redactor first: secret parameters are stored
        as ``***`` and must be supplied again on resume. ``options`` (how the
        run was started: ``detect``, ``limit``, ``yes``, ``params``, ...) are
        stored as given, redacted the same way; None when not known.
        """
        values = {
            "id": run_id or new_run_id(), "runbook_name": runbook_name,
            "runbook_path": runbook_path, "runbook_sha256": runbook_sha256,
            "runbook_revision": runbook_revision, "from_release": from_release,
            "to_release": to_release, "deployment": deployment,
            "inventory_path": inventory_path, "inventory_options": inventory_options,
            "user": user or _user(),
            "hostname": hostname or socket.gethostname(),
            "pid": os.getpid() if pid is None else pid, "status": RunStatus.RUNNING.value,
            "started_at": started_at or self.clock(), "ended_at": None,
            "params": self._clean(dict(params or {})), "plan": self._clean(plan),
            "tool_version": tool_version or __version__, "catalog_version": catalog_version,
            "provenance": self._clean(dict(provenance or {})),
            "options": None if options is None else self._clean(dict(options)),
            "change_id": change_id, "change_url": change_url}
        try:
            with self._tx() as conn:
                conn.execute(insert(RUNS), values)
        except exc.IntegrityError:
            raise StateError(f"a run with id {values['id']} already exists") from None
        return _run(values)

    def get_run(self, run_id: str) -> Run:
        with self._tx() as conn:
            row = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).first()
        if row is None:
            raise InvalidInput(f"no run {run_id!r} in the state database {self.url} "
                               "(see `octavia-upgrade runs`)")
        return _run(row._mapping)

    def list_runs(self, deployment: str | None = None) -> list[Run]:
        """All runs, oldest first (newest last)."""
        q = select(RUNS).order_by(RUNS.c.started_at, RUNS.c.id)
        if deployment is not None:
            q = q.where(RUNS.c.deployment == deployment)
        with self._tx() as conn:
            return [_run(r._mapping) for r in conn.execute(q)]

    def set_run_status(self, run_id: str, status: str, ended: bool = True) -> Run:
        """Set a run's status; ``ended`` stamps ``ended_at`` (False clears it, for resume)."""
        check(status, RUN_STATUSES, "run status")
        with self._tx() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(
                status=status, ended_at=self.clock() if ended else None))
            # Read back rather than trust rowcount: MySQL counts only rows it
            # changed unless told otherwise, and the caller wants the whole run.
            row = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).first()
            if row is None:
                raise InvalidInput(f"no run {run_id!r} in the state database {self.url}")
            return _run(row._mapping)

    # -- step results -------------------------------------------------------

    def record_start(self, run_id: str, step_id: str, host: str, attempt: int,
                     phase: str = Phase.MAIN) -> int:
        """Record that (step, host, attempt) starts now; returns the result id."""
        check(phase, PHASES, "phase")
        started_at = self.clock()
        values = {"run_id": run_id, "step_id": step_id, "host": host, "attempt": attempt,
                  "phase": str(phase), "status": ResultStatus.RUNNING.value, "rc": None,
                  "started_at": started_at, "ended_at": None, "stdout_tail": "",
                  "stderr_tail": "", "outputs": {}, "artifacts": {}, "message": "",
                  "commands": []}
        try:
            with self._tx() as conn:
                result_id = int(conn.execute(_INSERT_RESULT, values).inserted_primary_key[0])
        except exc.IntegrityError:
            raise StateError(f"run {run_id}: step {step_id!r} on host {host!r} attempt "
                             f"{attempt} is already recorded (or the run does not exist)"
                             ) from None
        self._started[result_id] = (run_id, step_id, host, attempt, str(phase), started_at)
        return result_id

    def _commands(self, commands: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
        """Commands as stored: ``key``/``planned``/``sent``, each string redacted,
        ``times`` where a poll sent the same command more than once in a row, and
        ``at`` (when it was first sent) where the executor gave it.

        Field by field, not the list as a whole: the redactor masks whole values
        under secret-looking keys, and ``key`` is one.
        """
        out = []
        for n, c in enumerate(commands or ()):
            missing = [f for f in COMMAND_FIELDS if f not in c]
            if missing:
                raise ValueError(f"command {n + 1} lacks {', '.join(missing)}: each command "
                                 f"needs {', '.join(COMMAND_FIELDS)}")
            stored: dict[str, Any] = {f: self._clean(str(c[f])) for f in COMMAND_FIELDS}
            if int(c.get("times", 1)) > 1:
                stored["times"] = int(c["times"])
            if c.get("at"):  # when it was first sent (UTC ISO 8601)
                stored["at"] = str(c["at"])
            out.append(stored)
        return out

    def record_end(self, result_id: int, status: str, rc: int | None = None,
                   stdout: str = "", stderr: str = "", outputs: dict[str, Any] | None = None,
                   artifacts: dict[str, Any] | None = None, message: str = "",
                   commands: list[dict[str, str]] | None = None) -> StepResult:
        """Record how a (step, host, attempt) ended. Output is redacted, then trimmed.

        ``commands``: what the attempt sent, in order, as ``{"key", "planned",
        "sent"}`` (the plan's text and the bytes run); stored redacted.

        One UPDATE. The returned record completes what was written with what
        this process's ``record_start`` wrote (those columns never change);
        only for an attempt started elsewhere is the row read back.
        """
        check(status, RESULT_STATUSES, "result status")
        values = {"status": status, "rc": rc, "ended_at": self.clock(),
                  "stdout_tail": tail(self._clean(stdout or ""), self.tail_bytes),
                  "stderr_tail": tail(self._clean(stderr or ""), self.tail_bytes),
                  "outputs": self._clean(dict(outputs or {})),
                  "artifacts": self._clean(dict(artifacts or {})),
                  "message": self._clean(message or ""),
                  "commands": self._commands(commands)}
        start = self._started.get(result_id)
        with self._tx() as conn:
            updated = conn.execute(_END_RESULT, {"result_id": result_id, **values}).rowcount
            if updated != 1:
                raise StateError(f"no step result {result_id} in the state database")
            if start is None:
                row = conn.execute(select(STEP_RESULTS).where(
                    STEP_RESULTS.c.id == result_id)).one()
                return _result({**row._mapping, **values})
        self._started.pop(result_id, None)
        run_id, step_id, host, attempt, phase, started_at = start
        return _result({"id": result_id, "run_id": run_id, "step_id": step_id, "host": host,
                        "attempt": attempt, "phase": phase, "started_at": started_at,
                        **values})

    def results(self, run_id: str) -> list[StepResult]:
        """Every recorded attempt of a run, in the order they started."""
        q = (select(STEP_RESULTS).where(STEP_RESULTS.c.run_id == run_id)
             .order_by(STEP_RESULTS.c.started_at, STEP_RESULTS.c.id))
        with self._tx() as conn:
            return [_result(r._mapping) for r in conn.execute(q)]

    def latest_results(self, run_id: str) -> dict[tuple[str, str], StepResult]:
        """The last attempt per (step_id, host), in the order they first started."""
        latest: dict[tuple[str, str], StepResult] = {}
        for r in self.results(run_id):
            key = (r.step_id, r.host)
            if key not in latest or r.attempt >= latest[key].attempt:
                latest[key] = r
        return latest

    def mark_in_flight_unknown(self, run_id: str) -> list[StepResult]:
        """On resume: (step, host) attempts still ``running`` become ``unknown``."""
        changed = {"status": ResultStatus.UNKNOWN.value,
                   "message": "in flight when the engine stopped; outcome unknown"}
        with self._tx() as conn:
            rows = conn.execute(select(STEP_RESULTS).where(
                STEP_RESULTS.c.run_id == run_id, STEP_RESULTS.c.status == ResultStatus.RUNNING,
            ).order_by(STEP_RESULTS.c.id)).all()
            if rows:
                conn.execute(update(STEP_RESULTS).where(
                    STEP_RESULTS.c.id.in_([r.id for r in rows])).values(**changed))
        return [_result({**r._mapping, **changed}) for r in rows]

    def step_duration_history(self, runbook_name: str,
                              before_run: str | None = None) -> dict[str, float]:
        """Median seconds per step id over succeeded results of earlier runs of a runbook."""
        sr = STEP_RESULTS.c
        q = (select(sr.step_id, sr.started_at, sr.ended_at)
             .join(RUNS, RUNS.c.id == sr.run_id)
             .where(RUNS.c.runbook_name == runbook_name, sr.status == ResultStatus.SUCCEEDED,
                    sr.ended_at.is_not(None)))
        if before_run is not None:
            q = q.where(RUNS.c.id != before_run)
        samples: dict[str, list[float]] = {}
        with self._tx() as conn:
            for step_id, start, end in conn.execute(q):
                samples.setdefault(step_id, []).append((end - start).total_seconds())
        return {k: statistics.median(v) for k, v in samples.items()}


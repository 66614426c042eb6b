"""The run-state database API: every write is committed before the call returns.

One :class:`Store` per process. Each method runs in its own short transaction,
so what a call recorded is durable (and visible to any other process) as soon
as it returns; a crash can lose at most the call in progress. Results come
back as frozen dataclasses from :mod:`octavia_upgrade.state.records`.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import statistics
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    Row,
    bindparam,
    delete,
    exc,
    insert,
    select,
    text,
    update,
)

from octavia_upgrade import __version__
from octavia_upgrade.errors import InvalidInput, Refused, StateError
from octavia_upgrade.state import db, lock
from octavia_upgrade.state.models import (
    APPROVALS,
    EVENTS,
    EVIDENCE,
    LOCKS,
    PROBE_SAMPLES,
    RUNS,
    STEP_RESULTS,
)
from octavia_upgrade.state.records import (
    APPROVAL_METHODS,
    FINAL_RUN_STATUSES,
    PHASES,
    RESULT_STATUSES,
    RUN_STATUSES,
    Approval,
    Event,
    Evidence,
    LockInfo,
    LockStatus,
    ProbeSample,
    Run,
    StepResult,
    new_run_id,
    utcnow,
)

#: Bytes of stdout/stderr kept per (step, host, attempt) unless configured.
DEFAULT_TAIL_BYTES = 4096

# The statements of every (step, host, attempt), built once: a statement
# object memoizes its cache key, so executing it again skips straight to
# SQLAlchemy's compiled-statement cache. The columns come from the parameters.
_INSERT_RESULT = insert(STEP_RESULTS)
_END_RESULT = update(STEP_RESULTS).where(STEP_RESULTS.c.id == bindparam("result_id"))
_INSERT_EVIDENCE = insert(EVIDENCE)

#: What ``record_start`` wrote that ``record_end`` does not change:
#: (run_id, step_id, host, attempt, phase, started_at).
_Start = tuple[str, str, str, int, str, datetime]


class Redacting(Protocol):
    """What the store needs from :class:`octavia_upgrade.logs.Redactor`."""

    def redact(self, value: Any) -> Any: ...


class _NoRedaction:
    def redact(self, value: Any) -> Any:
        return value


def tail(text_: str, limit: int) -> str:
    """The last ``limit`` bytes of ``text_`` (UTF-8), marked when something was cut."""
    raw = text_.encode("utf-8", errors="replace")
    if len(raw) <= limit:
        return text_
    kept = raw[-limit:].decode("utf-8", errors="ignore")
    return f"[… {len(raw) - limit} bytes omitted]\n{kept}"


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
               inventory_options=m["inventory_options"])


def _result(m: Mapping[str, Any]) -> StepResult:
    """A ``step_results`` row (or the values just written) as a record."""
    return StepResult(id=m["id"], run_id=m["run_id"], step_id=m["step_id"], host=m["host"],
                      attempt=m["attempt"], phase=m["phase"], status=m["status"], rc=m["rc"],
                      started_at=m["started_at"], ended_at=m["ended_at"],
                      stdout_tail=m["stdout_tail"], stderr_tail=m["stderr_tail"],
                      outputs=m["outputs"] or {}, artifacts=m["artifacts"] or {},
                      message=m["message"])


def _lock(m: Mapping[str, Any]) -> LockInfo:
    return LockInfo(deployment=m["deployment"], run_id=m["run_id"], user=m["user"],
                    hostname=m["hostname"], pid=m["pid"], since=m["since"],
                    heartbeat_at=m["heartbeat_at"])


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")


class Store:
    """Typed access to the run-state database. Create it with :func:`open_store`."""

    def __init__(self, engine: Engine, *, redactor: Redacting | None = None,
                 tail_bytes: int = DEFAULT_TAIL_BYTES) -> None:
        self.engine = engine
        self.url = db.safe_url(engine.url)
        self.redactor: Redacting = redactor or _NoRedaction()
        self.tail_bytes = tail_bytes
        # Attempts this process started and has not ended yet: ``record_end``
        # answers from here instead of reading back the row it just updated.
        self._started: dict[int, _Start] = {}

    # -- plumbing -----------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Connection]:
        """One committed transaction; database errors become StateError."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except exc.IntegrityError:
            raise
        except exc.SQLAlchemyError as e:
            what = "the state volume is full" if db.is_disk_full(e) else "state database error"
            raise StateError(f"{what}: {db.describe_error(e, self.engine.url)}") from None
        except OSError as e:
            raise StateError(f"state database I/O error: {e}") from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _clean(self, value: Any) -> Any:
        return self.redactor.redact(value)

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
                   started_at: datetime | None = None) -> Run:
        """Record a new run with status ``running``.

        ``params`` pass through the redactor first: secret parameters are stored
        as ``***`` and must be supplied again on resume.
        """
        values = {
            "id": run_id or new_run_id(), "runbook_name": runbook_name,
            "runbook_path": runbook_path, "runbook_sha256": runbook_sha256,
            "runbook_revision": runbook_revision, "from_release": from_release,
            "to_release": to_release, "deployment": deployment,
            "inventory_path": inventory_path, "inventory_options": inventory_options,
            "user": user or _user(),
            "hostname": hostname or socket.gethostname(),
            "pid": os.getpid() if pid is None else pid, "status": "running",
            "started_at": started_at or utcnow(), "ended_at": None,
            "params": self._clean(dict(params or {})), "plan": self._clean(plan),
            "tool_version": tool_version or __version__, "catalog_version": catalog_version,
            "provenance": self._clean(dict(provenance or {}))}
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
        _check(status, RUN_STATUSES, "run status")
        with self._tx() as conn:
            conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(
                status=status, ended_at=utcnow() if ended else None))
            # Read back rather than trust rowcount: MySQL counts only rows it
            # changed unless told otherwise, and the caller wants the whole run.
            row = conn.execute(select(RUNS).where(RUNS.c.id == run_id)).first()
            if row is None:
                raise InvalidInput(f"no run {run_id!r} in the state database {self.url}")
            return _run(row._mapping)

    # -- step results -------------------------------------------------------

    def record_start(self, run_id: str, step_id: str, host: str, attempt: int,
                     phase: str = "main") -> int:
        """Record that (step, host, attempt) starts now; returns the result id."""
        _check(phase, PHASES, "phase")
        started_at = utcnow()
        values = {"run_id": run_id, "step_id": step_id, "host": host, "attempt": attempt,
                  "phase": phase, "status": "running", "rc": None, "started_at": started_at,
                  "ended_at": None, "stdout_tail": "", "stderr_tail": "", "outputs": {},
                  "artifacts": {}, "message": ""}
        try:
            with self._tx() as conn:
                result_id = int(conn.execute(_INSERT_RESULT, values).inserted_primary_key[0])
        except exc.IntegrityError:
            raise StateError(f"run {run_id}: step {step_id!r} on host {host!r} attempt "
                             f"{attempt} is already recorded (or the run does not exist)"
                             ) from None
        self._started[result_id] = (run_id, step_id, host, attempt, phase, started_at)
        return result_id

    def record_end(self, result_id: int, status: str, rc: int | None = None,
                   stdout: str = "", stderr: str = "", outputs: dict[str, Any] | None = None,
                   artifacts: dict[str, Any] | None = None, message: str = "") -> StepResult:
        """Record how a (step, host, attempt) ended. Output is redacted, then trimmed.

        One UPDATE. The returned record completes what was written with what
        this process's ``record_start`` wrote (those columns never change);
        only for an attempt started elsewhere is the row read back.
        """
        _check(status, RESULT_STATUSES, "result status")
        values = {"status": status, "rc": rc, "ended_at": utcnow(),
                  "stdout_tail": tail(self._clean(stdout or ""), self.tail_bytes),
                  "stderr_tail": tail(self._clean(stderr or ""), self.tail_bytes),
                  "outputs": self._clean(dict(outputs or {})),
                  "artifacts": self._clean(dict(artifacts or {})),
                  "message": self._clean(message or "")}
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
        changed = {"status": "unknown",
                   "message": "in flight when the engine stopped; outcome unknown"}
        with self._tx() as conn:
            rows = conn.execute(select(STEP_RESULTS).where(
                STEP_RESULTS.c.run_id == run_id, STEP_RESULTS.c.status == "running",
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
             .where(RUNS.c.runbook_name == runbook_name, sr.status == "succeeded",
                    sr.ended_at.is_not(None)))
        if before_run is not None:
            q = q.where(RUNS.c.id != before_run)
        samples: dict[str, list[float]] = {}
        with self._tx() as conn:
            for step_id, start, end in conn.execute(q):
                samples.setdefault(step_id, []).append((end - start).total_seconds())
        return {k: statistics.median(v) for k, v in samples.items()}

    # -- approvals, evidence, probes, events ----------------------------------

    def record_approval(self, run_id: str, step_id: str, how: str,
                        user: str | None = None) -> Approval:
        _check(how, APPROVAL_METHODS, "approval method")
        approval = Approval(run_id=run_id, step_id=step_id, user=user or _user(),
                            approved_at=utcnow(), how=how)
        self._insert(insert(APPROVALS), asdict(approval), run_id)
        return approval

    def approvals(self, run_id: str) -> list[Approval]:
        a = APPROVALS.c
        q = (select(a.run_id, a.step_id, a.user, a.approved_at, a.how)
             .where(a.run_id == run_id).order_by(a.id))
        with self._tx() as conn:
            return [Approval(*r) for r in conn.execute(q)]

    def record_evidence(self, run_id: str, step_id: str, host: str, kind: str,
                        data: Any) -> Evidence:
        evidence = Evidence(run_id=run_id, step_id=step_id, host=host, kind=kind,
                            data=self._clean(data), recorded_at=utcnow())
        # Not asdict(): it would deep-copy ``data``, which can be a large document.
        self._insert(_INSERT_EVIDENCE, {"run_id": run_id, "step_id": step_id, "host": host,
                                        "kind": kind, "data": evidence.data,
                                        "recorded_at": evidence.recorded_at}, run_id)
        return evidence

    def evidence(self, run_id: str) -> list[Evidence]:
        e = EVIDENCE.c
        q = (select(e.run_id, e.step_id, e.host, e.kind, e.data, e.recorded_at)
             .where(e.run_id == run_id).order_by(e.id))
        with self._tx() as conn:
            return [Evidence(*r) for r in conn.execute(q)]

    def record_probe_samples(self, run_id: str, samples: Iterable[ProbeSample]) -> int:
        rows = [{"run_id": run_id, "probe": p.probe, "at": p.at, "ok": p.ok,
                 "latency_ms": p.latency_ms,
                 "error": None if p.error is None else self._clean(p.error)}
                for p in samples]
        if rows:
            self._insert(insert(PROBE_SAMPLES), rows, run_id)
        return len(rows)

    def probe_samples(self, run_id: str) -> list[ProbeSample]:
        p = PROBE_SAMPLES.c
        q = (select(p.probe, p.at, p.ok, p.latency_ms, p.error)
             .where(p.run_id == run_id).order_by(p.at, p.id))
        with self._tx() as conn:
            return [ProbeSample(*r) for r in conn.execute(q)]

    def record_event(self, run_id: str | None, kind: str,
                     data: dict[str, Any] | None = None) -> Event:
        event = Event(run_id=run_id, at=utcnow(), kind=kind, data=self._clean(dict(data or {})))
        self._insert(insert(EVENTS), {"run_id": run_id, "at": event.at, "kind": kind,
                                      "data": event.data}, run_id)
        return event

    def events(self, run_id: str | None) -> list[Event]:
        """A run's events (``None``: events not tied to a run in this database)."""
        e = EVENTS.c
        cond = e.run_id.is_(None) if run_id is None else e.run_id == run_id
        q = select(e.run_id, e.at, e.kind, e.data).where(cond).order_by(e.at, e.id)
        with self._tx() as conn:
            return [Event(*r) for r in conn.execute(q)]

    def _insert(self, statement: Insert, rows: dict[str, Any] | list[dict[str, Any]],
                run_id: str | None) -> None:
        """Insert one row or many; the only integrity error possible is a missing run."""
        try:
            with self._tx() as conn:
                conn.execute(statement, rows)
        except exc.IntegrityError:
            raise StateError(f"no run {run_id!r} in the state database {self.url}") from None

    # -- deployment lock --------------------------------------------------------

    def get_lock(self, deployment: str) -> LockInfo | None:
        with self._tx() as conn:
            row = conn.execute(select(LOCKS).where(LOCKS.c.deployment == deployment)).first()
        return _lock(row._mapping) if row else None

    def lock_status(self, deployment: str,
                    stale_after: timedelta = lock.DEFAULT_STALE_AFTER) -> LockStatus:
        """Whether ``deployment``'s lock is free, alive, stale or unknown (see lock.assess)."""
        return lock.assess(self.get_lock(deployment), deployment=deployment, now=utcnow(),
                           this_host=socket.gethostname(), stale_after=stale_after)

    def acquire_lock(self, deployment: str, run_id: str, user: str | None = None,
                     hostname: str | None = None, pid: int | None = None,
                     stale_after: timedelta = lock.DEFAULT_STALE_AFTER) -> LockInfo:
        """Take ``deployment``'s lock for ``run_id`` or raise Refused naming the holder.

        Atomic on every backend: the insert on the primary key succeeds for
        exactly one contender. A resumed run may take over its own lock once
        the process that held it is gone (stale); nothing else is ever taken over.
        """
        now = utcnow()
        mine = LockInfo(deployment=deployment, run_id=run_id, user=user or _user(),
                        hostname=hostname or socket.gethostname(),
                        pid=os.getpid() if pid is None else pid, since=now, heartbeat_at=now)
        for _ in range(5):
            try:
                with self._tx() as conn:
                    conn.execute(insert(LOCKS), asdict(mine))
                return mine
            except exc.IntegrityError:
                pass
            status = self.lock_status(deployment, stale_after)
            if status.lock is None:
                continue  # released between our insert and our read: try again
            held = status.lock
            if held.run_id == run_id and status.state == "stale":
                if self._take_over(held, mine):
                    self.record_event(run_id if self._run_exists(run_id) else None,
                                      "lock-taken-over",
                                      {"deployment": deployment, "previous": held.as_dict()})
                    return mine
                continue
            hint = {"stale": f"; the holder looks gone ({status.reason}): break the lock with "
                             f"`octavia-upgrade unlock {deployment}`",
                    "alive": "; that process is still running",
                    "unknown": f"; {status.reason}"}[status.state]
            raise Refused(f"deployment {deployment!r} is locked by {held.describe()}{hint}")
        raise StateError(f"could not take the lock of deployment {deployment!r}: "
                         "it changed hands repeatedly")

    def _take_over(self, held: LockInfo, mine: LockInfo) -> bool:
        with self._tx() as conn:
            res = conn.execute(update(LOCKS).where(
                LOCKS.c.deployment == held.deployment, LOCKS.c.run_id == held.run_id,
                LOCKS.c.pid == held.pid, LOCKS.c.hostname == held.hostname,
            ).values(user=mine.user, hostname=mine.hostname, pid=mine.pid, since=mine.since,
                     heartbeat_at=mine.heartbeat_at))
            return bool(res.rowcount)

    def _run_exists(self, run_id: str) -> bool:
        with self._tx() as conn:
            return conn.execute(select(RUNS.c.id).where(RUNS.c.id == run_id)).first() \
                is not None

    def heartbeat(self, deployment: str, run_id: str) -> None:
        """Refresh the holder's heartbeat; Refused if the lock is no longer ours."""
        with self._tx() as conn:
            res = conn.execute(update(LOCKS).where(
                LOCKS.c.deployment == deployment, LOCKS.c.run_id == run_id,
            ).values(heartbeat_at=utcnow()))
            if not res.rowcount:
                raise Refused(f"run {run_id} no longer holds the lock of deployment "
                              f"{deployment!r} (was it broken with `unlock`?)")

    def release_lock(self, deployment: str, run_id: str) -> bool:
        """Release ``deployment``'s lock if ``run_id`` holds it; True if it did."""
        with self._tx() as conn:
            res = conn.execute(delete(LOCKS).where(LOCKS.c.deployment == deployment,
                                                   LOCKS.c.run_id == run_id))
            return bool(res.rowcount)

    def break_lock(self, deployment: str, expected_run_id: str | None = None,
                   reason: str = "", forced: bool = False) -> LockInfo:
        """Remove ``deployment``'s lock whoever holds it (an explicit operator action).

        Records a ``lock-broken`` event. With ``expected_run_id`` it refuses when
        the lock is held by another run (e.g. it changed hands meanwhile).
        """
        held = self.get_lock(deployment)
        if held is None:
            raise InvalidInput(f"deployment {deployment!r} is not locked")
        if expected_run_id is not None and held.run_id != expected_run_id:
            raise Refused(f"deployment {deployment!r} is locked by {held.describe()}, "
                          f"not by run {expected_run_id}; nothing was changed")
        with self._tx() as conn:
            res = conn.execute(delete(LOCKS).where(LOCKS.c.deployment == deployment,
                                                   LOCKS.c.run_id == held.run_id,
                                                   LOCKS.c.pid == held.pid))
            if not res.rowcount:
                raise Refused(f"the lock of deployment {deployment!r} changed while breaking "
                              "it; look again with `octavia-upgrade unlock`")
        self.record_event(held.run_id if self._run_exists(held.run_id) else None,
                          "lock-broken",
                          {"deployment": deployment, "lock": held.as_dict(), "reason": reason,
                           "forced": forced, "by_user": _user(),
                           "by_host": socket.gethostname(), "by_pid": os.getpid()})
        return held

    # -- checks ---------------------------------------------------------------

    def integrity_check(self) -> list[str]:
        """Problems found in the database (empty when everything is consistent)."""
        problems: list[str] = []
        with self._tx() as conn:
            if self.engine.dialect.name == "sqlite":
                rows = [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]
                if rows != ["ok"]:
                    problems += [f"sqlite integrity_check: {r}" for r in rows]
                for r in conn.execute(text("PRAGMA foreign_key_check")):
                    problems.append(f"sqlite foreign_key_check: row {r[1]} of {r[0]} "
                                    f"points to a missing {r[2]}")
            runs = {r.id: r for r in conn.execute(select(RUNS))}
            for run in runs.values():
                if run.status not in RUN_STATUSES:
                    problems.append(f"run {run.id}: invalid status {run.status!r}")
                if run.status in FINAL_RUN_STATUSES and run.ended_at is None:
                    problems.append(f"run {run.id}: status {run.status} but no end time")
                if run.ended_at is not None and run.ended_at < run.started_at:
                    problems.append(f"run {run.id}: ends before it starts")
            attempts: dict[tuple[str, str, str], list[Row[Any]]] = {}
            for r in conn.execute(select(STEP_RESULTS).order_by(STEP_RESULTS.c.id)):
                attempts.setdefault((r.run_id, r.step_id, r.host), []).append(r)
                if r.status not in RESULT_STATUSES:
                    problems.append(f"result {r.id}: invalid status {r.status!r}")
                if r.status != "running" and r.ended_at is None and r.status != "unknown":
                    problems.append(f"result {r.id} ({r.step_id} on {r.host or '-'}): "
                                    f"status {r.status} but no end time")
                run = runs.get(r.run_id)
                if r.status == "running" and run is not None and \
                        run.status in FINAL_RUN_STATUSES:
                    problems.append(f"run {r.run_id} is {run.status} but step {r.step_id} "
                                    f"on {r.host or '-'} attempt {r.attempt} is still running")
            for (run_id, step_id, host), rows_ in attempts.items():
                where = f"run {run_id}: step {step_id} on {host or '-'}"
                if sum(1 for r in rows_ if r.status == "running") > 1:
                    problems.append(f"{where}: more than one attempt is running")
                numbers = sorted(r.attempt for r in rows_)
                if numbers != list(range(1, len(numbers) + 1)):
                    problems.append(f"{where}: attempts {numbers} are not 1..n")
            for lk in conn.execute(select(LOCKS)):
                run = runs.get(lk.run_id)
                if run is not None and run.status in FINAL_RUN_STATUSES:
                    problems.append(f"deployment {lk.deployment} is locked by run {lk.run_id}, "
                                    f"which is {run.status}")
        return problems


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def open_store(url: str | None, state_dir: Path, *, redactor: Redacting | None = None,
               tail_bytes: int = DEFAULT_TAIL_BYTES) -> Store:
    """Open (creating and migrating as needed) the run-state database.

    Args:
        url: SQLAlchemy URL; None means ``sqlite:///<state_dir>/state.db``.
        state_dir: created if missing; must be writable.
        redactor: applied to everything stored from commands (outputs, messages, params).
        tail_bytes: how much of each stdout/stderr is kept.

    Raises:
        StateError: the directory or database cannot be used (message says why).
        InvalidInput: the URL is malformed or names an unsupported database.
    """
    state_dir = Path(state_dir).expanduser()
    db.prepare_state_dir(state_dir)
    parsed = db.parse_url(url or db.default_url(state_dir))
    engine = db.make_engine(parsed)
    try:
        db.migrate(engine)
    except (StateError, InvalidInput):
        engine.dispose()
        raise
    except exc.SQLAlchemyError as e:
        engine.dispose()
        what = ("the state volume is full" if db.is_disk_full(e)
                else "cannot open the state database")
        raise StateError(f"{what}: {db.describe_error(e, parsed)}") from None
    except OSError as e:
        engine.dispose()
        raise StateError(f"cannot open the state database {db.safe_url(parsed)}: {e}") from None
    return Store(engine, redactor=redactor, tail_bytes=tail_bytes)

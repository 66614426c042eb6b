"""One crash trial's loop: start the engine, SIGKILL it at a chosen point, resume by
the documented rules, repeat; shared by the simulated control plane's trials
(``crashtrials.py``) and the real lab's (``labtrials.py``).

A *deployment* here is anything with these members (both modules define one):

* ``state_dir``, ``name`` (the inventory's deployment), ``timeout`` (seconds a
  run or resume may take), ``yes`` (True when the runbook's approvals are
  answered with ``--yes``, as the lab's real runbook needs);
* ``run_args()``: the ``run`` command line after ``octavia-upgrade``;
* ``runs()``, ``lock_holder()``, ``attempts(run_id)``, ``latest(run_id)``: what
  the state database holds (read-only SQLite);
* ``executions()``: how often each (step, host) ran, counted where the commands
  ran, and ``settle()``: wait until commands sent before a kill have ended;
* ``rerunnable(step_id)``: idempotent, or of a kind the engine re-runs itself;
* ``kill_ready(point)``: for the kill points only it knows (``command``,
  ``ended``), a function that turns True when the engine should be killed;
  ``after_kill()``: undo what ``kill_ready`` set up for it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stoppedrun import wait_for_commands_of

#: Step kinds the engine re-runs after a crash without asking (session.RERUNNABLE_KINDS).
RERUNNABLE = ("approval", "assert", "sleep", "wait", "upgrade_check", "config_check")


class StateReader:
    """What a deployment's state directory holds, read as SQLite files are (read-only)."""

    state_dir: Path
    name: str

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.state_dir / 'state.db'}?mode=ro", uri=True)

    def runs(self) -> list[tuple[str, str]]:
        if not (self.state_dir / "state.db").exists():
            return []
        with self.db() as con:
            try:
                return list(con.execute("SELECT id, status FROM runs ORDER BY started_at"))
            except sqlite3.OperationalError:  # killed before the tables existed
                return []

    def attempts(self, run_id: str) -> list[tuple[str, str, int, str]]:
        """(step, host, attempt, status) in the order they started."""
        with self.db() as con:
            return list(con.execute(
                "SELECT step_id, host, attempt, status FROM step_results WHERE run_id = ? "
                "ORDER BY id", (run_id,)))

    def latest(self, run_id: str) -> dict[tuple[str, str], str]:
        out: dict[tuple[str, str], str] = {}
        for step, host, _n, status in self.attempts(run_id):
            out[(step, host)] = status
        return out

    def lock_holder(self) -> str | None:
        if not (self.state_dir / "state.db").exists():
            return None
        with self.db() as con:
            try:
                row = con.execute("SELECT run_id FROM locks WHERE deployment = ?",
                                  (self.name,)).fetchone()
            except sqlite3.OperationalError:
                return None
        return row[0] if row else None

    def log_entries(self, run_id: str) -> list[dict[str, Any]]:
        path = self.state_dir / "logs" / f"{run_id}.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Engine:
    """Starts ``octavia-upgrade`` in its own process group and stops it by that id."""

    def __init__(self, dep: Any) -> None:
        self.dep = dep
        self.env = {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(dep.state_dir)}

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "octavia_upgrade", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, env=self.env,
                                start_new_session=True)

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        proc = self.popen(*args)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            return subprocess.CompletedProcess(proc.args, -1, out, err + "\n[timed out]")
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the engine and anything it started (its own process group)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@dataclass(frozen=True)
class KillPoint:
    #: started | finished: after the k-th attempt started/finished (the JSON log);
    #: delay: after ``value`` seconds; command: ``value`` seconds after a node
    #: started a command containing ``target``; ended: as soon as a node ended one.
    mode: str
    value: float
    target: str = ""
    label: str = ""

    def describe(self) -> str:
        if self.mode == "delay":
            return f"after {self.value:.2f}s"
        if self.mode == "command":
            return f"{self.value:.1f}s into {self.label or self.target}"
        if self.mode == "ended":
            return f"as {self.label or self.target} ended"
        return f"after attempt #{int(self.value)} {self.mode}"


def pick_kill(rng: random.Random, attempts_in_run: int, run_seconds: float) -> KillPoint:
    mode = rng.choice(("started", "started", "finished", "delay"))
    if mode == "delay":
        return KillPoint(mode, rng.uniform(0.0, run_seconds))
    return KillPoint(mode, float(rng.randint(1, attempts_in_run)))


def _count_events(dep: Any, event: str) -> int:
    n = 0
    for path in (dep.state_dir / "logs").glob("*.jsonl"):
        try:
            text = path.read_text()
        except OSError:
            continue
        n += text.count(f'"event": "{event}"') + text.count(f'"event":"{event}"')
    return n


def kill_at(proc: subprocess.Popen[str], dep: Any, point: KillPoint,
            timeout: float = 600) -> tuple[bool, str]:
    """Kill ``proc`` at ``point``: (killed, stderr); not killed if it ended on its own first."""
    event = {"started": "attempt-started", "finished": "attempt-finished"}.get(point.mode)
    base = _count_events(dep, event) if event else 0
    ready: Callable[[], bool] | None = dep.kill_ready(point) \
        if point.mode in ("command", "ended") else None
    t0 = time.monotonic()
    fired: float | None = None
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            return False, proc.communicate()[1]
        now = time.monotonic()
        if ready is not None:
            if fired is None and ready():
                fired = now
            if fired is not None and (point.mode == "ended" or now - fired >= point.value):
                break
        elif event is None:
            if now - t0 >= point.value:
                break
        elif _count_events(dep, event) - base >= point.value:
            break
        time.sleep(0.005)
    kill_group(proc)
    return True, proc.communicate()[1]


@dataclass
class Trial:
    number: int
    kills: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    refusals: int = 0
    unknown: int = 0
    unlocks: int = 0
    seconds: float = 0.0
    #: what the loop learnt, for the final checks
    run_id: str | None = None
    last_rc: int | None = None
    expect_unknown: set[tuple[str, str]] = field(default_factory=set)
    protected: dict[tuple[str, str], int] = field(default_factory=dict)
    confirmed_reruns: list[tuple[str, str]] = field(default_factory=list)
    #: every kill that landed, with how many attempts it left in flight (-1: no run yet)
    landed: list[tuple[KillPoint, int]] = field(default_factory=list)

    @property
    def correct(self) -> bool:
        return not self.problems


def drive(trial: Trial, dep: Any, rng: random.Random, kills: int,
          pick: Callable[[], KillPoint]) -> None:
    """Run, kill ``kills`` times at points from ``pick``, resume until the run ends.

    After each kill, as the documented rules say: a run that was never created
    is started again (after an explicit ``unlock`` when the kill left a stale
    lock); an in-flight (step, host) of a step that is neither idempotent nor
    of a re-runnable kind makes ``resume`` without ``--yes`` refuse (exit 3,
    naming it; nothing executed); then ``resume --yes``.
    """
    eng = Engine(dep)
    yes = ["--yes"] if dep.yes else []
    confirmed = False  # pass --yes on the next resume
    for _round in range(12):
        if trial.run_id is None:
            args = dep.run_args()
        else:
            args = ["resume", trial.run_id] + (["--yes"] if confirmed or dep.yes else [])
        proc = eng.popen(*args)
        if kills:
            kills -= 1
            point = pick()
            killed, err = kill_at(proc, dep, point, timeout=dep.timeout)
            dep.after_kill()
            if killed:
                trial.kills.append(point.describe())
                trial.landed.append((point, -1))
            else:
                trial.last_rc = proc.returncode
        else:
            out, err = proc.communicate(timeout=dep.timeout)
            trial.last_rc = proc.returncode
            killed = False
        if not killed and trial.last_rc != 0:
            trial.problems.append(f"{args[0]} exited {trial.last_rc} without a kill: "
                                  f"{err.strip()[-500:]!r}")
            return
        runs = dep.runs()
        if not runs:
            # killed before the run was recorded: maybe after taking the lock
            if dep.lock_holder() is not None:
                res = eng.run(*dep.run_args())
                if res.returncode != 3 or "unlock" not in res.stderr:
                    trial.problems.append(f"stale lock without a run: run gave {res.returncode}"
                                          f" {res.stderr.strip()!r}, expected a refusal")
                res = eng.run("unlock", dep.name)
                trial.unlocks += 1
                if res.returncode != 0:
                    trial.problems.append(f"unlock of a stale lock failed: {res.stderr}")
                    return
            continue
        trial.run_id = run_id = runs[0][0]
        if not killed:
            return
        # -- after a kill: what the state says, and what resume must do with it
        dep.settle()
        wait_for_commands_of(run_id)
        latest = dep.latest(run_id)
        execs = dep.executions()
        for key, status in latest.items():
            if status in ("succeeded", "skipped") and key not in trial.protected:
                trial.protected[key] = execs[key]
        in_flight = {k for k, s in latest.items() if s == "running"}
        trial.landed[-1] = (trial.landed[-1][0], len(in_flight))
        trial.unknown += len(in_flight)
        trial.expect_unknown |= in_flight
        # an unknown left by an earlier kill stays unknown until it runs again
        undecided = {k for k, s in latest.items() if s in ("running", "unknown")}
        must_confirm = sorted(k for k in undecided if not dep.rerunnable(k[0]))
        confirmed = False
        if must_confirm:
            before_ops = execs
            before_attempts = len(dep.attempts(run_id))
            res = eng.run("resume", run_id)
            trial.refusals += 1
            named = any(f"step {s} on {h}" in res.stderr for s, h in must_confirm)
            if res.returncode != 3 or "unknown" not in res.stderr or not named:
                trial.problems.append(f"resume without --yes of unknown {must_confirm} gave "
                                      f"{res.returncode}: {res.stderr.strip()!r}")
            if dep.executions() != before_ops or len(dep.attempts(run_id)) != before_attempts:
                trial.problems.append("a refused resume executed something")
            now = dep.latest(run_id)
            if any(now.get(k) != "unknown" for k in undecided):
                trial.problems.append(f"in-flight {sorted(in_flight)} not recorded unknown "
                                      "by the refused resume")
            if dep.lock_holder() is not None:
                trial.problems.append("a refused resume left the deployment locked")
            trial.confirmed_reruns += must_confirm
            confirmed = True
        elif in_flight and kills == 0:
            # the next resume completes: its output must report every unknown
            proc = eng.popen("resume", run_id, *yes)
            out, err = proc.communicate(timeout=dep.timeout)
            trial.last_rc = proc.returncode
            for s, h in sorted(in_flight):
                if f"{s} on {h}: outcome unknown" not in out:
                    trial.problems.append(f"resume did not report {s} on {h} as unknown")
            if trial.last_rc != 0:
                trial.problems.append(f"resume exited {trial.last_rc}: {err.strip()[-300:]!r}")
            return
    trial.problems.append("the run did not finish after 12 rounds")


def state_checks(dep: Any, trial: Trial, expected_steps: Any) -> None:
    """What the state database and the JSON log must say at the end of any trial."""
    from octavia_upgrade.state import open_store

    problems, run_id = trial.problems, trial.run_id
    assert run_id is not None
    runs = dict(dep.runs())
    if runs.get(run_id) != "succeeded" or trial.last_rc != 0:
        problems.append(f"the run ended {runs.get(run_id)} (exit {trial.last_rc})")
    execs = dep.executions()
    for key, seen in trial.protected.items():
        if execs[key] != seen:
            problems.append(f"{key[0]} on {key[1]} was recorded done, then ran again "
                            f"({seen} → {execs[key]} executions)")
    attempts = dep.attempts(run_id)
    by_key: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for step, host, n, status in attempts:
        by_key.setdefault((step, host), []).append((n, status))
    for key in trial.expect_unknown:
        rows = by_key.get(key, [])
        if not any(s == "unknown" for _n, s in rows):
            problems.append(f"{key[0]} on {key[1]} was in flight but is not recorded unknown")
        if not rows or rows[-1][1] != "succeeded":
            problems.append(f"{key[0]} on {key[1]} was in flight and did not run again")
    for key, rows in by_key.items():
        done = [i for i, (_n, s) in enumerate(rows) if s in ("succeeded", "skipped")]
        if len(done) != 1 or done[0] != len(rows) - 1:
            problems.append(f"{key[0]} on {key[1]}: attempts {rows}")
        if execs[key] > sum(1 for _n, s in rows if s != "skipped"):
            problems.append(f"{key[0]} on {key[1]} executed {execs[key]} times for "
                            f"{len(rows)} attempts")
    missing = [k for k in expected_steps if not any(k == s for s, _h in by_key)]
    if missing:
        problems.append(f"steps never recorded: {missing}")
    store = open_store(None, dep.state_dir)
    try:
        problems += [f"integrity: {p}" for p in store.integrity_check()]
    finally:
        store.close()
    log = dep.log_entries(run_id)
    started = {(e.get("step_id"), e.get("host")) for e in log if e["event"] == "attempt-started"}
    finished = {(e.get("step_id"), e.get("host"), e.get("attempt")) for e in log
                if e["event"] == "attempt-finished"}
    unknown_logged = {(e.get("step_id"), e.get("host")) for e in log
                      if e["event"] == "attempt-unknown"}
    for key in trial.expect_unknown:
        if key not in unknown_logged:
            problems.append(f"{key[0]} on {key[1]} was in flight; the JSON log does not say "
                            "its outcome became unknown")
    for key in execs:
        if key not in started:
            problems.append(f"{key[0]} on {key[1]} executed but the JSON log has no entry")
    for step, host, n, status in attempts:
        if status not in ("running", "unknown") and (step, host, n) not in finished:
            problems.append(f"{step} on {host} attempt {n} ({status}) is not in the JSON log")

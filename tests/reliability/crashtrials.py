"""Crash trials: SIGKILL the engine at random points of a cold upgrade, resume, verify.

Shared by ``benchmarks/crash-trials`` (100 trials) and
``tests/reliability/test_crash_trials.py`` (a reduced count). One trial is:

1. a fresh simulated Dalmatian control plane (``tests/engine/sim``) on the
   bare sshd nodes, a fresh state directory and deployment;
2. ``octavia-upgrade run`` of a cold-upgrade runbook, killed with SIGKILL at a
   random point: right after the k-th attempt started (mid-step), right after
   the k-th attempt finished (between steps or attempts), or after a random
   delay (anywhere, also during start-up and detection);
3. after each kill, what the documented rules say must happen next: a run
   that was never created is started again (after an explicit ``unlock``
   when the kill left a stale lock); an in-flight (step, host) of a step that
   is neither idempotent nor of a re-runnable kind makes ``resume`` without
   ``--yes`` refuse (exit 3, naming it; nothing executed); then
   ``resume --yes`` (sometimes killed again) until the run finishes.

Checks, each one a reason for the trial to count as incorrect:

* the run finishes (``succeeded``, last exit code 0);
* no (step, host) recorded as succeeded (or skipped) at a kill ran again later
  (executions are counted in the simulation's ``ops.log``);
* every (step, host) in flight at a kill is recorded ``unknown`` afterwards,
  was reported as unknown by the next ``resume``, and then ran again (or was
  refused until confirmed, when it is not idempotent);
* ``Store.integrity_check()`` finds nothing;
* the JSON log (``state_dir/logs/RUN.jsonl``) has an ``attempt-started``
  entry for every (step, host) that executed, an ``attempt-finished`` entry
  for every attempt the state database recorded as finished, and an
  ``attempt-unknown`` entry for every attempt that was in flight.
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
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SIM_DIR = HERE.parent / "engine" / "sim"
SIM = SIM_DIR / "sim.sh"
FLAVOR = SIM_DIR / "sim.yaml"
NODES = ("node1", "node2", "node3")
UNITS = ("sim-api", "sim-worker", "sim-health-manager", "sim-housekeeping", "sim-driver-agent")
SERVICES = ("housekeeping", "health-manager", "api", "worker", "driver-agent")
DALMATIAN = {"octavia": "15.1.0", "lib": "3.6.0", "head": "db2a73e82626"}
EPOXY_HEAD = "fabf4983846b"

#: Step kinds the engine re-runs after a crash without asking (session.RERUNNABLE_KINDS).
RERUNNABLE = ("approval", "assert", "sleep", "wait", "upgrade_check", "config_check")


def _mark(step_id: str, root: Path, pause: float) -> str:
    """A command that leaves ``<ts> <host> mark <step>`` in ops.log, then pauses."""
    return (f'echo "$(date +%s.%N)" {{{{ host.name }}}} mark {step_id} >> {root}/ops.log; '
            f"sleep {pause}")


def cold_upgrade(root: Path, backups: Path) -> list[dict[str, Any]]:
    """The guide's cold-upgrade shape, with non-idempotent steps between the phases."""
    steps: list[dict[str, Any]] = [
        {"id": "upgrade-check", "name": "Pre-upgrade check", "kind": "upgrade_check"},
        {"id": "note-start", "name": "Note the start on every node", "kind": "command",
         "with": {"command": _mark("note-start", root, 0.3)}},
    ]
    for svc in SERVICES:
        steps.append({"id": f"stop-{svc}", "name": f"Stop {svc}", "kind": "service",
                      "with": {"action": "stop", "services": [svc]}, "idempotent": True})
    steps += [
        {"id": "db-backup", "name": "Back up the database", "kind": "backup",
         "with": {"dest_dir": str(backups)}, "idempotent": True},
        {"id": "upgrade-packages", "name": "Upgrade packages", "kind": "packages",
         "idempotent": True},
        {"id": "note-local", "name": "Note on the operator machine", "kind": "local",
         "with": {"command": (f'echo "$(date +%s.%N)" local mark note-local >> {root}/ops.log;'
                              " sleep 0.2")}},
        {"id": "db-upgrade", "name": "Migrate the database", "kind": "db_migrate",
         "with": {"action": "upgrade"}},
        {"id": "start-services", "name": "Start services", "kind": "service",
         "with": {"action": "start", "services": ["worker", "health-manager", "housekeeping",
                                                  "api", "driver-agent"]}, "idempotent": True},
        {"id": "note-done", "name": "Note the end, one node at a time", "kind": "command",
         "serial": 1, "with": {"command": _mark("note-done", root, 0.2)}},
    ]
    return steps


def step_of(host: str, action: str, args: list[str]) -> str | None:
    """Which runbook step an ops.log line belongs to (None: not counted)."""
    if action == "mark":
        return args[0]
    if action == "stop":
        return "stop-" + args[0].removeprefix("sim-")
    if action == "start" and args[0] == "sim-worker":  # the first service the step starts
        return "start-services"
    return {"status": "upgrade-check", "backup": "db-backup", "upgrade": "upgrade-packages",
            "db-upgrade": "db-upgrade"}.get(action)


@dataclass
class Deployment:
    """One trial's simulated control plane, inventory, runbook and state directory."""

    root: Path
    state_dir: Path
    inventory: Path
    runbook: Path
    name: str
    steps: dict[str, dict[str, Any]]

    @classmethod
    def create(cls, base: Path, nodes: Any, name: str) -> Deployment:
        root = base / "sim"
        for n in NODES:
            d = root / n
            (d / "run").mkdir(parents=True)
            (d / "version").write_text(DALMATIAN["octavia"] + "\n")
            (d / "lib-version").write_text(DALMATIAN["lib"] + "\n")
            (d / "octavia.conf").write_text("[DEFAULT]\ndebug = False\n")
            for unit in UNITS:
                (d / "run" / unit).touch()
                (d / "units").mkdir(exist_ok=True)
                (d / "units" / unit).touch()
        (root / "db-revision").write_text(DALMATIAN["head"] + "\n")
        roles = {n: list(SERVICES) for n in NODES}
        roles["node1"].append("db-migrate")
        inv = nodes.inventory_data(roles, flavor=str(FLAVOR), deployment=name,
                                   vars={"sim": str(SIM), "root": str(root)})
        inventory = base / "inventory.yaml"
        inventory.write_text(yaml.safe_dump(inv, sort_keys=False))
        steps = cold_upgrade(root, base / "backups")
        doc = {"apiVersion": "octavia-upgrade/v1", "kind": "Runbook",
               "metadata": {"name": "crash-trial", "from": "dalmatian", "to": "epoxy",
                            "revision": 1, "description": "crash trial"},
               "steps": steps}
        runbook = base / "crash-trial.yaml"
        runbook.write_text(yaml.safe_dump(doc, sort_keys=False))
        return cls(root, base / "state", inventory, runbook, name, {s["id"]: s for s in steps})

    # -- what happened -------------------------------------------------------

    def executions(self) -> Counter[tuple[str, str]]:
        """How often each (step, host) started executing on the nodes (ops.log)."""
        out: Counter[tuple[str, str]] = Counter()
        path = self.root / "ops.log"
        if not path.exists():
            return out
        for line in path.read_text().splitlines():
            _ts, host, action, *args = line.split()
            step = step_of(host, action, args)
            if step is not None:
                out[(step, host)] += 1
        return out

    def settle(self, quiet: float = 1.0, limit: float = 30.0) -> None:
        """Wait until ops.log stops growing: commands sent before a kill may still run."""
        path = self.root / "ops.log"
        size, since, t0 = -1, time.monotonic(), time.monotonic()
        while time.monotonic() - t0 < limit:
            now = path.stat().st_size if path.exists() else 0
            if now != size:
                size, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return
            time.sleep(0.05)

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

    def rerunnable(self, step_id: str) -> bool:
        step = self.steps[step_id]
        return bool(step.get("idempotent")) or step["kind"] in RERUNNABLE


# --------------------------------------------------------------------------- running


class Engine:
    """Starts ``octavia-upgrade`` in its own process group and stops it by that id."""

    def __init__(self, dep: Deployment) -> None:
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
    mode: str  # "started" | "finished" | "delay"
    value: float  # k-th attempt, or seconds

    def describe(self) -> str:
        if self.mode == "delay":
            return f"after {self.value:.2f}s"
        return f"after attempt #{int(self.value)} {self.mode}"


def pick_kill(rng: random.Random, attempts_in_run: int, run_seconds: float) -> KillPoint:
    mode = rng.choice(("started", "started", "finished", "delay"))
    if mode == "delay":
        return KillPoint(mode, rng.uniform(0.0, run_seconds))
    return KillPoint(mode, float(rng.randint(1, attempts_in_run)))


def _count_events(dep: Deployment, event: str) -> int:
    n = 0
    for path in (dep.state_dir / "logs").glob("*.jsonl"):
        try:
            text = path.read_text()
        except OSError:
            continue
        n += text.count(f'"event": "{event}"') + text.count(f'"event":"{event}"')
    return n


def kill_at(proc: subprocess.Popen[str], dep: Deployment, point: KillPoint,
            timeout: float = 120) -> tuple[bool, str]:
    """Kill ``proc`` at ``point``: (killed, stderr); not killed if it ended on its own first."""
    event = {"started": "attempt-started", "finished": "attempt-finished"}.get(point.mode)
    base = _count_events(dep, event) if event else 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            return False, proc.communicate()[1]
        if event is None:
            if time.monotonic() - t0 >= point.value:
                break
        elif _count_events(dep, event) - base >= point.value:
            break
        time.sleep(0.005)
    kill_group(proc)
    return True, proc.communicate()[1]


# --------------------------------------------------------------------------- a trial


@dataclass
class Trial:
    number: int
    kills: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    refusals: int = 0
    unknown: int = 0
    unlocks: int = 0
    seconds: float = 0.0

    @property
    def correct(self) -> bool:
        return not self.problems


def run_trial(number: int, base: Path, nodes: Any, rng: random.Random, *,
              attempts_in_run: int = 30, run_seconds: float = 8.0) -> Trial:
    """One trial (see the module docstring); never raises for a wrong outcome."""
    t0 = time.monotonic()
    trial = Trial(number)
    dep = Deployment.create(base, nodes, f"crash-{number}-{os.getpid()}")
    eng = Engine(dep)
    kills_left = rng.choice((1, 1, 2, 3))
    run_id: str | None = None
    confirmed = False  # pass --yes on the next resume
    expect_unknown: set[tuple[str, str]] = set()
    protected: dict[tuple[str, str], int] = {}  # recorded done → executions at that time
    last_rc: int | None = None
    for _round in range(12):
        if run_id is None:
            args = ["run", str(dep.runbook), "-i", str(dep.inventory)]
        else:
            args = ["resume", run_id] + (["--yes"] if confirmed else [])
        proc = eng.popen(*args)
        if kills_left:
            kills_left -= 1
            point = pick_kill(rng, attempts_in_run, run_seconds)
            killed, err = kill_at(proc, dep, point)
            if killed:
                trial.kills.append(point.describe())
            else:
                last_rc = proc.returncode
        else:
            out, err = proc.communicate(timeout=240)
            last_rc = proc.returncode
            killed = False
        if not killed and last_rc != 0:
            trial.problems.append(f"{args[0]} exited {last_rc} without a kill: "
                                  f"{err.strip()[-500:]!r}")
            break
        runs = dep.runs()
        if not runs:
            # killed before the run was recorded: maybe after taking the lock
            if dep.lock_holder() is not None:
                res = eng.run("run", str(dep.runbook), "-i", str(dep.inventory))
                if res.returncode != 3 or "unlock" not in res.stderr:
                    trial.problems.append(f"stale lock without a run: run gave {res.returncode}"
                                          f" {res.stderr.strip()!r}, expected a refusal")
                res = eng.run("unlock", dep.name)
                trial.unlocks += 1
                if res.returncode != 0:
                    trial.problems.append(f"unlock of a stale lock failed: {res.stderr}")
                    break
            continue
        run_id = runs[0][0]
        if not killed:
            break
        # -- after a kill: what the state says, and what resume must do with it
        dep.settle()
        latest = dep.latest(run_id)
        execs = dep.executions()
        for key, status in latest.items():
            if status in ("succeeded", "skipped") and key not in protected:
                protected[key] = execs[key]
        in_flight = {k for k, s in latest.items() if s == "running"}
        trial.unknown += len(in_flight)
        expect_unknown |= in_flight
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
            confirmed = True
        elif in_flight and kills_left == 0:
            # the next resume completes: its output must report every unknown
            proc = eng.popen("resume", run_id)
            out, err = proc.communicate(timeout=240)
            last_rc = proc.returncode
            for s, h in sorted(in_flight):
                if f"{s} on {h}: outcome unknown" not in out:
                    trial.problems.append(f"resume did not report {s} on {h} as unknown")
            if last_rc != 0:
                trial.problems.append(f"resume exited {last_rc}: {err.strip()[-300:]!r}")
            break
    else:
        trial.problems.append("the run did not finish after 12 rounds")
    if run_id is None:
        trial.problems.append("no run was ever recorded")
    elif not trial.problems:
        _final_checks(dep, run_id, trial, expect_unknown, protected, last_rc)
    trial.seconds = time.monotonic() - t0
    return trial


def _final_checks(dep: Deployment, run_id: str, trial: Trial,
                  expect_unknown: set[tuple[str, str]],
                  protected: dict[tuple[str, str], int], last_rc: int | None) -> None:
    from octavia_upgrade.state import open_store

    problems = trial.problems
    runs = dict(dep.runs())
    if runs.get(run_id) != "succeeded" or last_rc != 0:
        problems.append(f"the run ended {runs.get(run_id)} (exit {last_rc})")
    if (dep.root / "db-revision").read_text().strip() != EPOXY_HEAD:
        problems.append("the database is not at the Epoxy head")
    execs = dep.executions()
    for key, seen in protected.items():
        if execs[key] != seen:
            problems.append(f"{key[0]} on {key[1]} was recorded done, then ran again "
                            f"({seen} → {execs[key]} executions)")
    attempts = dep.attempts(run_id)
    by_key: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for step, host, n, status in attempts:
        by_key.setdefault((step, host), []).append((n, status))
    for key in expect_unknown:
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
    missing = [k for k in dep.steps if not any(k == s for s, _h in by_key)]
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
    for key in expect_unknown:
        if key not in unknown_logged:
            problems.append(f"{key[0]} on {key[1]} was in flight; the JSON log does not say "
                            "its outcome became unknown")
    for key in execs:
        if key not in started:
            problems.append(f"{key[0]} on {key[1]} executed but the JSON log has no entry")
    for step, host, n, status in attempts:
        if status not in ("running", "unknown") and (step, host, n) not in finished:
            problems.append(f"{step} on {host} attempt {n} ({status}) is not in the JSON log")


def calibrate(base: Path, nodes: Any) -> tuple[int, float]:
    """(attempts, seconds) of one uninterrupted run, to spread the kill points."""
    dep = Deployment.create(base, nodes, f"crash-calibrate-{os.getpid()}")
    t0 = time.monotonic()
    res = Engine(dep).run("run", str(dep.runbook), "-i", str(dep.inventory))
    seconds = time.monotonic() - t0
    if res.returncode != 0:
        raise RuntimeError(f"the uninterrupted run failed ({res.returncode}): "
                           f"{res.stdout[-2000:]}{res.stderr[-2000:]}")
    (run_id, _status), = dep.runs()
    return len(dep.attempts(run_id)), seconds


def run_trials(count: int, workdir: Path, nodes: Any, seed: int | None = None,
               progress: Any = None) -> tuple[list[Trial], int, float]:
    """``count`` trials; returns (trials, attempts per run, seconds per uninterrupted run)."""
    rng = random.Random(seed)
    attempts, seconds = calibrate(workdir / "calibrate", nodes)
    trials = []
    for i in range(1, count + 1):
        trial = run_trial(i, workdir / f"trial-{i:03d}", nodes, rng,
                          attempts_in_run=attempts, run_seconds=seconds)
        trials.append(trial)
        if progress:
            progress(trial)
    return trials, attempts, seconds

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

import os
import random
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from trialloop import (RERUNNABLE, Engine, KillPoint, StateReader, Trial, drive, pick_kill,
                       state_checks)

HERE = Path(__file__).resolve().parent
SIM_DIR = HERE.parent / "engine" / "sim"
SIM = SIM_DIR / "sim.sh"
FLAVOR = SIM_DIR / "sim.yaml"
NODES = ("node1", "node2", "node3")
UNITS = ("sim-api", "sim-worker", "sim-health-manager", "sim-housekeeping", "sim-driver-agent")
SERVICES = ("housekeeping", "health-manager", "api", "worker", "driver-agent")
DALMATIAN = {"octavia": "15.1.0", "lib": "3.6.0", "head": "db2a73e82626"}
EPOXY_HEAD = "fabf4983846b"


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
class Deployment(StateReader):
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

    def rerunnable(self, step_id: str) -> bool:
        step = self.steps[step_id]
        return bool(step.get("idempotent")) or step["kind"] in RERUNNABLE

    # -- what the trial loop asks (trialloop.py) --------------------------------

    timeout = 240.0
    yes = False

    def run_args(self) -> list[str]:
        return ["run", str(self.runbook), "-i", str(self.inventory)]

    def kill_ready(self, point: KillPoint) -> None:
        raise ValueError(f"no kill point {point.mode} on the simulated control plane")

    def after_kill(self) -> None:
        pass


# --------------------------------------------------------------------------- a trial


def run_trial(number: int, base: Path, nodes: Any, rng: random.Random, *,
              attempts_in_run: int = 30, run_seconds: float = 8.0) -> Trial:
    """One trial (see the module docstring); never raises for a wrong outcome."""
    t0 = time.monotonic()
    trial = Trial(number)
    dep = Deployment.create(base, nodes, f"crash-{number}-{os.getpid()}")
    drive(trial, dep, rng, rng.choice((1, 1, 2, 3)),
          lambda: pick_kill(rng, attempts_in_run, run_seconds))
    if trial.run_id is None:
        trial.problems.append("no run was ever recorded")
    elif not trial.problems:
        state_checks(dep, trial, dep.steps)
        if (dep.root / "db-revision").read_text().strip() != EPOXY_HEAD:
            trial.problems.append("the database is not at the Epoxy head")
    trial.seconds = time.monotonic() - t0
    return trial


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

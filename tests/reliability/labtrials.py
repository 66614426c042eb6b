"""Crash trials on the real lab: SIGKILL the engine during the real dalmatian→epoxy
run, resume by the documented rules, and check the lab the way an operator would.

Shared by ``benchmarks/lab-crash-trials`` (20 or more trials on a 3-node lab)
and ``tests/reliability/test_lab_crash_trials.py`` (a few). The lab is brought
up with ``--audit-commands``, so every node logs each command its sshd ran;
``lab snapshot`` keeps it at Dalmatian, and ``lab reset`` puts it back before
each trial (about a minute, not a rebuild).

One uninterrupted run first calibrates: how many attempts and seconds a run
takes, which steps it records, and, for each (step, host), a command only that
step sends there, found on the node exactly as often as the step ran (its
*signature*: what "ran again" is counted by, on the nodes).

The kill points (see :func:`pick`): a random moment inside the package step's
``pip install`` of the staged venv, or inside ``octavia-db-manage upgrade
head``; the moment node1 logs that a command ended, node1 being slowed by 250 ms
each way meanwhile (``lab fault node1 slow``), so that the kill lands between a
command's end and the engine's record of it; right after the k-th attempt
started or finished; after a random delay.

A trial is correct when, besides the state checks every trial makes
(``trialloop.state_checks``: the run succeeded, nothing recorded as done ran
again, every in-flight attempt was recorded and reported ``unknown``, the state
database passes its integrity check, the JSON log agrees): ``detect`` finds
every node at 16.x and the database at the Epoxy head; ``alembic_version``
holds that one row; ``upgrade head`` completed on the nodes once, plus once
per confirmed re-run of an in-flight migration (a no-op at the head); every
service is active on every node; every load balancer is ACTIVE/ONLINE.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trialloop import (RERUNNABLE, Engine, KillPoint, StateReader, Trial, drive, pick_kill,
                       state_checks)

from octavia_upgrade.lab import audit
from octavia_upgrade.lab.core import Lab

RUNBOOK = "dalmatian-to-epoxy"
#: The node made slow for the "ended" kill points (it runs the migration and the dump).
SLOW_NODE = "node1"
SLOW_DELAY = "250ms"
MIGRATION = "upgrade head"
PIP = "/bin/pip install"


def _params(lab: Lab) -> list[str]:
    """The lab's parameters, as ``make demo`` passes them (load balancer records, canary)."""
    from octavia_upgrade.lab.api import LAB_SUBNET

    status = (f"{shlex.quote(sys.executable)} -m octavia_upgrade lab status --dir "
              f"{shlex.quote(str(lab.dir))} -f json")
    return ["--param", f"loadbalancer_status_command={status}",
            "--param", f"canary_vip_subnet_id={LAB_SUBNET}"]


@dataclass
class Calibration:
    plan: dict[str, Any]
    attempts: int
    seconds: float
    steps: list[str]
    #: (step, host) → the command text only that step sends to that host
    signatures: dict[tuple[str, str], str]


@dataclass
class LabDeployment(StateReader):
    """One trial on the lab: its own state directory; the lab's inventory and nodes."""

    lab: Lab
    state_dir: Path
    name: str
    runbook: Path
    plan: dict[str, Any]
    signatures: dict[tuple[str, str], str] = field(default_factory=dict)
    timeout: float = 900.0
    yes: bool = True
    #: audit entries per node before this trial: only later ones count
    since: dict[str, int] = field(default_factory=dict)
    slowed: bool = False
    _steps: dict[str, dict[str, Any]] | None = None

    @classmethod
    def create(cls, lab: Lab, state_dir: Path, plan: dict[str, Any]) -> LabDeployment:
        from octavia_upgrade.inventory import load_inventory
        from octavia_upgrade.resources import runbooks_dir

        dep = cls(lab, state_dir, load_inventory(lab.inventory_file).deployment,
                  runbooks_dir() / f"{RUNBOOK}.yaml", plan)
        dep.since = {n: len(audit.executed(lab.dir, n)) for n in lab.state()["nodes"]}
        return dep

    # -- what the trial loop asks --------------------------------------------

    def run_args(self) -> list[str]:
        return ["run", str(self.runbook), "-i", str(self.lab.inventory_file), "--yes",
                *_params(self.lab)]

    def steps(self) -> dict[str, dict[str, Any]]:
        if self._steps is None:
            self._steps = {s["id"]: s for s in self.plan["procedure"]}
        return self._steps

    def rerunnable(self, step_id: str) -> bool:
        step = self.steps()[step_id]
        return bool(step.get("idempotent")) or step["kind"] in RERUNNABLE

    def executed(self, nodes: list[str] | None = None) -> dict[str, list[audit.Executed]]:
        """What each node (of ``nodes``; default all) ran since this trial began."""
        return {n: audit.executed(self.lab.dir, n)[k:] for n, k in self.since.items()
                if nodes is None or n in nodes}

    def executions(self) -> Counter[tuple[str, str]]:
        """Per (step, host) with a signature: how often the node ran it."""
        ran = self.executed()
        runs = self.runs()
        run_id = runs[0][0] if runs else None
        out: Counter[tuple[str, str]] = Counter()
        for (step, host), text in self.signatures.items():
            sent = _sent(text, run_id)
            out[(step, host)] = sum(1 for e in ran.get(host, ()) if sent in e.command)
        return out

    def settle(self, limit: float = 180.0) -> None:
        """Wait until every command a node started has ended: a killed engine's
        commands run on to their end (nothing on the node stops them)."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            if all(e.rc is not None or e.ended_at is not None
                   for entries in self.executed().values() for e in entries):
                return
            time.sleep(0.5)

    def kill_ready(self, point: KillPoint) -> Any:
        """When a node started (``command``) or ended (``ended``) a new command
        containing the point's target. For ``ended``, node1 is made slow first
        (``lab fault node1 slow``): the command's exit status then reaches the
        engine a moment after the node logged its end, and the kill lands in
        between, before the engine can record the attempt."""
        ended = point.mode == "ended"
        nodes = [SLOW_NODE] if ended else None
        if ended:
            self.lab.fault(SLOW_NODE, "slow", SLOW_DELAY)
            self.slowed = True

        followers = [audit.Follower(self.lab.dir, n) for n in (nodes or self.since)]
        for f in followers:
            f.poll()  # what the nodes did so far does not count

        def ready() -> bool:
            # any(...) would stop at the first node and leave the others unread
            return sum(1 for f in followers for e in f.poll()[1 if ended else 0]
                       if point.target in e.command and (not ended or e.rc is not None)) > 0

        return ready

    def after_kill(self) -> None:
        if self.slowed:
            self.lab.fault(SLOW_NODE, "clear")
            self.slowed = False


# --------------------------------------------------------------------------- plan and calibration


def plan(lab: Lab, state_dir: Path) -> dict[str, Any]:
    """The plan of the lab at Dalmatian, as JSON (every step's commands per host)."""
    from octavia_upgrade.resources import runbooks_dir

    out = state_dir.parent / "plan.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        [sys.executable, "-m", "octavia_upgrade", "plan", str(runbooks_dir() / f"{RUNBOOK}.yaml"),
         "-i", str(lab.inventory_file), *_params(lab), "-f", "json", "-o", str(out)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
        env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state_dir)})
    if res.returncode != 0:
        raise RuntimeError(f"plan failed ({res.returncode}): {res.stderr[-2000:]}")
    return dict(json.loads(out.read_text()))


RUN_ID = "{{ run.id }}"


def _candidates(plan_doc: dict[str, Any], ran: set[str]) -> dict[tuple[str, str], list[str]]:
    """Per (step, host) of the steps in ``ran``, the step's command texts no other of
    those steps sends to that host (``{{ run.id }}`` the only template allowed)."""
    steps = [s for s in plan_doc["procedure"] if s["id"] in ran]
    per_host: dict[str, Counter[str]] = {}
    for s in steps:
        for host, cmds in (s.get("commands") or {}).items():
            for text in {c["text"] for c in cmds}:
                per_host.setdefault(host, Counter())[text] += 1
    out: dict[tuple[str, str], list[str]] = {}
    for s in steps:
        for host, cmds in (s.get("commands") or {}).items():
            texts = [c["text"] for c in cmds if "{{" not in c["text"].replace(RUN_ID, "")
                     and not c.get("render") and per_host[host][c["text"]] == 1]
            if texts and host != "local":
                out[(s["id"], host)] = texts
    return out


def _sent(text: str, run_id: str | None) -> str:
    """How ``text`` appears in the command line a node's sshd received: the last
    command of the ``sh -c '…'`` script, after its ``export …;`` (the attempt's
    marker, inflight.py), single quotes escaped as shlex.quote escapes them."""
    inner = text.replace(RUN_ID, run_id or RUN_ID).replace("'", "'\"'\"'")
    return f"; {inner}'"


def calibrate(lab: Lab, base: Path) -> Calibration:
    """One uninterrupted run: attempts, seconds, steps recorded, signatures that hold."""
    plan_doc = plan(lab, base / "state")
    dep = LabDeployment.create(lab, base / "state", plan_doc)
    t0 = time.monotonic()
    res = Engine(dep).run(*dep.run_args(), timeout=dep.timeout)
    seconds = time.monotonic() - t0
    if res.returncode != 0:
        raise RuntimeError(f"the uninterrupted run failed ({res.returncode}): "
                           f"{res.stdout[-3000:]}{res.stderr[-2000:]}")
    (run_id, _status), = dep.runs()
    attempts = dep.attempts(run_id)
    ran = Counter((s, h) for s, h, _n, status in attempts if status != "skipped")
    executed = dep.executed()
    signatures = {}
    for (step, host), texts in _candidates(plan_doc, {s for s, _h in ran}).items():
        for text in texts:
            sent = _sent(text, run_id)
            seen = sum(1 for e in executed.get(host, ()) if sent in e.command)
            if ran[(step, host)] and seen == ran[(step, host)]:
                signatures[(step, host)] = text
                break
    return Calibration(plan_doc, len(attempts), seconds, sorted({s for s, _h, _n, _st in attempts}),
                       signatures)


# --------------------------------------------------------------------------- a trial


#: The kinds of kill point, as often as :func:`pick` draws them.
KINDS = ("package", "migration", "ended", "ended", "started", "finished", "delay")


def pick(rng: random.Random, cal: Calibration, kinds: tuple[str, ...] = KINDS) -> KillPoint:
    kind = rng.choice(kinds)
    if kind == "package":
        return KillPoint("command", rng.uniform(0.5, 20.0), PIP, "the staged venv's pip install")
    if kind == "migration":
        return KillPoint("command", rng.uniform(0.0, 1.5), MIGRATION,
                         "octavia-db-manage upgrade head")
    if kind == "ended":
        target, label = rng.choice(((MIGRATION, "octavia-db-manage upgrade head"),
                                    (PIP, "a pip install"),
                                    ("systemctl stop", "a service stop"),
                                    ("systemctl start", "a service start"),
                                    ("mysqldump", "the database dump"),
                                    ("ln -sfn", "the venv switch")))
        return KillPoint("ended", 0.0, target, f"{label} on {SLOW_NODE}")
    return pick_kill(rng, cal.attempts, cal.seconds)


@dataclass
class LabTrial(Trial):
    #: kills that left a command ended on a node but its attempt unrecorded
    between_end_and_record: int = 0
    migrations_completed: int = 0


def run_trial(number: int, lab: Lab, base: Path, cal: Calibration,
              rng: random.Random, kinds: tuple[str, ...] = KINDS) -> LabTrial:
    """Reset the lab, then one trial; never raises for a wrong outcome."""
    from octavia_upgrade.lab import snapshot

    t0 = time.monotonic()
    trial = LabTrial(number)
    snapshot.reset(lab)
    dep = LabDeployment.create(lab, base / f"trial-{number:03d}" / "state", cal.plan)
    dep.signatures = cal.signatures
    try:
        drive(trial, dep, rng, rng.choice((1, 1, 2, 3)), lambda: pick(rng, cal, kinds))
    except subprocess.TimeoutExpired as exc:
        trial.problems.append(f"timed out: {exc}")
    trial.between_end_and_record = sum(1 for point, in_flight in trial.landed
                                       if point.mode == "ended" and in_flight > 0)
    if trial.run_id is None:
        trial.problems.append("no run was ever recorded")
    elif not trial.problems:
        state_checks(dep, trial, cal.steps)
        _lab_checks(lab, dep, trial)
    trial.seconds = time.monotonic() - t0
    return trial


def _lab_checks(lab: Lab, dep: LabDeployment, trial: LabTrial) -> None:
    from octavia_upgrade.catalog import load_catalog

    problems = trial.problems
    head = load_catalog().get("epoxy").alembic_head
    res = Engine(dep).run("detect", "-i", str(lab.inventory_file), "-f", "json")
    det = json.loads(res.stdout or "{}")
    if det.get("release") != "epoxy":
        problems.append(f"detect finds {det.get('release')}, not epoxy: {res.stderr[-300:]}")
    for h in det.get("hosts", []):
        if not str(h.get("octavia", "")).startswith("16."):
            problems.append(f"{h.get('host')} runs Octavia {h.get('octavia')}")
    if det.get("db_revision") != head:
        problems.append(f"the database is at {det.get('db_revision')}, not {head}")
    rows = _alembic_rows(lab)
    if rows != [head]:
        problems.append(f"alembic_version holds {rows}")
    completed = sum(1 for entries in dep.executed().values() for e in entries
                    if MIGRATION in e.command and e.rc == 0)
    trial.migrations_completed = completed
    reruns = sum(1 for s, _h in trial.confirmed_reruns if s == "db-upgrade")
    if not 1 <= completed <= 1 + reruns:
        problems.append(f"`upgrade head` completed {completed} times on the nodes "
                        f"({reruns} confirmed re-run(s))")
    status = lab.status()
    for node in status["nodes"]:
        bad = {u: s for u, s in node["services"].items() if s != "active"}
        if bad:
            problems.append(f"{node['name']}: {bad}")
    for lb in status.get("loadbalancers", []):
        if (lb["provisioning_status"], lb["operating_status"]) != ("ACTIVE", "ONLINE"):
            problems.append(f"load balancer {lb['name']} is {lb['provisioning_status']}/"
                            f"{lb['operating_status']}")


def _alembic_rows(lab: Lab) -> list[str]:
    from octavia_upgrade.errors import LabError
    from octavia_upgrade.lab.snapshot import mysql

    try:
        return mysql(lab.state(), "mariadb", "-N", "-e",
                     "SELECT version_num FROM octavia.alembic_version").split()
    except LabError as exc:
        return [f"(unreadable: {exc})"]


def run_trials(lab: Lab, count: int, workdir: Path, seed: int | None = None,
               progress: Any = None, kinds: tuple[str, ...] = KINDS, reset_after: bool = True
               ) -> tuple[list[LabTrial], Calibration]:
    """Snapshot the lab, calibrate, then ``count`` trials from the snapshot; with
    ``reset_after``, leave the lab as it was (not worth a minute when it goes down)."""
    from octavia_upgrade.lab import snapshot

    rng = random.Random(seed)
    snapshot.take(lab)
    cal = calibrate(lab, workdir / "calibrate")
    trials = []
    for i in range(1, count + 1):
        trial = run_trial(i, lab, workdir, cal, rng, kinds)
        trials.append(trial)
        if progress:
            progress(trial)
    if reset_after:
        snapshot.reset(lab)
    return trials, cal

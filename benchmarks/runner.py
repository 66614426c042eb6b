"""Every benchmark figure of docs/performance.md, measured side by side in one run.

Run through ``benchmarks/run`` (it prepares the Ansible venv); options::

    benchmarks/run [--nodes 1,5,20,50] [--steps 20] [--repeat 3] [--history 1000]
                   [--json FILE] [--plot FILE.png]

Sections (each prints its figures and ratios as it goes, then a summary with
the targets):

1. the workload (``workload/``) with octavia-upgrade, ``ansible-playbook`` and
   a plain ``ssh`` loop, hosts rolling (``serial: 1``) and in parallel, at
   each node count; every run's per-host work is checked to be identical;
2. the engine's cost per (step, host) on a warm connection, from the slope
   of run time over step count, against ``ssh`` through a ControlMaster;
3. ``--help`` and ``lint runbooks/`` against ``python -c pass``;
4. ``resume``: process start to first remote command, 1,000 earlier runs;
5. peak RSS of the largest run.

Needs root (lab sshd nodes). Everything it starts is stopped by PID or
control socket, also on failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lint_speed import median_wall
from workbench import BENCH_VENV, Timed, Workbench, require, run_timed

from octavia_upgrade.lab.nodes import unavailable_reason
from octavia_upgrade.model import Host, SshSettings
from octavia_upgrade.transport import SshTransport

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("octavia-upgrade", "ansible-playbook", "ssh loop")
TARGETS = {
    "ansible_rolling_5": 10.0,     # x faster than ansible-playbook, 5 nodes, serial: 1
    "ansible_parallel_5": 20.0,    # x faster, 5 nodes in parallel
    "per_step_ms": 10.0,           # engine cost per (step, host), warm connection
    "parallel_50_vs_1": 2.0,       # wall of a parallel step, 50 nodes / 1 node
    "help_s": 0.15,
    "lint_s": 0.4,
}
#: The parallel-step target is judged on steps that do this much work on
#: each host (upgrade steps restart services, install packages); steps of
#: `true` show the bare overhead next to it.
WORK_COMMAND = "sleep 1"
WORK_STEPS = 3


def say(text: str = "") -> None:
    print(text, flush=True)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def ratio(a: float, b: float) -> str:
    return f"{a / b:6.1f}x" if b > 0 else "   n/a"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# --------------------------------------------------------------------------- 1


def workload(wb: Workbench, counts: list[int], steps: int, repeat: int,
             large_repeat: int) -> dict[str, Any]:
    """Wall time of the three ways at each node count; checks they did the same work."""
    say(f"\n== 1. the workload ({steps} steps; wall time, median; ratio = other / "
        "octavia-upgrade)")
    say(f"{'nodes':>5} {'variant':9} {'octavia-upgrade':>16} {'ansible-playbook':>17} "
        f"{'ratio':>7} {'ssh loop':>11} {'ratio':>7}")
    out: dict[str, Any] = {}
    for n in counts:
        reps = repeat if n <= 5 else large_repeat
        for variant in ("rolling", "parallel"):
            rolling = variant == "rolling"
            runbook = wb.runbook(rolling=rolling, steps=steps, name=f"bench-{variant}")
            runs: dict[str, list[Timed]] = {m: [] for m in METHODS}
            reference: dict[str, list[str]] | None = None
            for _ in range(reps):
                for method in METHODS:
                    root = wb.fresh_root(f"{n}-{variant}-{method.split()[0]}")
                    if method == "octavia-upgrade":
                        timed = wb.engine(runbook, n, root)
                    elif method == "ansible-playbook":
                        timed = wb.ansible(n, root, rolling=rolling, steps=steps)
                    else:
                        timed = wb.ssh_loop(n, root, rolling=rolling, steps=steps)
                    require(timed.rc == 0, f"{method} failed at {n} nodes ({variant}):\n"
                                           f"{timed.output[-3000:]}")
                    ops = wb.ops(root, n)
                    if reference is None:
                        reference = ops
                    require(ops == reference, f"{method} did different work than "
                                              f"octavia-upgrade at {n} nodes ({variant})")
                    shutil.rmtree(root, ignore_errors=True)
                    runs[method].append(timed)
            med = {m: statistics.median(t.wall for t in runs[m]) for m in METHODS}
            out[f"{n}-{variant}"] = {
                "nodes": n, "variant": variant, "repeat": reps,
                "ops_per_host": len(next(iter(reference.values()))) if reference else 0,
                **{m: {"wall": med[m], "walls": [t.wall for t in runs[m]],
                       "cpu": statistics.median(t.cpu for t in runs[m]),
                       "maxrss_kib": max(t.maxrss_kib for t in runs[m])} for m in METHODS}}
            e, a, s = (med[m] for m in METHODS)
            say(f"{n:5d} {variant:9} {e:15.2f}s {a:16.2f}s {ratio(a, e)} {s:10.2f}s "
                f"{ratio(s, e)}")
    say("   (same work checked: every host's sequence of node actions was identical "
        "across the three)")
    return out


# --------------------------------------------------------------------------- 2


def per_step(wb: Workbench, extra: int, repeat: int, wide: int,
             samples: int) -> dict[str, Any]:
    """Marginal cost of one more step: slope of wall time over step count."""
    say(f"\n== 2. cost per (step, host) on a warm connection (slope over {extra} extra "
        "steps of `true`)")
    def slope(hosts: int, more: int, command: str = "true", base_steps: int = 10) -> float:
        samples = []
        for _ in range(repeat):
            walls = []
            for k in (base_steps, base_steps + more):
                root = wb.fresh_root(f"steps-{hosts}-{k}")
                timed = wb.engine(wb.true_runbook(k, command), hosts, root)
                require(timed.rc == 0, f"per-step run failed:\n{timed.output[-2000:]}")
                walls.append(timed.wall)
            samples.append((walls[1] - walls[0]) / more)
        return statistics.median(samples)

    engine_1 = slope(1, extra)
    node = wb.running[0]
    transport = SshTransport(Host(node.name, node.address, node.port,
                                  key_file=str(wb.nodes.client_key)),
                             SshSettings(known_hosts=str(wb.nodes.known_hosts)))
    try:
        transport.run("true")
        fabric = statistics.median(_time(lambda: transport.run("true", timeout=30), samples))
    finally:
        transport.close()
    cdir = wb.start_masters(1)
    try:
        cmd = wb.ssh_command(node, cdir, "true")
        ssh = statistics.median(_time(lambda: subprocess.run(cmd, check=True), samples))
    finally:
        wb.stop_masters()
    say(f"   octavia-upgrade, 1 host, per step incl. state commits and log {ms(engine_1)}")
    say(f"     of which the SSH command itself (SshTransport.run)          {ms(fabric)}")
    say(f"   ssh through a ControlMaster, per command                      {ms(ssh)}"
        f"  engine/ssh {ratio(engine_1, ssh)}")
    say("   (anchor: ansible-playbook ~204 ms per host-task one host at a time, measured "
        "earlier on this kind of machine; see docs/performance.md)")

    # One step on every host at once: the wide run against the 1-host run.
    wide_more = max(5, extra // 5)
    floor_1 = _ssh_parallel_step(wb, 1, wide_more)
    engine_w = slope(wide, wide_more) if wide > 1 else engine_1
    floor_w = _ssh_parallel_step(wb, wide, wide_more) if wide > 1 else floor_1
    say(f"   one parallel step of `true`, {wide} hosts: octavia-upgrade {ms(engine_w)} "
        f"({ratio(engine_w, engine_1)} of 1 host); ssh loop {ms(floor_w)} "
        f"({ratio(floor_w, floor_1)} of 1 host, {ms(floor_1)})")
    # The same with work on the hosts, as upgrade steps have (a service
    # restart, a package step): does the step take longer with more hosts?
    work_1 = slope(1, WORK_STEPS, WORK_COMMAND, base_steps=1)
    work_w = slope(wide, WORK_STEPS, WORK_COMMAND, base_steps=1) if wide > 1 else work_1
    say(f"   one parallel step of `{WORK_COMMAND}`, {wide} hosts: octavia-upgrade "
        f"{ms(work_w)} ({ratio(work_w, work_1)} of 1 host, {ms(work_1)})")
    return {"engine_per_step_1": engine_1, "transport_per_command": fabric,
            "ssh_controlmaster_per_command": ssh, "wide_hosts": wide,
            "engine_per_step_wide": engine_w, "ssh_loop_step_1": floor_1,
            "ssh_loop_step_wide": floor_w, "work_command": WORK_COMMAND,
            "work_step_1": work_1, "work_step_wide": work_w}


def _time(fn: Callable[[], Any], count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def _ssh_parallel_step(wb: Workbench, hosts: int, steps: int) -> float:
    """Per step: `true` on every host at once through ControlMasters, then wait."""
    cdir = wb.start_masters(hosts)
    try:
        script = ('for ((i = 0; i < $1; i++)); do for h in "${@:3}"; do '
                  'ssh -F none -o BatchMode=yes -o ControlMaster=no '
                  '-o "ControlPath=$2/${h%%=*}" "root@${h#*=}" true & done; wait; done')
        timed = run_timed(["bash", "-c", script, "step", str(steps), str(cdir),
                           *wb.ssh_hosts(hosts)])
        require(timed.rc == 0, f"ssh parallel step failed: {timed.output[-1000:]}")
    finally:
        wb.stop_masters()
    return timed.wall / steps


# --------------------------------------------------------------------------- 3


def startup(runs: int) -> dict[str, Any]:
    say(f"\n== 3. start-up and lint (wall, interpreter start included, median of {runs})")
    python = sys.executable
    exe = str(Path(python).parent / "octavia-upgrade")
    files = len(list((ROOT / "runbooks").glob("*.yaml")))
    base = median_wall([python, "-c", "pass"], runs)
    help_ = median_wall([exe, "--help"], runs)
    lint = median_wall([exe, "lint", "runbooks/"], runs)
    say(f"   python -c pass                       {ms(base)}")
    say(f"   octavia-upgrade --help               {ms(help_)}  {ratio(help_, base)} of python")
    say(f"   octavia-upgrade lint runbooks/ ({files}) {ms(lint)}  {ratio(lint, base)} of python")
    return {"python": base, "help": help_, "lint": lint, "lint_files": files}


# --------------------------------------------------------------------------- 4


def resume(wb: Workbench, history: int, repeat: int) -> dict[str, Any]:
    """Start of ``resume`` to the first remote command, on a busy and an empty state DB."""
    say(f"\n== 4. resume: process start to first remote command (median of {repeat})")
    runbook = wb.runbook(rolling=False, steps=20, name="bench-resume")
    figures = {}
    for label, earlier in (("empty", 0), ("busy", history)):
        state = wb.work / f"state-resume-{label}"
        samples = []
        for i in range(repeat):
            root = wb.fresh_root(f"resume-{label}")
            (root / "fail-migrate").touch()
            failed = wb.engine(runbook, 1, root, state_dir=state)
            require(failed.rc == 1, f"the run to resume should fail at db-migrate:\n"
                                    f"{failed.output[-2000:]}")
            run_id = _last_run_id(state)
            if i == 0 and earlier:
                _clone_runs(state / "state.db", run_id, earlier)
            (root / "fail-migrate").unlink()
            (root / "first").unlink()
            started = time.time()
            timed = run_timed([str(wb.bin / "octavia-upgrade"), "resume", run_id, "--yes", "-q"],
                              env=wb.engine_env(state))
            require(timed.rc == 0, f"resume failed:\n{timed.output[-2000:]}")
            samples.append(float((root / "first").read_text()) - started)
        runs = _count_runs(state / "state.db")
        figures[label] = {"seconds": statistics.median(samples), "runs_in_db": runs}
        say(f"   {runs:5d} runs in the state DB: {ms(figures[label]['seconds'])}")
    say(f"   busy / empty {ratio(figures['busy']['seconds'], figures['empty']['seconds'])}")
    return figures


def _last_run_id(state: Path) -> str:
    with sqlite3.connect(state / "state.db") as con:
        (run_id,) = con.execute("SELECT id FROM runs ORDER BY started_at DESC, id DESC "
                                "LIMIT 1").fetchone()
    return str(run_id)


def _count_runs(db: Path) -> int:
    with sqlite3.connect(db) as con:
        return int(con.execute("SELECT count(*) FROM runs").fetchone()[0])


def _clone_runs(db: Path, run_id: str, count: int) -> None:
    """``count`` earlier runs: copies of ``run_id`` with all their rows, new ids."""
    with sqlite3.connect(db) as con:
        tables = {"runs": "id"}
        for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            cols = [r[1] for r in con.execute(f"PRAGMA table_info({name})")]
            if name != "runs" and "run_id" in cols:
                tables[name] = "run_id"
        for i in range(count):
            new_id = f"h{i:05d}-{run_id}"[:32]
            for table, key in tables.items():
                cols = [r[1] for r in con.execute(f"PRAGMA table_info({table})")
                        if not (r[1] == "id" and key == "run_id")]
                picks = ", ".join("?" if c == key else c for c in cols)
                con.execute(f"INSERT INTO {table} ({', '.join(cols)}) "
                            f"SELECT {picks} FROM {table} WHERE {key} = ?", (new_id, run_id))
        con.execute("UPDATE runs SET status = 'failed' WHERE id != ?", (run_id,))


# --------------------------------------------------------------------------- main


def summary(results: dict[str, Any], counts: list[int]) -> list[tuple[str, str, bool | None]]:
    """(figure, value, target met; None where there is no target)."""
    rows: list[tuple[str, str, bool | None]] = []
    wl = results["workload"]
    for variant, key in (("rolling", "ansible_rolling_5"), ("parallel", "ansible_parallel_5")):
        n = 5 if 5 in counts else max(counts)
        cell = wl.get(f"{n}-{variant}")
        if cell:
            r = cell["ansible-playbook"]["wall"] / cell["octavia-upgrade"]["wall"]
            rows.append((f"vs ansible-playbook, {n} nodes, {variant}",
                         f"{r:.1f}x faster (target >= {TARGETS[key]:.0f}x)", r >= TARGETS[key]))
    ps = results["per_step"]
    rows.append(("per (step, host), warm, incl. state + log",
                 f"{ps['engine_per_step_1'] * 1000:.1f} ms (target <= "
                 f"{TARGETS['per_step_ms']:.0f} ms)",
                 ps["engine_per_step_1"] * 1000 <= TARGETS["per_step_ms"]))
    r = ps["work_step_wide"] / ps["work_step_1"]
    rows.append((f"parallel step ({ps['work_command']}), {ps['wide_hosts']} nodes vs 1",
                 f"{r:.2f}x (target <= {TARGETS['parallel_50_vs_1']:.0f}x)",
                 r <= TARGETS["parallel_50_vs_1"]))
    r = ps["engine_per_step_wide"] / ps["engine_per_step_1"]
    rows.append((f"parallel step (true), {ps['wide_hosts']} nodes vs 1",
                 f"{r:.1f}x (overhead only; ssh loop "
                 f"{ps['ssh_loop_step_wide'] / ps['ssh_loop_step_1']:.1f}x)", None))
    st = results["startup"]
    rows.append(("--help", f"{st['help']:.3f} s (target <= {TARGETS['help_s']} s)",
                 st["help"] <= TARGETS["help_s"]))
    rows.append(("lint runbooks/", f"{st['lint']:.3f} s (target <= {TARGETS['lint_s']} s)",
                 st["lint"] <= TARGETS["lint_s"]))
    rs = results["resume"]["busy"]
    rows.append((f"resume to first command, {rs['runs_in_db']} runs in DB",
                 f"{rs['seconds']:.3f} s", None))
    mem = results["memory"]
    rows.append((f"peak RSS, {mem['nodes']} nodes in parallel",
                 f"{mem['maxrss_kib'] / 1024:.0f} MiB ({mem['ratio_to_1']:.2f}x of 1 node)", None))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1,5,20,50", help="node counts (default 1,5,20,50)")
    parser.add_argument("--steps", type=int, default=20, help="workload steps, 1-20")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per figure up to 5 nodes (median); 1 above")
    parser.add_argument("--history", type=int, default=1000, help="earlier runs for resume")
    parser.add_argument("--extra-steps", type=int, default=100,
                        help="extra `true` steps for the per-step slope")
    parser.add_argument("--runs", type=int, default=11, help="runs of --help, lint, python")
    parser.add_argument("--samples", type=int, default=200,
                        help="commands timed for the SSH latency medians")
    parser.add_argument("--no-warmup", action="store_true",
                        help="skip the unmeasured warm-up runs (smoke tests)")
    parser.add_argument("--net", default="127.42.200", help="loopback /24 for the nodes")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--plot", type=Path, help="write the wall-time plot (PNG) here")
    args = parser.parse_args()
    counts = sorted({int(c) for c in args.nodes.split(",")})
    require(1 <= args.steps <= 20, "--steps must be 1..20")
    require(counts[0] >= 1 and counts[-1] <= 50, "--nodes: 1..50")
    reason = unavailable_reason()
    require(reason is None, f"lab nodes unavailable: {reason}")
    ansible = BENCH_VENV / "bin" / "ansible-playbook"
    require(ansible.exists(), f"{ansible} missing: run benchmarks/run, which installs it")

    versions = {
        "python": platform.python_version(),
        "ansible-core": subprocess.run([str(ansible.parent / "python"), "-c",
                                        "import ansible.release as r; print(r.__version__)"],
                                       capture_output=True, text=True).stdout.strip(),
        "openssh": subprocess.run(["ssh", "-V"], capture_output=True,
                                  text=True).stderr.strip(),
    }
    started = time.time()
    say(f"octavia-upgrade benchmarks, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}")
    say(f"machine: {os.cpu_count()} CPUs, {platform.platform()}; load average {load()}")
    say(f"python {versions['python']}, ansible-core {versions['ansible-core']}, "
        f"{versions['openssh']}")
    results: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "cpus": os.cpu_count(), "load_start": os.getloadavg(),
                               "versions": versions, "steps": args.steps,
                               "targets": TARGETS}
    work = Path(tempfile.mkdtemp(prefix="octavia-bench-"))
    wb = Workbench(work, counts[-1], args.net)
    try:
        if not args.no_warmup:
            # Not measured: creates the state DB, fills the page cache for both tools.
            warm = wb.runbook(rolling=False, steps=args.steps, name="bench-warmup")
            require(wb.engine(warm, 1, wb.fresh_root("warmup")).rc == 0, "warm-up run failed")
            require(wb.ansible(1, wb.fresh_root("warmup"), rolling=False,
                               steps=args.steps).rc == 0, "warm-up ansible-playbook run failed")
        results["workload"] = workload(wb, counts, args.steps, args.repeat, 1)
        results["per_step"] = per_step(wb, args.extra_steps, args.repeat, counts[-1],
                                       args.samples)
        results["startup"] = startup(args.runs)
        results["resume"] = resume(wb, args.history, args.repeat)
        big = results["workload"][f"{counts[-1]}-parallel"]["octavia-upgrade"]["maxrss_kib"]
        one = results["workload"][f"{counts[0]}-parallel"]["octavia-upgrade"]["maxrss_kib"]
        results["memory"] = {"nodes": counts[-1], "maxrss_kib": big, "one_node_kib": one,
                             "ratio_to_1": big / one}
        say(f"\n== 5. memory: peak RSS of octavia-upgrade, {counts[-1]} nodes in parallel "
            f"{big / 1024:.0f} MiB; 1 node {one / 1024:.0f} MiB")
    finally:
        wb.close()
        shutil.rmtree(work, ignore_errors=True)
    results["load_end"] = os.getloadavg()
    results["seconds"] = time.time() - started
    rows = summary(results, counts)
    results["summary"] = [{"figure": f, "value": v, "met": ok} for f, v, ok in rows]
    say(f"\n== summary (load average at the end {load()}; {results['seconds']:.0f} s in all)")
    for figure, value, ok in rows:
        mark = "      " if ok is None else "ok    " if ok else "MISSED"
        say(f"   {mark} {figure:44} {value}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        say(f"figures: {args.json}")
    if args.plot:
        plotter = Path(__file__).resolve().parent / "plot.py"
        data = args.json or work.with_suffix(".json")
        if not args.json:
            data.write_text(json.dumps(results))
        try:
            subprocess.run([str(ansible.parent / "python"), str(plotter), str(data),
                            str(args.plot)], check=True)
        finally:
            if not args.json:
                data.unlink(missing_ok=True)
        say(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The demo behind ``make demo``: a real cold upgrade of a rehearsal lab, end to end.

1. bring a 3-node lab up at 2024.2 Dalmatian (real sshd nodes, real Octavia
   services, MariaDB, RabbitMQ, a live load balancer and a haproxy VIP), laid
   out in the ``venv`` style or, with ``--flavor osa`` or ``kolla``,
   OpenStack-Ansible's or kolla-ansible's (containers);
2. lint the ``dalmatian-to-epoxy`` runbook, detect the deployed release and
   write the plan report;
3. run the runbook with approvals answered by ``--yes``: real package
   upgrades (Octavia 15.x → 16.x) and real schema migrations;
4. check the result the way an operator would: services healthy on every
   node, the database at the catalog's head, the existing load balancer still
   ACTIVE/ONLINE on the same amphora, a new load balancer can be created (the
   runbook's own ``canary`` step), every load-balancer object unchanged (the
   runbook's API snapshots before and after), the VIP answered throughout;
5. write the execution report (Markdown, HTML, JSON) and print where it is.

Every step is a real ``octavia-upgrade`` command, printed before it runs.
The lab stays up for exploring; ``octavia-upgrade lab down --dir lab`` stops it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RUNBOOK = "dalmatian-to-epoxy"
FROM, TO = "dalmatian", "epoxy"


@dataclass
class Demo:
    lab_dir: Path
    state_dir: Path
    reports_dir: Path
    runbook: Path
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    @property
    def inventory(self) -> Path:
        return self.lab_dir / "inventory.yaml"

    def cli(self, *args: str, check: bool = True, capture: bool = False,
            echo: bool = True) -> subprocess.CompletedProcess[str]:
        shown = " ".join(shlex.quote(a) for a in ("octavia-upgrade", *args))
        if echo:
            print(f"\n$ {shown}", flush=True)
        res = subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], text=True,
                             capture_output=capture,
                             env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(self.state_dir)})
        if capture and echo and res.stdout:
            print(res.stdout.rstrip())
        if capture and res.stderr:
            print(res.stderr.rstrip(), file=sys.stderr)
        if check and res.returncode != 0:
            raise SystemExit(f"demo: `{shown}` failed with exit {res.returncode}")
        return res

    def check(self, what: str, ok: bool, detail: str = "") -> None:
        self.checks.append((what, ok, detail))
        print(f"  [{'PASS' if ok else 'FAIL'}] {what}" + (f": {detail}" if detail else ""),
              flush=True)


def _status(demo: Demo) -> dict[str, Any]:
    from octavia_upgrade.lab.core import Lab

    return Lab(demo.lab_dir, log=lambda _m: None).status()


def _verify(demo: Demo, before: dict[str, Any], run_id: str) -> None:
    from octavia_upgrade.catalog import load_catalog
    from octavia_upgrade.state import open_store

    print("\n==> checking the upgraded lab", flush=True)
    after = _status(demo)
    for node in after["nodes"]:
        bad = {u: s for u, s in node["services"].items() if s != "active"}
        demo.check(f"{node['name']}: all Octavia services active", not bad,
                   ", ".join(f"{u}={s}" for u, s in bad.items()) or
                   ", ".join(sorted(node["services"])))
    det = json.loads(demo.cli("detect", "-i", str(demo.inventory), "-f", "json",
                              check=False, capture=True).stdout or "{}")
    head = load_catalog().get(TO).alembic_head
    demo.check(f"every node runs {TO}", det.get("release") == TO,
               ", ".join(f"{h['host']}={h['octavia']}" for h in det.get("hosts", [])))
    demo.check(f"database at the catalog's {TO} head", det.get("db_revision") == head,
               f"{det.get('db_revision')} (expected {head})")
    lbs_before = {lb["id"]: lb for lb in before.get("loadbalancers", [])}
    amps_before = {a["id"] for a in before.get("amphorae", [])}
    for lb in after.get("loadbalancers", []):
        if lb["id"] in lbs_before:
            demo.check(f"load balancer {lb['name']} still ACTIVE/ONLINE",
                       (lb["provisioning_status"], lb["operating_status"]) == ("ACTIVE", "ONLINE"),
                       f"{lb['provisioning_status']}/{lb['operating_status']}")
    amps_after = {a["id"] for a in after.get("amphorae", [])}
    demo.check("same amphora: no failover happened", bool(amps_before) and amps_before <= amps_after,
               ", ".join(sorted(amps_after)))
    shown = json.loads(demo.cli("show", run_id, "-f", "json", capture=True, echo=False).stdout)
    canary = [r for r in shown.get("results", []) if r.get("step_id") == "canary"]
    demo.check("a new load balancer can be created after the upgrade (runbook step canary)",
               bool(canary) and all(r.get("status") == "succeeded" for r in canary),
               "; ".join(f"{r.get('status')}: {r.get('message') or ''}".strip() for r in canary)
               or "the canary step did not run")
    store = open_store(None, demo.state_dir)
    vips = [s for s in store.probe_series(run_id) if s.kind == "vip"]
    n, failed = sum(s.samples for s in vips), sum(s.failures for s in vips)
    gap = max((s.longest_gap_ms for s in vips), default=0.0)
    avail = 100.0 * (n - failed) / n if n else 0.0
    demo.check("VIP answered throughout the upgrade", bool(n) and not failed,
               f"{n} samples, {failed} failed, availability {avail:.1f} %, "
               f"longest gap {gap:.0f} ms")
    store.close()


def _lab_subnet() -> str:
    from octavia_upgrade.lab.api import LAB_SUBNET

    return LAB_SUBNET


def run(root: Path | None = None, flavor: str = "venv", net: str | None = None,
        login: str | None = None) -> int:
    """The demo in ``root`` (default: the current directory), its lab in ``flavor``'s style."""
    t0 = time.monotonic()
    root = (root or Path.cwd()).resolve()
    from octavia_upgrade.resources import runbooks_dir

    demo = Demo(lab_dir=root / "lab", state_dir=root / "lab" / "state",
                reports_dir=root / "lab" / "reports",
                runbook=runbooks_dir() / f"{RUNBOOK}.yaml")
    if (demo.lab_dir / "lab.json").exists():
        print("==> a lab from an earlier demo exists: taking it down first", flush=True)
        demo.cli("lab", "down", "--dir", str(demo.lab_dir))
    print(f"==> bringing up a 3-node lab at 2024.2 Dalmatian in {demo.lab_dir} "
          f"(flavor {flavor})", flush=True)
    demo.cli("lab", "up", "--dir", str(demo.lab_dir), "--nodes", "3", "--release", FROM,
             "--flavor", flavor, *(("--net", net) if net else ()),
             *(("--login", login) if login else ()))
    outputs, plan_md, plan_html = rehearse(demo)
    elapsed = time.monotonic() - t0
    ok = all(c[1] for c in demo.checks)
    print("\n==> demo summary")
    for what, good, _detail in demo.checks:
        print(f"  {'PASS' if good else 'FAIL'}  {what}")
    print(f"\nplan report:      {plan_md}\n                  {plan_html}")
    print("execution report: " + "\n                  ".join(str(p) for p in outputs))
    print(f"\nthe lab is still up for exploring: octavia-upgrade lab status --dir {demo.lab_dir}"
          f"\n  (state: OCTAVIA_UPGRADE_STATE_DIR={demo.state_dir}); "
          f"stop it with: octavia-upgrade lab down --dir {demo.lab_dir}")
    print(f"\ndemo {'succeeded' if ok else 'FAILED'} in {elapsed / 60:.1f} min ({elapsed:.0f} s)")
    return 0 if ok else 1


def rehearse(demo: Demo) -> tuple[list[Path], Path, Path]:
    """Everything after ``lab up``: lint, detect, plan, the run, the checks, the reports.

    Returns the execution reports (md, html, json) and the plan reports (md, html);
    each check is in ``demo.checks``.
    """
    demo.reports_dir.mkdir(parents=True, exist_ok=True)
    demo.cli("lint", str(demo.runbook))
    demo.cli("detect", "-i", str(demo.inventory))
    before = _status(demo)
    params = _lab_params(demo)
    plan_md = demo.reports_dir / "plan.md"
    plan_html = demo.reports_dir / "plan.html"
    plan_json = demo.reports_dir / "plan.json"
    demo.cli("plan", str(demo.runbook), "-i", str(demo.inventory), *params, "-f", "markdown",
             "-o", str(plan_md))
    for fmt, path in (("html", plan_html), ("json", plan_json)):
        demo.cli("plan", str(demo.runbook), "-i", str(demo.inventory), *params, "-f", fmt,
                 "-o", str(path), "--no-detect")
    _unlock_if_stale(demo)
    known = {r["id"] for r in json.loads(
        demo.cli("runs", "-f", "json", capture=True, echo=False).stdout)}
    res = demo.cli("run", str(demo.runbook), "-i", str(demo.inventory), "--yes", *params,
                   check=False)
    new = [r for r in json.loads(demo.cli("runs", "-f", "json", capture=True, echo=False).stdout)
           if r["id"] not in known]
    if not new:
        raise SystemExit(f"demo: the run did not start (exit {res.returncode}); see above")
    run_id = new[-1]["id"]
    demo.check(f"run {run_id} finished successfully", res.returncode == 0,
               f"exit {res.returncode}")
    if res.returncode == 0:
        _verify(demo, before, run_id)
    outputs = []
    for fmt, suffix in (("markdown", "md"), ("html", "html"), ("json", "json")):
        path = demo.reports_dir / f"execution-{run_id}.{suffix}"
        demo.cli("report", run_id, "-f", fmt, "-o", str(path))
        outputs.append(path)
    _as_planned(demo, plan_json, outputs[-1])
    _objects_unchanged(demo, outputs[-1])
    return outputs, plan_md, plan_html


def _objects_unchanged(demo: Demo, report_json: Path) -> None:
    """Grenade's check: every load-balancer object as before, statuses included."""
    objects = json.loads(report_json.read_text(encoding="utf-8"))["evidence"].get("objects")
    if objects is None:
        demo.check("every load-balancer object unchanged (API snapshots before/after)", False,
                   "no snapshot comparison in the execution report")
        return
    changes = objects.get("changes") or []
    counts = ", ".join(f"{n} {k}" for k, n in (objects.get("after_counts") or {}).items())
    demo.check("every load-balancer object unchanged (API snapshots before/after)",
               not changes, "; ".join(c.get("message", "") for c in changes[:3]) or counts)


def _as_planned(demo: Demo, plan_json: Path, report_json: Path) -> None:
    """The change board's promise: every command sent is the plan's, byte for byte."""
    from octavia_upgrade.reports.asplanned import compare

    result = compare(json.loads(plan_json.read_text(encoding="utf-8")),
                     json.loads(report_json.read_text(encoding="utf-8")))
    demo.check(f"every command sent was the plan's ({result.compared} compared)",
               result.ok and result.compared > 0, "; ".join(result.differences[:3]))


def _unlock_if_stale(demo: Demo) -> None:
    """An earlier demo killed mid-run leaves its lock: break it, visibly, as an operator would."""
    from octavia_upgrade.inventory import load_inventory
    from octavia_upgrade.state import open_store

    deployment = load_inventory(demo.inventory).deployment
    with open_store(None, demo.state_dir) as store:
        status = store.lock_status(deployment)
    if status.state == "stale":
        print(f"\n==> {status.reason}: breaking the stale lock of {deployment}")
        demo.cli("unlock", deployment)


def _lab_params(demo: Demo) -> list[str]:
    """The lab's load balancers are recorded before/after when the runbook supports it."""
    from octavia_upgrade.loader import load_runbook

    rb = load_runbook(demo.runbook)
    if "loadbalancer_status_command" not in rb.parameters:
        return []
    cmd = (f"{shlex.quote(sys.executable)} -m octavia_upgrade lab status --dir "
           f"{shlex.quote(str(demo.lab_dir))} -f json")
    out = ["--param", f"loadbalancer_status_command={cmd}"]
    if "canary_vip_subnet_id" in rb.parameters:
        out += ["--param", f"canary_vip_subnet_id={_lab_subnet()}"]
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    from octavia_upgrade.lab.styles import STYLES

    p = argparse.ArgumentParser(
        prog="python -m octavia_upgrade.demo",
        description="The demo behind `make demo`: a 3-node lab at Dalmatian, a real "
                    "dalmatian-to-epoxy run, the operator's checks and the reports "
                    "(lab, state and reports under DIR/lab).")
    p.add_argument("--flavor", default="venv", choices=tuple(STYLES),
                   help="the lab's deployment style and the inventory's flavor "
                        "(default venv; `make demo FLAVOR=osa`, `FLAVOR=kolla`)")
    p.add_argument("--dir", type=Path, default=None, metavar="DIR",
                   help="where lab/ goes (default: the current directory)")
    p.add_argument("--net", default=None, metavar="A.B.C",
                   help="loopback /24 of the lab (default: lab up's, 127.42.0)")
    p.add_argument("--login", metavar="USER",
                   help="run as the new user USER with sudo and a password (from "
                        "OCTAVIA_UPGRADE_LAB_SUDO_PASSWORD), as production is reached: "
                        "lab up --login")
    args = p.parse_args(argv)
    return run(args.dir, flavor=args.flavor, net=args.net, login=args.login)


if __name__ == "__main__":
    raise SystemExit(main())

"""The whole chain Bobcat → Hibiscus on a real lab: six sequential runbooks, real migrations.

Every pair whose Octavia installs on this Python is executed end to end with
the real CLI: real package upgrades from the releases' wheelhouses, real
``octavia-db-manage upgrade head``, the existing load balancer kept
ACTIVE/ONLINE throughout, and every hop recorded and reported.

One node: the hops' multi-node behaviour (every host staged, stopped,
started; the migration once) is the same template in every runbook
(runbook-source/), and runs end to end on several nodes in the
dalmatian→epoxy and epoxy→flamingo lab tests; the chain proves the hops
follow one another, each from the state the one before left.

Runs after the shared session lab is gone (``lab_down_last``; this file sorts
after test_down.py) so two full labs do not compete for the two cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.lab import wheelhouse
from octavia_upgrade.lab.core import Lab
from octavia_upgrade.reports.json import validate
from octavia_upgrade.resources import runbooks_dir

pytestmark = [pytest.mark.lab, pytest.mark.slow, pytest.mark.lab_down_last]

CHAIN = ("bobcat", "caracal", "dalmatian", "epoxy", "flamingo", "gazpacho", "hibiscus")
NET = "127.42.80"


def _cli(state: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                          env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})


def _point_pip_at(inventory: Path, series: str) -> None:
    """What an operator does per hop: install from the target release's packages and pins."""
    wh = wheelhouse.ensure(series, log=lambda _m: None)
    doc = yaml.safe_load(inventory.read_text())
    doc["vars"]["pip_args"] = wh.pip_args()
    inventory.write_text(yaml.safe_dump(doc, sort_keys=False))


# Six real hops, then removing the venvs: about 7 min on two cores. The suite's
# 600 s per-test limit guards against hangs; this test gets more room, not less checking.
@pytest.mark.timeout(1500)
def test_bobcat_to_hibiscus_chain_upgrades_the_lab(tmp_path_factory: pytest.TempPathFactory) -> None:
    from fixtures.lab import lab_unavailable_reason

    reason = lab_unavailable_reason()
    if reason:
        pytest.skip(f"rehearsal lab unavailable: {reason}")
    base = tmp_path_factory.mktemp("chain")
    state = base / "state"
    lab = Lab(base / "lab", log=lambda _m: None)
    catalog = load_catalog()
    try:
        lab.up(nodes=1, release=CHAIN[0], net=NET, name="chain", prepare_next=False)
        inventory = lab.inventory_file
        lb_id = lab.state()["lb"]["id"]
        amphorae = set(lab.state()["lb"]["amphora_ids"])

        # The chain is planned first, checked against the deployed release.
        res = _cli(state, "plan", "--from", CHAIN[0], "--to", CHAIN[-1], "-i", str(inventory),
                   "-f", "json")
        assert res.returncode == 0, res.stdout + res.stderr
        hops = json.loads(res.stdout)
        hops = hops["hops"] if isinstance(hops, dict) else hops
        assert [h["runbook"].rsplit("/", 1)[-1] for h in hops] == [
            f"{a}-to-{b}.yaml" for a, b in zip(CHAIN, CHAIN[1:])]

        status_cmd = f"{sys.executable} -m octavia_upgrade lab status --dir {lab.dir} -f json"
        for src, dst in zip(CHAIN, CHAIN[1:]):
            _point_pip_at(inventory, dst)
            runbook = runbooks_dir() / f"{src}-to-{dst}.yaml"
            res = _cli(state, "run", str(runbook), "-i", str(inventory), "--yes",
                       "--param", f"loadbalancer_status_command={status_cmd}",
                       "--param", f"backup_dir={base / 'backups'}")
            assert res.returncode == 0, f"{src}-to-{dst}:\n{res.stdout[-4000:]}\n{res.stderr}"
            det = json.loads(_cli(state, "detect", "-i", str(inventory), "-f", "json").stdout)
            assert det["release"] == dst, det
            assert det["db_revision"] == catalog.get(dst).alembic_head
            run_id = json.loads(_cli(state, "runs", "-f", "json").stdout)[-1]["id"]
            report = _cli(state, "report", run_id, "-f", "json")
            assert report.returncode == 0, report.stderr
            doc = json.loads(report.stdout)
            assert validate(doc) == []
            ev = doc["evidence"]
            assert ev["db_revisions"] and ev["versions"], f"{src}-to-{dst}: no evidence"
            assert ev["loadbalancers"], f"{src}-to-{dst}: load balancers not recorded"
            assert ev["loadbalancers"]["failed_over"] is False

        runs = json.loads(_cli(state, "runs", "-f", "json").stdout)
        assert [r["status"] for r in runs] == ["succeeded"] * (len(CHAIN) - 1)
        st = lab.status()
        lb = next(x for x in st["loadbalancers"] if x["id"] == lb_id)
        assert (lb["provisioning_status"], lb["operating_status"]) == ("ACTIVE", "ONLINE")
        assert amphorae <= {a["id"] for a in st["amphorae"]}, "an amphora was replaced"
        for node in st["nodes"]:
            assert set(node["services"].values()) == {"active"}, node
    finally:
        lab.down(quiet=True)

"""How each host was reached is part of a run's record: ``show`` and the execution report
say it, from the plan stored with the run (real CLI, real sshd nodes).

node1 runs its commands through sudo, node2 is reached through node1 as a bastion
(ProxyJump from an ssh_config), node3 directly as root.
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml
from simlab import Sim

pytestmark = pytest.mark.lab


def _addresses(sim: Sim) -> dict[str, tuple[str, int]]:
    hosts = yaml.safe_load(sim.inventory.read_text())["hosts"]
    return {name: (h["address"], h["port"]) for name, h in hosts.items()}


def test_show_and_the_report_say_how_each_host_was_reached(sim: Sim) -> None:
    if not shutil.which("sudo"):
        pytest.skip("needs sudo on the test nodes")
    doc = yaml.safe_load(sim.inventory.read_text())
    doc["hosts"]["node1"]["become"] = True
    sim.inventory.write_text(yaml.safe_dump(doc, sort_keys=False))
    addr = _addresses(sim)
    (a1, p1), (a2, p2), (a3, p3) = addr["node1"], addr["node2"], addr["node3"]
    config = sim.tmp / "ssh_config"
    config.write_text(f"Host {a2}\n  ProxyJump root@{a1}:{p1}\n"
                      f"Host {a1}\n  IdentityFile {doc['hosts']['node1']['key_file']}\n")
    rb = sim.runbook("whoami", [{"id": "whoami", "name": "Who runs the commands",
                                 "kind": "command", "targets": {"roles": ["api"]},
                                 "with": {"command": "id -un"}}])
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--ssh-config", str(config),
                  "--no-detect", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    runs = json.loads(sim.cli("runs", "-f", "json").stdout)
    run_id = runs[0]["id"]

    shown = sim.cli("show", run_id)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "hosts (how each is reached, as planned)" in text
    rows = {line.split()[0]: line for line in text.splitlines()
            if line.startswith(("node1 ", "node2 ", "node3 "))
            and "@" in line}
    assert f"root@{a1}:{p1}" in rows["node1"]
    assert "sudo to root without a password (sudo -n)" in rows["node1"]
    assert "direct (no bastion)" in rows["node1"]
    assert f"root@{a2}:{p2}" in rows["node2"] and f"via root@{a1}:{p1}" in rows["node2"]
    assert "no sudo: commands run as root" in rows["node2"]
    assert f"root@{a3}:{p3}" in rows["node3"] and "direct (no bastion)" in rows["node3"]

    as_json = json.loads(sim.cli("show", run_id, "-f", "json").stdout)
    by = {h["name"]: h for h in as_json["hosts"]}
    assert by["node1"]["become"] == {"method": "sudo", "user": "root", "password_given": False}
    assert by["node2"]["proxy_jump"] == [{"name": a1, "address": a1, "port": p1,
                                          "user": "root"}]
    assert by["node3"]["become"] is None and by["node3"]["proxy_jump"] == []

    report = sim.cli("report", run_id, "-f", "markdown")
    assert report.returncode == 0, report.stderr
    section = report.stdout.split("## How the hosts were reached", 1)[1].split("\n## ", 1)[0]
    assert (f"| node1 | root@{a1}:{p1} | sudo to root without a password (sudo -n) | "
            "direct (no bastion) |") in section
    assert f"| node2 | root@{a2}:{p2} | no sudo: commands run as root | via root@{a1}:{p1} |" \
        in section
    doc_json = json.loads(sim.cli("report", run_id, "-f", "json").stdout)
    assert [h["name"] for h in doc_json["run"]["hosts"]] == ["node1", "node2", "node3"]

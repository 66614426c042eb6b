"""The shared lab as a user sees it right after ``lab up`` (``lab.core``)."""

from __future__ import annotations

import json
import os
import stat
import urllib.request

import pytest
import yaml

from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.lab.api import OctaviaApi
from octavia_upgrade.lab.services import UNITS

pytestmark = pytest.mark.lab


def test_every_service_is_active_on_every_node(lab):
    for name in lab.state()["nodes"]:
        shell = lab.shell(name)
        for unit in UNITS:
            res = shell.run(f"systemctl is-active {unit}")
            assert (res.rc, res.stdout.strip()) == (0, "active"), (name, unit, res)


def test_each_node_runs_its_own_config_and_venv(lab):
    st = lab.state()
    hosts, versions = set(), set()
    for name in st["nodes"]:
        shell = lab.shell(name)
        conf = shell.check("cat /etc/octavia/octavia.conf")
        host = [ln for ln in conf.splitlines() if ln.startswith("host = ")][0]
        hosts.add(host)
        versions.add(shell.check("/opt/octavia/venv/bin/python -c 'import importlib.metadata"
                                 " as m; print(m.version(\"octavia\"))'").strip())
        # The services are the venv's console scripts with the node's config file.
        pid = int(shell.check("cat /run/octavia/octavia-api.pid").split()[0])
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        assert b"/opt/octavia/venv/bin/octavia-api" in argv[:2]
        assert b"/etc/octavia/octavia.conf" in argv
    assert hosts == {f"host = {n}" for n in st["nodes"]}
    # One release on every node (an upgrade test may have moved them all on).
    assert len(versions) == 1 and versions.pop().split(".")[0].isdigit()
    # The host itself sees none of it: the node paths are private to the nodes.
    assert not os.path.exists("/etc/octavia/octavia.conf")


def test_load_balancer_is_active_and_online_with_one_amphora(lab):
    st = lab.state()
    for url in st["apis"]:
        lb = OctaviaApi(url).loadbalancer(st["lb"]["id"])
        assert (lb["provisioning_status"], lb["operating_status"]) == ("ACTIVE", "ONLINE")
    api = OctaviaApi(st["apis"][0])
    tree = api.status_tree(st["lb"]["id"])["loadbalancer"]
    listener = tree["listeners"][0]
    assert listener["operating_status"] == "ONLINE"
    pool = listener["pools"][0]
    assert pool["operating_status"] == "ONLINE"
    assert [m["operating_status"] for m in pool["members"]] == ["ONLINE", "ONLINE"]
    assert pool["health_monitor"]["provisioning_status"] == "ACTIVE"
    amps = [a for a in api.amphorae() if a["loadbalancer_id"] == st["lb"]["id"]]
    # As many amphorae as at bring-up (a failover test earlier in the session may have
    # replaced them; the same ids are checked by the cold upgrade's own before/after).
    assert len(amps) == len(st["lb"]["amphora_ids"])


def test_vip_answers_from_both_members(lab):
    dp = lab.state()["datapath"]
    url = f"http://{dp['vip']}:{dp['port']}/"
    bodies = set()
    for _ in range(4):
        with urllib.request.urlopen(url, timeout=5) as resp:
            assert resp.status == 200
            bodies.add(resp.read().decode().split()[1])
    assert bodies == {"member1", "member2"}


def test_inventory_is_valid_and_holds_secrets_privately(lab):
    from octavia_upgrade.inventory import load_inventory

    inv = load_inventory(lab.inventory_file)
    st = lab.state()
    assert inv.deployment == "lab-tests" and inv.flavor == "venv"
    assert [h.name for h in inv.with_role("db-migrate")] == ["node1"]
    assert all(set(h.roles) >= {"api", "worker", "health-manager", "housekeeping",
                                "driver-agent"} for h in inv.hosts)
    assert set(inv.secrets) == {"db_password", "heartbeat_key"}
    assert inv.probes[0].url.startswith(f"http://{st['datapath']['vip']}:")
    assert inv.ssh.strict_host_key_checking
    for f in (lab.inventory_file, lab.state_file):
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
    # The secrets are the ones the nodes really use.
    conf = lab.shell("node2").check("cat /etc/octavia/octavia.conf")
    assert f"heartbeat_key = {inv.secrets['heartbeat_key']}" in conf
    assert f":{inv.secrets['db_password']}@127.0.0.1:" in conf


def test_status_reports_the_lab(lab):
    data = lab.status()
    assert data["status"] == "up" and data["release"] == lab.state()["release"]
    assert data["release_at_up"] == lab.state()["release"]
    # what each node runs, read on the node: the release's Octavia
    major = load_catalog().get(lab.state()["release"]).octavia_major
    for node in data["nodes"]:
        assert node["release"] == data["release"], node
        assert int(node["octavia"].split(".")[0]) == major, node
    assert data["vip"]["reachable"] is True
    assert data["infrastructure"] == {"mariadb": "running", "rabbitmq": "running",
                                      "amphora-heartbeats": "running"}
    lb = [x for x in data["loadbalancers"] if x["id"] == lab.state()["lb"]["id"]][0]
    assert (lb["provisioning_status"], lb["operating_status"]) == ("ACTIVE", "ONLINE")
    json.dumps(data)  # the -f json form


def test_secrets_are_not_in_the_console_output_or_lab_logs(lab):
    inv = yaml.safe_load(lab.inventory_file.read_text())
    text = "\n".join(getattr(lab, "console_lines", []))
    assert text, "the fixture records lab up's console output"
    for value in inv["secrets"].values():
        assert value not in text
        assert value not in (lab.dir / "amphora" / "amphora.log").read_text()
        assert value not in " ".join(
            (lab.dir / "amphora" / "amphora.json").read_text().split())

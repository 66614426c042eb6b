"""How each host is reached (login user, port, sudo, bastions), through the real CLI:
the dry run and ``plan -v`` show it per host, and so does the plan report in every
format; a sudo password never appears. A dry run connects to no host: the
inventories use documentation addresses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clihelp import ROOT, cli

from octavia_upgrade.reports.json import validate

PASSWORD = "Sudo-pw-3c9e7a41"


@pytest.fixture
def kolla(tmp_path: Path) -> Path:
    """The shipped kolla multinode (``ansible_user=kolla``, ``ansible_become=true``), with
    a sudo password for control02."""
    text = (ROOT / "inventory" / "kolla" / "multinode").read_text()
    text = text.replace("control02 ansible_host=192.0.2.12",
                        f"control02 ansible_host=192.0.2.12 ansible_port=2222 "
                        f"ansible_become_password={PASSWORD}")
    path = tmp_path / "multinode"
    path.write_text(text)
    return path


@pytest.fixture
def ssh_config(tmp_path: Path) -> Path:
    """control01 is reached through a bastion."""
    path = tmp_path / "ssh_config"
    path.write_text("Host 192.0.2.11\n  ProxyJump jump@203.0.113.5:2200\n")
    return path


def _hosts_section(out: str) -> dict[str, str]:
    section = out.split("Hosts (how each is reached, and as whom its commands run):\n", 1)[1]
    rows = section.split("\n\n", 1)[0].splitlines()
    assert rows[0].split() == ["host", "login", "privileges", "route", "roles"]
    return {row.split()[0]: row for row in rows[1:]}


@pytest.mark.parametrize("command", [["run", "--dry-run"], ["run", "--dry-run", "-vv"],
                                     ["plan", "-v", "--no-detect"]])
def test_the_dry_run_shows_login_sudo_and_bastion_of_each_host(
        tmp_path: Path, kolla: Path, ssh_config: Path, command: list[str]) -> None:
    res = cli(command[0], "dalmatian-to-epoxy", "-i", str(kolla), "--ssh-config",
              str(ssh_config), *command[1:], cwd=tmp_path, state_dir=tmp_path / "state")
    assert res.returncode == 0, res.stderr
    hosts = _hosts_section(res.stdout)
    assert sorted(hosts) == ["control01", "control02", "control03"]
    assert "kolla@192.0.2.11:22" in hosts["control01"]
    assert "sudo to root without a password (sudo -n)" in hosts["control01"]
    assert "via jump@203.0.113.5:2200" in hosts["control01"]
    assert "kolla@192.0.2.12:2222" in hosts["control02"]
    assert "sudo to root with a password" in hosts["control02"]
    assert "direct (no bastion)" in hosts["control02"]
    assert PASSWORD not in res.stdout + res.stderr
    assert not (tmp_path / "state").exists()


def test_plan_without_v_keeps_to_the_steps(tmp_path: Path, kolla: Path) -> None:
    res = cli("plan", "dalmatian-to-epoxy", "-i", str(kolla), "--no-ssh-config", "--no-detect",
              cwd=tmp_path, state_dir=tmp_path / "state")
    assert res.returncode == 0, res.stderr
    assert "Hosts (how each is reached" not in res.stdout
    assert "Use -v to see the exact command each host will run." in res.stdout


def test_the_plan_report_says_how_each_host_is_reached_in_every_format(
        tmp_path: Path, kolla: Path, ssh_config: Path) -> None:
    out = {}
    for fmt in ("markdown", "html", "json"):
        res = cli("plan", "dalmatian-to-epoxy", "-i", str(kolla), "--ssh-config",
                  str(ssh_config), "--no-detect", "-f", fmt, cwd=tmp_path,
                  state_dir=tmp_path / "state")
        assert res.returncode == 0, res.stderr
        assert PASSWORD not in res.stdout + res.stderr
        out[fmt] = res.stdout
    md = out["markdown"].split("### How each host is reached\n", 1)[1].split("\n### ", 1)[0]
    assert ("| control01 | kolla@192.0.2.11:22 | sudo to root without a password (sudo -n) "
            "| via jump@203.0.113.5:2200 |") in md
    assert ("| control02 | kolla@192.0.2.12:2222 | sudo to root with a password "
            "| direct (no bastion) |") in md
    html = out["html"].split("<h3>How each host is reached</h3>", 1)[1].split("</table>", 1)[0]
    assert ("<tr><td>control01</td><td>kolla@192.0.2.11:22</td><td>sudo to root without a "
            "password (sudo -n)</td><td>via jump@203.0.113.5:2200</td></tr>") in html
    doc = json.loads(out["json"])
    by = {h["name"]: h for h in doc["summary"]["hosts"]}
    assert (by["control01"]["user"], by["control01"]["port"]) == ("kolla", 22)
    assert by["control01"]["become"] == {"method": "sudo", "user": "root",
                                         "password_given": False}
    assert by["control01"]["proxy_jump"] == [{"name": "203.0.113.5", "address": "203.0.113.5",
                                              "port": 2200, "user": "jump"}]
    assert by["control02"]["become"]["password_given"] is True
    assert by["control02"]["port"] == 2222 and by["control02"]["proxy_jump"] == []
    assert validate(doc) == []

"""Ansible inventories the tool cannot map, through the real CLI: each a one-line message
with the file (and line:column where one applies) and its documented exit code; never an
internal error. And a --limit that would split the control plane is refused end to end,
before anything is recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from clihelp import ROOT, cli

FIXTURES = ROOT / "tests" / "fixtures" / "inventories"
RUNBOOK = str(ROOT / "runbooks" / "dalmatian-to-epoxy.yaml")


def _bomb() -> str:
    lines = ["all:", "  vars:", "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"    a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 8)]
    return "\n".join(lines) + "\n"


CASES = {
    # name: (file content or fixture, expected "line:col: rule" part)
    "json-syntax": ('{\n  "_meta": {"hostvars": {}},\n  "octavia_api": {"hosts": ["a",]}\n}\n',
                    ":3:33: ansible-json: not valid JSON"),
    "json-unknown-group-key": ('{"octavia_api": {"hosts": ["a"], "hostvars": {}}}',
                               ":1:34: ansible-json: group octavia_api: unknown key 'hostvars'"),
    "osa-user-config": (FIXTURES / "osa-openstack_user_config.yml",
                        ":4:1: osa-user-config: this is OpenStack-Ansible's "
                        "openstack_user_config.yml"),
    "alias-bomb": (_bomb(), ":8:14: yaml-alias-limit: YAML aliases expand to more than"),
    "unknown-connection": ("[octavia-api]\nctl1 ansible_host=127.0.0.5 "
                           "ansible_connection=docker\n",
                           ":2:1: ansible-connection: host ctl1: ansible_connection=docker"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_inventory_that_cannot_be_mapped_is_one_line_and_exit_2(tmp_path: Path,
                                                                    case: str) -> None:
    content, expected = CASES[case]
    if isinstance(content, Path):
        path = content
    else:
        path = tmp_path / f"{case}.inv"
        path.write_text(content)
    for args in (("detect", "-i", str(path)),
                 ("run", RUNBOOK, "-i", str(path), "--dry-run")):
        res = cli(*args, cwd=tmp_path)
        assert res.returncode == 2, res.stderr
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, res.stderr
        assert lines[0].startswith(str(path) + ":") and expected in lines[0], lines[0]
        assert "internal error" not in res.stderr and "Traceback" not in res.stderr


def test_an_unknown_limit_pattern_names_the_hosts_and_groups(tmp_path: Path) -> None:
    res = cli("run", RUNBOOK, "-i", str(FIXTURES / "kolla-multinode"), "--dry-run",
              "--limit", "control09", cwd=tmp_path)
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert "--limit: no host or group named control09" in line and "octavia-api" in line


def test_a_limit_splitting_the_control_plane_is_refused_and_nothing_recorded(
        tmp_path: Path) -> None:
    state = tmp_path / "state"
    res = cli("run", RUNBOOK, "-i", str(FIXTURES / "kolla-multinode"), "--limit", "control02",
              "--yes", cwd=tmp_path, state_dir=state)
    assert res.returncode == 3, res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert "--limit 'control02' would split step 'stop-" in line
    assert "hosts left out: control01, control03" in line
    assert not state.exists() or not any(state.iterdir())  # no run, no lock, no database
    # the whole control plane by a group pattern plans
    ok = cli("run", RUNBOOK, "-i", str(FIXTURES / "kolla-multinode"), "--limit",
             "octavia-api:&control", "--dry-run", cwd=tmp_path, state_dir=state)
    assert ok.returncode == 0, ok.stderr
    assert "control01" in ok.stdout and "control03" in ok.stdout


def test_unhonoured_ansible_variables_are_warned_about_in_the_dry_run(tmp_path: Path) -> None:
    path = tmp_path / "hosts"
    path.write_text("[octavia-api]\nctl1 ansible_host=127.0.0.5 ansible_ssh_pipelining=true\n")
    res = cli("run", RUNBOOK, "-i", str(path), "--dry-run", cwd=tmp_path,
              HOME=str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert ("warning: ansible_ssh_pipelining is not honoured by octavia-upgrade (host ctl1)"
            in res.stderr)


def test_the_all_in_one_dry_run_shows_the_host_runs_locally(tmp_path: Path) -> None:
    res = cli("run", RUNBOOK, "-i", str(FIXTURES / "kolla-all-in-one"), "--dry-run",
              cwd=tmp_path, HOME=str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "localhost" in res.stdout
    assert "local (the operator machine" in res.stdout
    assert "no SSH: commands run on the operator machine" in res.stdout


def test_the_plan_report_shows_local_and_container_hosts(tmp_path: Path) -> None:
    aio = cli("plan", RUNBOOK, "-i", str(FIXTURES / "kolla-all-in-one"), "--no-detect",
              "-f", "json", cwd=tmp_path, HOME=str(tmp_path))
    assert aio.returncode == 0, aio.stderr
    (host,) = [h for h in _report_hosts(aio.stdout)]
    assert (host["name"], host["connection"], host["container"]) == ("localhost", "local", None)
    # the osa flavor is another part of the work: any flavor shows how hosts are reached
    osa = cli("plan", RUNBOOK, "-i", str(FIXTURES / "osa-openstack_inventory.json"),
              "--flavor", "venv", "--no-detect", "-f", "markdown", cwd=tmp_path,
              HOME=str(tmp_path))
    assert osa.returncode == 0, osa.stderr
    assert ("| infra1-octavia-server-container-3f1a2b4c | root@127.0.18.11:22, then lxc-attach "
            "into container infra1-octavia-server-container-3f1a2b4c |") in osa.stdout
    assert "| infra3 | root@127.0.18.13:22 |" in osa.stdout


def _report_hosts(text: str) -> list[dict[str, object]]:
    import json

    doc = json.loads(text)
    return list(doc["summary"]["hosts"])


def test_an_all_in_one_host_really_runs_its_commands_on_the_operator_machine(
        tmp_path: Path) -> None:
    import yaml

    marker = tmp_path / "ran-here"
    runbook = tmp_path / "rb.yaml"
    runbook.write_text(yaml.safe_dump({
        "apiVersion": "octavia-upgrade/v1", "kind": "Runbook",
        "metadata": {"name": "rb", "from": "dalmatian", "to": "epoxy", "revision": 1,
                     "description": "local host"},
        "parameters": {"marker": {"type": "string", "default": str(marker)}},
        "steps": [{"id": "touch", "kind": "command", "targets": {"roles": ["api"]},
                   "with": {"command": "echo \"$(id -un)\" > {{ params.marker }}"}}]},
        sort_keys=False))
    res = cli("run", str(runbook), "-i", str(FIXTURES / "kolla-all-in-one"), "--no-detect",
              "--yes", cwd=tmp_path, state_dir=tmp_path / "state", HOME=str(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    import getpass

    assert marker.read_text() == getpass.getuser() + "\n"

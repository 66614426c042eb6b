"""``octavia-upgrade lab ...`` (``cli.lab``): exit codes and output."""

from __future__ import annotations

import json

import pytest

from octavia_upgrade.cli import main
from octavia_upgrade.lab.core import Lab


@pytest.mark.parametrize("argv, message", [
    (["lab", "up", "--release", "pike"], "cannot install Pike"),
    (["lab", "up", "--nodes", "9"], "--nodes must be between 1 and 5"),
    (["lab", "up", "--bare", "--nodes", "51"], "between 1 and 50"),
    (["lab", "up", "--bare", "--flavor", "osa"], "--flavor needs Octavia"),
])
def test_invalid_up_arguments_exit_2_before_doing_anything(argv, message, tmp_path, capsys):
    assert main([*argv, "--dir", str(tmp_path / "lab")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "lab").exists()


def test_status_and_fault_without_a_lab_exit_2(tmp_path, capsys):
    assert main(["lab", "status", "--dir", str(tmp_path)]) == 2
    assert "no lab in" in capsys.readouterr().err
    assert main(["lab", "fault", "node1", "slow", "--dir", str(tmp_path)]) == 2


def test_unknown_fault_kind_is_an_argument_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["lab", "fault", "node1", "meteor", "--dir", str(tmp_path)])
    assert exc.value.code == 2


def test_down_without_a_lab_is_a_no_op(tmp_path, capsys):
    assert main(["lab", "down", "--dir", str(tmp_path / "none")]) == 0
    assert "nothing to do" in capsys.readouterr().out


@pytest.mark.lab
def test_status_of_the_running_lab(lab, capsys):
    assert main(["lab", "status", "--dir", str(lab.dir)]) == 0
    out = capsys.readouterr().out
    assert "ONLINE" in out and "reachable" in out and "node3" in out
    assert main(["lab", "status", "--dir", str(lab.dir), "-f", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [n["name"] for n in data["nodes"]] == ["node1", "node2", "node3"]


@pytest.mark.lab
def test_up_on_a_running_lab_is_refused_with_exit_3(lab, capsys):
    assert main(["lab", "up", "--dir", str(lab.dir)]) == 3
    assert "already up" in capsys.readouterr().err
    assert lab.state()["status"] == "up"


def test_a_flavor_the_lab_cannot_lay_out_is_an_argument_error(tmp_path, capsys):
    try:
        with pytest.raises(SystemExit) as exc:
            main(["lab", "up", "--flavor", "deb", "--net", "127.42.233",
                  "--dir", str(tmp_path / "lab")])
    finally:
        if (tmp_path / "lab" / "lab.json").exists():  # came up after all: stop it by PID
            Lab(tmp_path / "lab", log=lambda _m: None).down(quiet=True)
    assert exc.value.code == 2
    assert "invalid choice: 'deb' (choose from 'venv', 'kolla', 'osa')" in \
        capsys.readouterr().err
    assert not (tmp_path / "lab").exists()


def test_login_needs_a_new_user_and_the_password_in_the_environment(tmp_path, capsys,
                                                                     monkeypatch):
    lab_dir = str(tmp_path / "lab")
    monkeypatch.delenv("OCTAVIA_UPGRADE_LAB_SUDO_PASSWORD", raising=False)
    assert main(["lab", "up", "--login", "ops1", "--dir", lab_dir]) == 2
    assert "OCTAVIA_UPGRADE_LAB_SUDO_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("OCTAVIA_UPGRADE_LAB_SUDO_PASSWORD", "pw-not-shown-91")
    assert main(["lab", "up", "--login", "root", "--dir", lab_dir]) == 2
    assert "a new user name is needed" in capsys.readouterr().err
    assert main(["lab", "up", "--login", "daemon", "--dir", lab_dir]) == 3  # exists here
    err = capsys.readouterr().err
    assert "the user already exists on this machine" in err and "pw-not-shown-91" not in err
    assert main(["lab", "up", "--login", "ops1", "--bare", "--dir", lab_dir]) == 2
    assert "--login is for a full lab" in capsys.readouterr().err
    assert not (tmp_path / "lab").exists()


def test_the_status_line_says_what_the_nodes_run_now():
    from octavia_upgrade.cli.lab import render_status

    def status(*releases: str | None, at_up: str = "dalmatian") -> str:
        nodes = [{"name": f"node{i + 1}", "address": f"127.0.0.{i + 1}:22", "sshd": "running",
                  "octavia": None, "release": r, "services": {}, "faults": []}
                 for i, r in enumerate(releases)]
        now = set(releases)
        data = {"dir": "lab", "status": "up", "bare": False, "flavor": "venv",
                "deployment": "lab-x", "release_at_up": at_up, "nodes": nodes,
                "release": now.pop() if len(now) == 1 else None, "inventory": "inv",
                "loadbalancers": [], "amphorae": []}
        return render_status(data).splitlines()[0]

    assert status("dalmatian", "dalmatian").endswith(
        ": up, release dalmatian, flavor venv, deployment lab-x")
    assert ": up, release epoxy (brought up at dalmatian)," in status("epoxy", "epoxy")
    assert ": up, release mixed (node1 epoxy, node2 dalmatian) (brought up at dalmatian)," in \
        status("epoxy", "dalmatian")
    assert ": up, release unknown (brought up at dalmatian)," in status(None, None)

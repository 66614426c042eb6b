"""Least privilege as production runs it: the demo's upgrade through a non-root login
and sudo with a password, on the real lab (``lab up --login``).

The password is given once, in the environment; the run sends it only to sudo.
After the whole Dalmatian → Epoxy upgrade (the demo's operator checks) every
file the lab, the engine and the reports wrote is searched for it: it must be
in none. ``lab down`` then removes the login user again.

Runs after the shared session lab is gone (``lab_down_last``) so two full labs
do not compete for the two cores.
"""

from __future__ import annotations

import json
import os
import pwd
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from octavia_upgrade.lab.core import Lab
from octavia_upgrade.lab.login import PASSWORD_ENV
from octavia_upgrade.resources import runbooks_dir

pytestmark = [pytest.mark.lab, pytest.mark.lab_down_last]

NET = os.environ.get("OCTAVIA_UPGRADE_TEST_SUDO_NET", "127.42.74")
PASSWORD = "lab-sudo-Pw_7c1e9a"
USER = f"ouops{os.getpid() % 100000}"


@pytest.fixture(scope="module")
def sudo_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    from fixtures.lab import own_lab

    mp = pytest.MonkeyPatch()
    mp.setenv(PASSWORD_ENV, PASSWORD)
    try:
        with own_lab(tmp_path_factory, "sudo", NET, nodes=2, login=USER) as lab:
            yield lab
    finally:
        mp.undo()


def _files_with(root: Path, secret: bytes) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if secret in path.read_bytes():
                    found.append(str(path))
            except OSError:
                continue
    return found


def test_the_upgrade_runs_as_a_user_through_sudo_and_the_password_is_nowhere(
        sudo_lab: Lab, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from octavia_upgrade import demo

    inventory = yaml.safe_load(sudo_lab.inventory_file.read_text())
    assert {h["user"] for h in inventory["hosts"].values()} == {USER}
    assert inventory["become"] == {"user": "root", "password_env": PASSWORD_ENV}

    rehearsal = demo.Demo(lab_dir=sudo_lab.dir, state_dir=tmp_path / "state",
                          reports_dir=tmp_path / "reports",
                          runbook=runbooks_dir() / "dalmatian-to-epoxy.yaml")
    demo.rehearse(rehearsal)
    printed = capfd.readouterr()
    failed = [f"{what}: {detail}" for what, ok, detail in rehearsal.checks if not ok]
    assert not failed, "\n".join(failed) + "\n" + printed.out[-3000:] + printed.err[-2000:]

    # It really was the user, through sudo: every node's sshd let USER in, and the
    # run records the login and the sudo it used.
    for node in sudo_lab.state()["nodes"]:
        log = (sudo_lab.dir / "nodes" / node / "sshd.log").read_text()
        assert f"Accepted publickey for {USER}" in log
        assert "Accepted publickey for root" in log  # only the lab's own set-up
    runs = json.loads(rehearsal.cli("runs", "-f", "json", capture=True, echo=False).stdout)
    shown = json.loads(rehearsal.cli("show", runs[-1]["id"], "-f", "json", capture=True,
                                     echo=False).stdout)
    assert {h["name"]: (h["user"], h["become"]) for h in shown["hosts"]} == {
        node: (USER, {"method": "sudo", "user": "root", "password_given": True})
        for node in sudo_lab.state()["nodes"]}

    # The password: in no file anywhere the lab, the engine or the reports wrote,
    # nor in anything the commands printed.
    secret = PASSWORD.encode()
    leaked = [*_files_with(sudo_lab.dir, secret), *_files_with(tmp_path, secret),
              *_files_with(Path(pwd.getpwnam(USER).pw_dir), secret)]
    assert leaked == []
    assert PASSWORD not in printed.out and PASSWORD not in printed.err


def test_lab_down_removes_the_login_user(sudo_lab: Lab) -> None:
    home = Path(pwd.getpwnam(USER).pw_dir)
    sudo_lab.down(quiet=True)
    with pytest.raises(KeyError):
        pwd.getpwnam(USER)
    assert not home.exists()

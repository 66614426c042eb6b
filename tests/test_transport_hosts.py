"""Hosts not reached by plain SSH: ``ansible_connection=local`` runs on the operator
machine; an OpenStack-Ansible container is entered with ``lxc-attach`` on its host."""

from __future__ import annotations

import os
import shlex
import stat
from pathlib import Path

import pytest

from octavia_upgrade.model import Container, Host, Inventory
from octavia_upgrade.transport import LocalTransport, TransportPool, remote_command


def test_a_local_host_gets_a_local_transport_that_really_runs() -> None:
    inv = Inventory(path="i", deployment="d", flavor="kolla", hosts=(
        Host("localhost", "localhost", connection="local", roles=("api",)),))
    with TransportPool(inv) as pool:
        transport = pool.get("localhost")
        assert isinstance(transport, LocalTransport)
        pool.prefetch(["localhost"])  # nothing to open, nothing fails
        result = transport.run("echo $((6*7)); echo err >&2; exit 3", timeout=10)
    assert (result.rc, result.stdout, result.stderr) == (3, "42\n", "err\n")


def test_container_command_line_enters_the_container_as_osa_does() -> None:
    line = remote_command("octavia-status upgrade check", timeout=30,
                          container=Container("infra1-octavia-server-container-3f1a2b4c"))
    assert line.startswith("exec </dev/null; lxc-attach --clear-env --name "
                           "infra1-octavia-server-container-3f1a2b4c -- su - root -c ")
    # timeout runs inside the container, around the command
    inner = shlex.split(line.split(" -- su - root -c ", 1)[1].rsplit("; exit $?", 1)[0])[0]
    assert inner.startswith("timeout -k 5 30 sh -c ")


@pytest.fixture
def fake_lxc(tmp_path: Path) -> Path:
    """``lxc-attach`` and ``su`` stand-ins that check their arguments and run the command
    (the container is this machine), as the real ones would inside it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    scripts = {
        "lxc-attach": '[ "$1" = --clear-env ] && [ "$2" = --name ] && [ "$4" = -- ] || exit 99\n'
                      'echo "attached to $3" >&2\nshift 4\nexec "$@"\n',
        "su": '[ "$1" = - ] && [ "$3" = -c ] || exit 98\nexec sh -c "$4"\n',
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\n" + body)
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def test_a_container_command_survives_the_quoting_of_both_layers(
        fake_lxc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{fake_lxc}{os.pathsep}{os.environ['PATH']}")
    line = remote_command("printf '%s|' \"$A\" 'it'\"'\"'s'", timeout=10, env={"A": "a b;c"},
                          container=Container("c1"))
    result = LocalTransport().run(line, timeout=20)
    assert result.rc == 0, result.stderr
    assert result.stdout == "a b;c|it's|"
    assert "attached to c1" in result.stderr

"""The operator's world on real sshd: a ProxyJump bastion that is the only way in, sudo users.

A private lab (``bastion``, ``ctl1``, ``ctl2`` on 127.42.110.x, stopped by PID)
where an nftables rule in the lab's own table rejects every connection to the
control nodes' sshd unless it comes from the bastion's sshd session of the
unprivileged jump user (``meta skuid``): the test process (root) cannot reach
them directly. Two users are created with ``useradd`` and removed at the end:
the jump user and an unprivileged operator ``ops`` who logs in on the nodes and
uses sudo: without a password on ``ctl1``, with one on ``ctl2`` (sudoers lives
in each node's own mount namespace: a bind-mounted ``/etc/sudoers.d``).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from simlab import DALMATIAN, FLAVOR, SIM

from octavia_upgrade.inventory_source import InventorySource, open_inventory
from octavia_upgrade.lab.nodes import LabNodes, NodeSpec, default_specs, unavailable_reason
from octavia_upgrade.model import Become, Host, SshSettings
from octavia_upgrade.transport import (AuthenticationFailed, HostUnreachable, SshTransport,
                                       UnknownHostKey)

pytestmark = pytest.mark.slow

NET = "127.42.110"
PASSWORD = "Sudo-pw-7f3a91c2e4"


@dataclass
class World:
    nodes: LabNodes
    port: int
    jump_user: str
    ops_user: str
    home: Path          # an operator HOME with .ssh/config naming the bastion
    ssh_config: Path
    multinode: Path     # the operator's kolla-ansible inventory
    sim_root: Path
    tmp: Path

    def address(self, name: str) -> str:
        return self.nodes.node(name).address


def _run(*cmd: str) -> None:
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def _useradd(name: str, home: Path) -> int:
    # '*' = no password but not locked: sshd (UsePAM no) refuses locked accounts.
    _run("useradd", "-m", "-d", str(home), "-s", "/bin/sh", "-p", "*", name)
    return pwd.getpwnam(name).pw_uid


def _sudoers(folder: Path, line: str) -> Path:
    folder.mkdir(parents=True)
    rule = folder / "octavia-upgrade-test"
    rule.write_text(line + "\n")
    os.chmod(rule, 0o440)
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    reason = unavailable_reason()
    if reason or not shutil.which("sudo") or not shutil.which("nft"):
        pytest.skip(f"needs root, sshd, sudo and nft: {reason or 'sudo/nft missing'}")
    tmp = tmp_path_factory.mktemp("world")
    suffix = f"{os.getpid() % 100000}"
    jump, ops = f"oujump{suffix}", f"ouops{suffix}"
    users: list[str] = []
    # sshd reads authorized_keys as the logging-in user: the lab directory must be
    # traversable by others (pytest's own temp folders are 0700), its files not readable.
    base = Path(tempfile.mkdtemp(prefix="octavia-world-"))
    base.chmod(0o711)
    nodes = LabNodes(base / "lab")
    try:
        _useradd(jump, base / f"home-{jump}")
        users.append(jump)
        jump_uid = pwd.getpwnam(jump).pw_uid
        _useradd(ops, base / f"home-{ops}")
        users.append(ops)
        # ops's sudo password (the hash goes to /etc/shadow; the user is removed at the end)
        subprocess.run(["chpasswd"], input=f"{ops}:{PASSWORD}\n", text=True, check=True)
        nopasswd = _sudoers(tmp / "sudoers-ctl1", f"{ops} ALL=(ALL:ALL) NOPASSWD: ALL")
        withpw = _sudoers(tmp / "sudoers-ctl2", f"{ops} ALL=(ALL:ALL) ALL")
        port = default_specs(1, net=NET)[0].port
        specs = [NodeSpec("bastion", f"{NET}.10", port),
                 NodeSpec("ctl1", f"{NET}.11", port, binds={"/etc/sudoers.d": str(nopasswd)}),
                 NodeSpec("ctl2", f"{NET}.12", port, binds={"/etc/sudoers.d": str(withpw)})]
        nodes.start(specs)
        nodes.client_key.parent.chmod(0o711)
        nodes.authorized_keys.chmod(0o644)
        # Only the jump user's bastion session may open connections to the nodes' sshd.
        table = nodes.nft_table
        for cmd in (f"add table inet {table}",
                    f"add chain inet {table} output {{ type filter hook output priority 0 ; }}",
                    f"add rule inet {table} output ip daddr {{ {NET}.11, {NET}.12 }} tcp dport "
                    f"{port} meta skuid != {jump_uid} reject with tcp reset"):
            _run("nft", cmd)
        home = tmp / "operator-home"
        (home / ".ssh").mkdir(parents=True)
        key, known = nodes.client_key, nodes.known_hosts
        config = home / ".ssh" / "config"
        config.write_text(
            f"Host bastion\n  HostName {NET}.10\n  Port {port}\n  User {jump}\n"
            f"  IdentityFile {key}\n  UserKnownHostsFile {known}\n"
            f"Host ctl*\n  ProxyJump bastion\n  Port {port}\n  IdentityFile {key}\n"
            f"  UserKnownHostsFile {known}\n  ConnectTimeout 5\n"
            f"Host ctl1\n  HostName {NET}.11\nHost ctl2\n  HostName {NET}.12\n")
        sim_root = tmp / "sim"
        for n in ("ctl1", "ctl2"):
            d = sim_root / n
            (d / "run").mkdir(parents=True)
            (d / "version").write_text(DALMATIAN["octavia"] + "\n")
            (d / "lib-version").write_text(DALMATIAN["lib"] + "\n")
            (d / "octavia.conf").write_text("[DEFAULT]\ndebug = False\n")
            for unit in ("sim-api", "sim-worker", "sim-health-manager", "sim-housekeeping",
                         "sim-driver-agent"):
                (d / "run" / unit).touch()
                (d / "units").mkdir(exist_ok=True)
                (d / "units" / unit).touch()
        (sim_root / "db-revision").write_text(DALMATIAN["head"] + "\n")
        # The operator's kolla-ansible multinode inventory, as kolla-ansible has it:
        # host names only, addresses and the bastion come from ~/.ssh/config.
        multinode = tmp / "multinode"
        multinode.write_text(
            "[control]\nctl1\nctl2 ansible_become_password=" + PASSWORD + "\n\n"
            "[compute]\ncompute01\n\n[deployment]\nlocalhost ansible_connection=local\n\n"
            f"[all:vars]\nansible_user={ops}\nansible_become=true\n"
            f"octavia_upgrade_sim={SIM}\noctavia_upgrade_root={sim_root}\n\n"
            "[octavia:children]\ncontrol\n\n"
            + "".join(f"[octavia-{g}:children]\noctavia\n\n" for g in (
                "api", "worker", "health-manager", "housekeeping", "driver-agent")))
        yield World(nodes, port, jump, ops, home, config, multinode, sim_root, tmp)
    finally:
        nodes.stop()   # stops every sshd by PID and drops the lab's nft table
        for user in users:
            subprocess.run(["userdel", "-r", "-f", user], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


def _host(world: World, name: str, **kw: object) -> Host:
    return Host(name=name, address=world.address(name), port=world.port,
                user=str(kw.pop("user", world.ops_user)), key_file=str(world.nodes.client_key),
                **kw)  # type: ignore[arg-type]


def _ssh(world: World) -> SshSettings:
    return SshSettings(known_hosts=str(world.nodes.known_hosts), connect_timeout=5)


def _inventory(world: World, **kw: object):  # type: ignore[no-untyped-def]
    return open_inventory(InventorySource(str(world.multinode), ssh_config=str(world.ssh_config),
                                          flavor=str(FLAVOR), **kw))  # type: ignore[arg-type]


def test_nodes_cannot_be_reached_directly_only_through_the_bastion(world: World) -> None:
    with SshTransport(_host(world, "ctl1"), _ssh(world)) as direct:
        with pytest.raises(HostUnreachable, match="cannot connect"):
            direct.run("true", timeout=10)
    inv = _inventory(world)
    ctl1 = inv.host("ctl1")
    assert [(j.address, j.user) for j in ctl1.proxy_jump] == [(f"{NET}.10", world.jump_user)]
    # Without become, as the unprivileged user: the bastion path works.
    with SshTransport(replace(ctl1, become=None), inv.ssh) as t:
        r = t.run("id -un; echo $OCTAVIA_LAB_NODE", timeout=10)
    assert r.ok and r.stdout.split() == [world.ops_user, "ctl1"], r
    assert world.jump_user in world.nodes.node("bastion").log_file.read_text()


def test_host_keys_are_checked_strictly_on_the_bastion_too(world: World, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    lines = world.nodes.known_hosts.read_text().splitlines()
    known.write_text("".join(f"{x}\n" for x in lines if not x.startswith(
        (f"{NET}.10 ", f"[{NET}.10]"))))
    inv = _inventory(world)
    host = replace(inv.host("ctl1"), known_hosts=str(known))
    with SshTransport(host, inv.ssh) as t, pytest.raises(UnknownHostKey, match="bastion bastion"):
        t.run("true", timeout=10)


def test_sudo_without_password_and_with_one_that_is_never_shown(world: World) -> None:
    inv = _inventory(world)
    ctl1, ctl2 = inv.host("ctl1"), inv.host("ctl2")
    assert ctl1.become == Become() and ctl2.become == Become(password=PASSWORD)
    for host in (ctl1, ctl2):
        with SshTransport(host, inv.ssh) as t:
            r = t.run("id -un; cat", timeout=20, stdin="from-stdin\n")
            assert r.ok and r.stdout.split() == ["root", "from-stdin"], r
            assert PASSWORD not in r.stdout + r.stderr
            # No stdin for the command: it reads /dev/null, not the password line.
            r = t.run("cat; id -un", timeout=20)
            assert r.ok and r.stdout.split() == ["root"], r
    # ctl2's sudo needs the password: without it sudo -n fails at once
    with SshTransport(replace(ctl2, become=Become()), inv.ssh) as t:
        r = t.run("id -un", timeout=20)
    assert r.rc != 0 and "password is required" in r.stderr
    with SshTransport(replace(ctl2, become=Become(password="wrong-pw")), inv.ssh) as t:
        r = t.run("id -un", timeout=30)
    assert r.rc != 0 and "root" not in r.stdout


def test_agent_keys_are_used_when_no_key_file_is_given(world: World, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock)}
        subprocess.run(["ssh-add", str(world.nodes.client_key)], env=env, check=True,
                       capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        monkeypatch.setenv("HOME", str(tmp_path))   # no ~/.ssh/id_* to fall back on
        host = replace(_host(world, "bastion", user=world.jump_user), key_file=None)
        with SshTransport(host, _ssh(world)) as t:
            assert t.run("id -un", timeout=10).stdout.strip() == world.jump_user
        monkeypatch.delenv("SSH_AUTH_SOCK")
        with SshTransport(host, _ssh(world)) as t, pytest.raises(AuthenticationFailed):
            t.run("id -un", timeout=10)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(timeout=10)


def _cli(world: World, *args: str, state: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(world.home), "OCTAVIA_UPGRADE_STATE_DIR": str(state)}
    env.pop("SSH_AUTH_SOCK", None)
    return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], capture_output=True,
                          text=True, env=env, timeout=180, stdin=subprocess.DEVNULL)


def test_operator_detects_plans_and_runs_from_multinode_and_ssh_config(world: World,
                                                                      tmp_path: Path) -> None:
    """No new file: the kolla multinode inventory and ~/.ssh/config (bastion) as they are."""
    state = tmp_path / "state"
    inv = ("-i", str(world.multinode), "--flavor", str(FLAVOR))
    det = _cli(world, "detect", *inv, "-f", "json", state=state)
    assert det.returncode == 0, det.stderr
    assert '"release": "dalmatian"' in det.stdout and '"ctl2"' in det.stdout
    assert "compute01" not in det.stdout
    runbook = Path(__file__).resolve().parents[2] / "runbooks" / "dalmatian-to-epoxy.yaml"
    plan = _cli(world, "plan", str(runbook), *inv, state=state)
    assert plan.returncode == 0, plan.stderr
    assert "kolla-multinode" in plan.stdout and "ctl1" in plan.stdout
    # A real run (as ops, through the bastion, sudo with ctl2's password): the
    # password appears nowhere the tool writes.
    rb = tmp_path / "restart-epoxy.yaml"
    rb.write_text(
        "apiVersion: octavia-upgrade/v1\nkind: Runbook\nmetadata:\n  name: restart-epoxy\n"
        "  from: dalmatian\n  to: epoxy\n  revision: 1\n  description: engine test\n"
        "steps:\n  - id: whoami\n    name: who runs commands\n    kind: command\n"
        "    with: {command: 'id -un'}\n"
        "  - id: restart-housekeeping\n    name: restart housekeeping\n    kind: service\n"
        "    with: {action: restart, services: [housekeeping]}\n")
    run = _cli(world, "-v", "run", str(rb), *inv, "--yes", state=state)
    assert run.returncode == 0, run.stdout + run.stderr
    ops = (world.sim_root / "ops.log").read_text().split("\n")
    assert {line.split()[1] for line in ops if "restart" in line} == {"ctl1", "ctl2"}
    written = run.stdout + run.stderr + "".join(
        p.read_text(errors="replace") for p in state.rglob("*") if p.is_file())
    assert PASSWORD not in written
    # the command step ran as root on both nodes (sudo), logged in as ops
    assert run.stdout.count("| root") == 2, run.stdout


def test_a_failed_run_resumes_with_the_inventory_options_it_recorded(world: World,
                                                                     tmp_path: Path) -> None:
    state = tmp_path / "state"
    go = world.sim_root / "go"
    rb = tmp_path / "gated-epoxy.yaml"
    rb.write_text(
        "apiVersion: octavia-upgrade/v1\nkind: Runbook\nmetadata:\n  name: gated-epoxy\n"
        "  from: dalmatian\n  to: epoxy\n  revision: 1\n  description: engine test\n"
        "steps:\n  - id: gate\n    name: wait for the gate file\n    kind: command\n"
        f"    with: {{command: 'test -e {go}'}}\n"
        "  - id: restart-housekeeping\n    name: restart housekeeping\n    kind: service\n"
        "    with: {action: restart, services: [housekeeping]}\n")
    inv = ("-i", str(world.multinode), "--flavor", str(FLAVOR))
    ops_log = world.sim_root / "ops.log"
    seen = ops_log.read_text() if ops_log.exists() else ""
    first = _cli(world, "run", str(rb), *inv, "--yes", state=state)
    assert first.returncode == 1, first.stdout + first.stderr
    run_id = first.stdout.split("run ", 1)[1].split(":", 1)[0]
    go.touch()
    try:
        # Read without the recorded --flavor, the kolla inventory would get the kolla
        # flavor, whose restart (docker) these nodes do not have: resume needs no options.
        resumed = _cli(world, "resume", run_id, "--yes", state=state)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "finished successfully" in resumed.stdout
        ops = ops_log.read_text()[len(seen):].split("\n")
        assert {line.split()[1] for line in ops if "restart" in line} == {"ctl1", "ctl2"}
    finally:
        go.unlink()

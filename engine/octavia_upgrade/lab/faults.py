"""Fault injection on lab nodes: what can go wrong on a real control-plane node.

Each fault is made with the mechanism closest to the real failure:

``unreachable``
    The node leaves the network: an nftables rule (``LabNodes.block``) drops
    every packet to its SSH address and port; new connections time out and
    open ones hang. The node itself keeps running.
``stuck-service UNIT``
    The unit's processes are frozen with SIGSTOP, like a process hung in the
    kernel: ``systemctl stop`` sends SIGTERM, waits its timeout, reports the
    failure and exits 1; the process survives until ``systemctl kill -s KILL``.
    ``clear`` sends SIGCONT and, if a stop was asked meanwhile and has not
    landed 2 s later, SIGTERM again to the main thread, so the service stops
    as it was asked to.
``stuck-failover``
    A failover that never completes: the node's ``octavia-worker`` is frozen
    as ``stuck-service`` freezes a unit, so a failover (or any change) cast
    to it stays ``PENDING_UPDATE`` until ``clear`` thaws the worker, which
    then finishes it. Freeze every node's worker to hang every failover.
``fail-migration [half-way]``
    Every ``octavia-db-manage upgrade`` on the node fails (exit 1) until
    ``clear``: a ``.pth`` hook in the venv's site-packages wraps alembic's
    upgrade command. By default it fails before any migration runs; with
    ``half-way`` it first applies the next pending migration (alembic
    ``+1``), so the schema is left between two releases, as a migration
    that breaks in the middle leaves it. pip upgrades leave unknown files
    alone, so the fault survives a package upgrade of the node.
``slow [DELAY]``
    Adds DELAY (default 150ms) in each direction to new SSH connections to the
    node: an nftables DNAT rule in a table the lab owns sends them through a
    relay (``lab.delayproxy``). (This kernel has no ``netem``.)
``disk-full [PATH]``
    PATH (default ``/var/log/octavia``) becomes a small tmpfs inside the
    node's mount namespace with a copy of its files, then is filled: every
    write there fails with ENOSPC. Processes that already had a file open
    keep writing to the original.
``clear``
    Undoes every fault on the node.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.lab import delayproxy
from octavia_upgrade.lab.procs import Proc, free_port, wait_tcp
from octavia_upgrade.lab.services import UNITS

KINDS = ("unreachable", "stuck-service", "stuck-failover", "fail-migration", "slow",
         "disk-full", "clear")

DEFAULT_DELAY = "150ms"
DEFAULT_FULL_PATH = "/var/log/octavia"

_HOOK_MODULE = "octavia_lab_fault_fail_migration"

_HOOK_SOURCE = '''\
"""Lab fault "fail-migration": octavia-db-manage upgrade fails until `lab fault NODE clear`.

With HOLD (a file name) it does not fail: after the first migration, on the
same database connection, it creates HOLD and waits while HOLD exists.
"""
import os
import sys
import time

HALF_WAY = {half_way}
HOLD = {hold}


def _install():
    try:
        with open("/proc/self/cmdline", "rb") as f:
            argv = [a.decode(errors="replace") for a in f.read().split(b"\\0") if a]
    except OSError:
        return
    if not any(a.endswith("octavia-db-manage") for a in argv[:2]):
        return
    if not any(a.startswith("upgrade") for a in argv):
        return
    if HOLD:
        from alembic.runtime import migration

        update = migration.HeadMaintainer.update_to_step
        held = []

        def update_to_step(self, step):
            update(self, step)
            if not held:
                held.append(step)
                open(HOLD, "w").close()
                deadline = time.monotonic() + 900
                while os.path.exists(HOLD) and time.monotonic() < deadline:
                    time.sleep(0.1)

        migration.HeadMaintainer.update_to_step = update_to_step
        return
    import alembic.command

    original = alembic.command.upgrade

    def upgrade(config, revision, *args, **kwargs):
        if HALF_WAY:
            original(config, "+1", *args, **kwargs)
        raise RuntimeError("migration failed: fault injected by the octavia-upgrade lab "
                           "(lab fault NODE fail-migration); clear it with "
                           "`octavia-upgrade lab fault NODE clear`")

    alembic.command.upgrade = upgrade


_install()
'''


@dataclass(frozen=True)
class Target:
    """A node as faults need it."""

    name: str
    address: str
    port: int
    #: PID of the node's sshd: its mount namespace is the node's.
    sshd_pid: int
    #: Host folder holding the node's private paths (``fs/etc/octavia`` ...).
    fs: Path
    lab_dir: Path


def parse_delay(text: str) -> float:
    from octavia_upgrade.model import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise InvalidInput(f"slow: {exc}") from None
    if not 0 < value <= 10:
        raise InvalidInput(f"slow: delay {text} must be between 1ms and 10s")
    return value


def nat_table(lab_dir: Path) -> str:
    digest = hashlib.sha256(str(lab_dir.resolve()).encode()).hexdigest()[:10]
    return f"octavia_labnat_{digest}"


def _nsenter(t: Target, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", "-t", str(t.sshd_pid), "-m", "--", "sh", "-c", script],
                          capture_output=True, text=True, check=False, timeout=120)


def _node_venv(t: Target) -> Path:
    """The host path of the venv the node's units start: the one the worker's unit
    file names (the ``osa`` style), else ``/opt/octavia/venv`` (a prepared upgrade
    makes it a link to ``/opt/octavia/venvs/octavia-<release>``)."""
    unit = t.fs / "etc/systemd/system/octavia-worker.service"
    if unit.is_file():
        execs = [ln.split("=", 1)[1].split() for ln in unit.read_text().splitlines()
                 if ln.startswith("ExecStart=")]
        if execs and execs[-1]:
            return t.fs / str(Path(execs[-1][0]).parent.parent).lstrip("/")
    venv = t.fs / "opt/octavia/venv"
    if venv.is_symlink():
        target = os.readlink(venv)
        return t.fs / target.lstrip("/") if target.startswith("/") else venv.parent / target
    return venv


def _site_packages(t: Target) -> Path:
    found = sorted((_node_venv(t) / "lib").glob("python3*/site-packages"))
    if not found:
        raise InvalidInput(f"{t.name} has no Octavia venv (a --bare lab?)")
    return found[-1]


def _unit_pid(t: Target, unit: str) -> Proc | None:
    try:
        parts = (t.fs / "run/octavia" / f"{unit}.pid").read_text().split()
    except OSError:
        return None
    proc = Proc(unit, int(parts[0]), int(parts[1]) if len(parts) > 1 else None)
    return proc if proc.alive() else None


# -- inject -----------------------------------------------------------------------


def stuck_service(t: Target, unit: str) -> dict[str, Any]:
    unit = unit.removesuffix(".service")
    if unit not in UNITS:
        raise InvalidInput(f"stuck-service: unknown unit {unit!r}; one of {', '.join(UNITS)}")
    proc = _unit_pid(t, unit)
    if proc is None:
        raise InvalidInput(f"stuck-service: {unit} is not running on {t.name}")
    os.killpg(proc.pid, signal.SIGSTOP)
    return {"unit": unit, "pid": proc.pid, "started": proc.started}


#: ``fail-migration``'s optional arguments.
HALF_WAY = "half-way"
HOLD = "hold"


def fail_migration(t: Target, mode: str | None = None) -> dict[str, Any]:
    if mode not in (None, HALF_WAY, HOLD):
        raise InvalidInput(f"fail-migration: unknown mode {mode!r}; give none (fail before "
                           f"any migration), {HALF_WAY} (fail after the first one) or {HOLD} "
                           "(wait after the first one until cleared)")
    hold = t.lab_dir / f"migration-held-{t.name}" if mode == HOLD else None
    return hook_migrations(_site_packages(t), half_way=mode == HALF_WAY, hold=hold)


def hook_migrations(site: Path, half_way: bool, hold: Path | None = None) -> dict[str, Any]:
    """Make ``octavia-db-manage upgrade`` of the venv whose site-packages is ``site`` fail.

    ``fail-migration`` hooks the venv the node's units start; a test that
    needs the fault in a venv staged during a run hooks that one (the host
    path of its site-packages) once it is built. :func:`unhook_migrations` undoes it.

    ``hold``: instead of failing, the migration creates this file after its
    first step and waits (on its open database connection) while it exists,
    so that something can happen to the database server at a known point;
    removing the file, or clearing the fault, lets it go on.
    """
    source = (_HOOK_SOURCE.replace("{half_way}", repr(half_way))
              .replace("{hold}", repr(str(hold) if hold else None)))
    (site / f"{_HOOK_MODULE}.py").write_text(source)
    (site / f"{_HOOK_MODULE}.pth").write_text(f"import {_HOOK_MODULE}\n")
    return {"site_packages": str(site), "half_way": half_way,
            "hold": str(hold) if hold else None}


def unhook_migrations(site: Path, hold: str | None = None) -> None:
    for suffix in (".pth", ".py"):
        (site / f"{_HOOK_MODULE}{suffix}").unlink(missing_ok=True)
    if hold:
        Path(hold).unlink(missing_ok=True)  # a migration waiting there goes on


def slow(t: Target, delay_text: str, nodes_nft: Any = None) -> dict[str, Any]:
    delay = parse_delay(delay_text)
    port = free_port(t.address)
    log_dir = t.lab_dir / "faults"
    log_dir.mkdir(parents=True, exist_ok=True)
    with open(log_dir / f"{t.name}-slow.log", "ab") as log:
        p = subprocess.Popen(
            [sys.executable, "-m", "octavia_upgrade.lab.delayproxy", t.address, str(port),
             t.address, str(t.port), str(delay), hex(delayproxy.MARK)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            cwd=log_dir)
    proc = Proc.of(f"slow-{t.name}", p.pid)
    if not wait_tcp(t.address, port, 10, proc):
        proc.stop(5)
        raise RuntimeError(f"slow: the delay relay for {t.name} did not start; "
                           f"see {log_dir}/{t.name}-slow.log")
    table = nat_table(t.lab_dir)
    try:
        _nft(f"add table ip {table}")
        _nft(f"add chain ip {table} output "
             "{ type nat hook output priority -100 ; policy accept ; }")
        _nft(f"add rule ip {table} output ip daddr {t.address} tcp dport {t.port} "
             f"meta mark != {hex(delayproxy.MARK)} dnat to {t.address}:{port} "
             f"comment \"slow-{t.name}\"")
    except BaseException:
        proc.stop(5)
        raise
    return {"delay": delay, "relay_port": port, "proc": proc.as_dict(), "table": table}


def disk_full(t: Target, path: str) -> dict[str, Any]:
    if not path.startswith("/") or path in ("/", "/proc", "/sys", "/dev"):
        raise InvalidInput(f"disk-full: {path!r} must be an absolute folder such as "
                           f"{DEFAULT_FULL_PATH}")
    host_view = t.fs / path.lstrip("/")
    usage = _du(host_view) if host_view.is_dir() else 0
    size_kb = usage // 1024 + 512
    if size_kb > 256 * 1024:
        raise InvalidInput(f"disk-full: {path} holds {usage // 2**20} MiB; "
                           "the lab fills folders up to 256 MiB")
    stage = t.lab_dir / "faults" / f"{t.name}-disk"
    stage.mkdir(parents=True, exist_ok=True)
    q, s = shlex.quote(path), shlex.quote(str(stage))
    script = (
        f"set -e; test -d {q}; "
        f"mount -t tmpfs -o size={size_kb}k,mode=0755 octavia-lab-disk-full {s}; "
        f"cp -a {q}/. {s}/; mount --move {s} {q}; "
        # Fill what is left; dd stops at ENOSPC, which is the point.
        f"dd if=/dev/zero of={q}/.lab-disk-full bs=4k 2>/dev/null || true; "
        f"dd if=/dev/zero of={q}/.lab-disk-full-tail bs=512 2>/dev/null || true")
    done = _nsenter(t, script)
    if done.returncode != 0:
        raise RuntimeError(f"disk-full on {t.name}:{path}: {done.stderr.strip()}")
    return {"path": path}


def _du(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def _nft(command: str) -> None:
    done = subprocess.run(["nft", command], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"nft {command}: {done.stderr.strip()}")


# -- clear ------------------------------------------------------------------------


def clear_one(t: Target | None, kind: str, record: dict[str, Any]) -> None:
    """Undo one recorded fault. ``t`` is None when the node is gone (down)."""
    if kind in ("stuck-service", "stuck-failover"):
        proc = Proc(record["unit"], int(record["pid"]), record.get("started"))
        if proc.alive():
            os.killpg(proc.pid, signal.SIGCONT)
            # A SIGTERM that arrived while frozen may be picked up by any thread
            # once thawed, and a Python service only acts on it in its main
            # thread (housekeeping's main thread sits in Thread.join(), which
            # only a signal to that thread interrupts): if the stop asked
            # meanwhile does not land, repeat it to the main thread itself.
            pending = None if t is None else (
                t.fs / "run/octavia" / f"{record['unit']}.stop-pending")
            if pending is not None and pending.exists():
                deadline = time.monotonic() + 2
                while proc.alive() and time.monotonic() < deadline:
                    time.sleep(0.05)
                if proc.alive():
                    _signal_main_thread(proc.pid, signal.SIGTERM)
    elif kind == "fail-migration":
        unhook_migrations(Path(record["site_packages"]), record.get("hold"))
    elif kind == "slow":
        table = record["table"]
        listing = subprocess.run(["nft", "-a", "list", "chain", "ip", table, "output"],
                                 capture_output=True, text=True, check=False)
        tag = f'"slow-{t.name}"' if t else None
        for line in listing.stdout.splitlines():
            if tag and tag in line and "# handle" in line:
                handle = line.rsplit("# handle", 1)[1].strip()
                subprocess.run(["nft", f"delete rule ip {table} output handle {handle}"],
                               capture_output=True, check=False)
        Proc.from_dict(record["proc"]).stop(5)
    elif kind == "disk-full":
        if t is not None:
            _nsenter(t, f"umount {shlex.quote(record['path'])}")


def _signal_main_thread(pid: int, sig: int) -> None:
    """``sig`` to the main thread of process ``pid`` (``tgkill``), not to any of its threads."""
    import ctypes

    tgkill = getattr(ctypes.CDLL(None, use_errno=True), "tgkill", None)  # glibc >= 2.30
    if tgkill is None or (tgkill(pid, pid, sig) != 0 and ctypes.get_errno() != errno.ESRCH):
        os.kill(pid, sig)  # the process as a whole, as before


def drop_nat_table(lab_dir: Path) -> None:
    subprocess.run(["nft", f"delete table ip {nat_table(lab_dir)}"],
                   capture_output=True, check=False)

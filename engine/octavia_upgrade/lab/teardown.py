"""``lab down``: stop every process the lab recorded, by PID, and remove what it created.

Everything is found from the lab's files alone (``lab.json``, ``nodes.json``
and the services' pid files), so a fresh process can take down a lab whose
``lab up`` crashed. Safe to run twice.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia_upgrade.lab.layout import CREATED_DIRS, CREATED_FILES, node_fs
from octavia_upgrade.lab.procs import Proc

if TYPE_CHECKING:
    from octavia_upgrade.lab.nodes import LabNodes


def recorded_procs(st: dict[str, Any]) -> list[Proc]:
    """The infrastructure processes ``lab.json`` records (amphora, relays, haproxy, DB, MQ)."""
    from octavia_upgrade.lab.haproxy import DataPath
    from octavia_upgrade.lab.rabbitmq import RabbitMQ

    procs: list[Proc] = []
    if st.get("amphora"):
        procs.append(Proc.from_dict(st["amphora"]))
    for node_faults in (st.get("faults") or {}).values():
        rec = node_faults.get("slow")
        if rec:
            procs.append(Proc.from_dict(rec["proc"]))
    if st.get("datapath"):
        procs.extend(DataPath.from_dict(st["datapath"]).procs)
    if st.get("rabbitmq"):
        procs.extend(RabbitMQ.from_dict(st["rabbitmq"]).procs())
    if st.get("mariadb") and st["mariadb"].get("proc"):
        procs.append(Proc.from_dict(st["mariadb"]["proc"]))
    for key in ("build_proc", "registry_proc"):
        if (st.get("kolla") or {}).get(key):
            procs.append(Proc.from_dict(st["kolla"][key]))
    return procs


def service_procs(lab_dir: Path, st: dict[str, Any]) -> list[Proc]:
    """The Octavia services of every node, from their pid files (``PID [START]``)."""
    out = []
    for name in st.get("nodes", []):
        for pidfile in (node_fs(lab_dir, name) / "run/octavia").glob("*.pid"):
            try:
                parts = pidfile.read_text().split()
                out.append(Proc(pidfile.stem, int(parts[0]),
                                int(parts[1]) if len(parts) > 1 else None))
            except (OSError, ValueError, IndexError):
                continue
    return out


def stop_everything(lab_dir: Path, st: dict[str, Any], nodes: LabNodes) -> None:
    """Stop faults, services, nodes and infrastructure, in that order."""
    from octavia_upgrade.lab import faults
    from octavia_upgrade.lab.dbservers import MariaDBServer
    from octavia_upgrade.lab.haproxy import DataPath
    from octavia_upgrade.lab.rabbitmq import RabbitMQ

    if st.get("amphora"):
        Proc.from_dict(st["amphora"]).stop(5)
    for node_faults in (st.get("faults") or {}).values():
        for kind, rec in node_faults.items():
            if kind in ("slow", "stuck-service"):
                faults.clear_one(None, kind, rec)
    faults.drop_nat_table(lab_dir)
    # Octavia services, as `systemctl stop` does: SIGTERM to each main process
    # (it stops its own children), SIGKILL to the unit's group after 15 s.
    svc = [p for p in service_procs(lab_dir, st) if p.alive()]
    for p in svc:
        _killpg(p.pid, 18)  # SIGCONT: a frozen (stuck) unit must see its SIGTERM
        p.signal(15)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(p.alive() for p in svc):
        time.sleep(0.1)
    for p in svc:
        _killpg(p.pid, 9)  # whatever is left of the unit, main process or not
    if st.get("kolla"):
        from octavia_upgrade.lab import kolla

        build = st["kolla"].get("build_proc")
        if build and Proc.from_dict(build).alive():  # alive: same PID and start time
            _killpg(build["pid"], 9)  # the image build: its session, podman included
        # Containers live in mount namespaces of their own: stopping the nodes
        # would leave them running.
        kolla.stop_containers(lab_dir, st, nodes)
    # The nodes: sshd and anything else still inside their namespaces.
    nodes.stop()
    if st.get("login"):
        from octavia_upgrade.lab import login

        login.remove(st["login"])
    if st.get("datapath"):
        DataPath.from_dict(st["datapath"]).stop()
    if st.get("rabbitmq"):
        RabbitMQ.from_dict(st["rabbitmq"]).stop()
    if st.get("mariadb"):
        MariaDBServer.from_dict(st["mariadb"]).stop()
    if (st.get("kolla") or {}).get("registry_proc"):
        Proc.from_dict(st["kolla"]["registry_proc"]).stop(5)


def tear_down(lab_dir: Path, st: dict[str, Any], nodes: LabNodes) -> list[str]:
    """Stop everything, then remove what the lab created; return what still runs.

    The lab's files are removed only when nothing is left running (they are
    what a later ``lab down`` needs to find it).
    """
    recorded = recorded_procs(st) + service_procs(lab_dir, st)
    node_procs = [Proc(f"sshd-{n.name}", n.pid, n.started) for n in nodes.running()]
    stop_everything(lab_dir, st, nodes)
    left = [f"{p.name} (PID {p.pid})" for p in [*recorded, *node_procs] if p.alive()]
    mounted = _mount_points_elsewhere()
    for path in reversed(st.get("created_paths", [])):
        p = Path(path)
        if path in mounted:
            continue  # another lab's node binds it: removing it would detach that mount
        try:
            if p.is_dir():
                p.rmdir()
            elif p.is_file() and p.stat().st_size == 0:
                p.unlink()
        except OSError:
            pass  # not empty: something else uses it now; leave it
    if not left:
        for child in CREATED_DIRS:
            shutil.rmtree(lab_dir / child, onerror=_force_remove)
        for f in CREATED_FILES:
            (lab_dir / f).unlink(missing_ok=True)
        try:
            lab_dir.rmdir()
        except OSError:
            pass
    return left


def _mount_points_elsewhere() -> set[str]:
    """Paths that are mount points in another process's mount namespace.

    Since Linux 3.18, removing a directory detaches the mounts on it in every
    other namespace: a lab going down must not pull ``/opt/octavia`` out from
    under the nodes of another lab running beside it.
    """
    own = os.readlink("/proc/self/ns/mnt")
    found: set[str] = set()
    seen = {own}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            ns = os.readlink(f"/proc/{entry.name}/ns/mnt")
            if ns in seen:
                continue
            seen.add(ns)
            with open(f"/proc/{entry.name}/mountinfo", encoding="utf-8") as f:
                found.update(line.split()[4] for line in f if len(line.split()) > 4)
        except OSError:
            continue
    return found


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _force_remove(func: Any, path: str, _exc: Any) -> None:
    try:
        os.chmod(path, stat.S_IWRITE | stat.S_IREAD | stat.S_IEXEC)
        func(path)
    except OSError:
        pass

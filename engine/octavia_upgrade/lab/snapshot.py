"""``lab snapshot`` and ``lab reset``: put a lab back where it was in seconds, not minutes.

Rehearsing the same upgrade again (or a crash trial after another, see
benchmarks/lab-crash-trials) needs the lab as it was before the run, and
rebuilding it takes minutes. A snapshot holds what an upgrade changes:

* on every node, its own folders except the logs and ``/run`` (``/etc/octavia``,
  ``/opt/octavia``, ``/var/lib/octavia`` and the style's extra folders such as
  ``/openstack``), copied with ``rsync`` into ``DIR/snapshot/nodes/NODE``;
* every database of the lab's MariaDB, dumped with ``mysqldump
  --add-drop-database`` into ``DIR/snapshot/databases.sql``.

``reset`` stops the five services on every node, copies the folders back in
place (``rsync --delete``: they are bind-mounted in the nodes' namespaces, so
they are filled again, never replaced), loads the dump, starts the services
and waits until every API answers. Load balancers and amphorae are rows of
that database, so they are back as they were; the amphora heartbeats never
stopped. What a reset keeps: the logs, the backups the runbook wrote, and the
engine's state directory (runs stay recorded).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia_upgrade.errors import LabError, Refused

if TYPE_CHECKING:
    from octavia_upgrade.lab.core import Lab

SNAPSHOT_DIR = "snapshot"
#: Node folders a snapshot leaves out: they change while the services run.
KEPT_AS_THEY_ARE = ("/var/log/octavia", "/run/octavia")
SYSTEM_DATABASES = {"information_schema", "mysql", "performance_schema", "sys"}


def _up(lab: Lab) -> dict[str, Any]:
    st = lab.state()
    if st.get("status") == "starting" and lab.is_up():
        raise Refused(f"the lab in {lab.dir} is still coming up: wait for `lab up` to finish")
    if not st or st.get("status") != "up" or not lab.is_up():
        raise Refused(f"no lab is up in {lab.dir}: `octavia-upgrade lab up --dir {lab.dir}` "
                      "first")
    if st.get("bare") or not st.get("mariadb"):
        raise Refused("a --bare lab has no Octavia to put back: snapshot and reset need a "
                      "full lab")
    if st.get("flavor") == "kolla":
        raise Refused("a kolla lab's containers live in each node's podman, which snapshot "
                      "and reset do not put back: bring a new lab up instead (lab down, "
                      "lab up --flavor kolla)")
    return st


def _folders(st: dict[str, Any]) -> list[str]:
    from octavia_upgrade.lab.bringup import node_paths

    return [p for p in node_paths(st) if p not in KEPT_AS_THEY_ARE]


def _rsync(source: Path, dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["rsync", "-a", "--delete", f"{source}/", f"{dest}/"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabError(f"rsync {source} → {dest} failed ({done.returncode}): "
                       f"{done.stderr.strip()[-500:]}")


def mysql(st: dict[str, Any], program: str, *args: str, stdin: Any = None,
          stdout: Any = subprocess.PIPE) -> str:
    """Run ``program`` (mariadb, mysqldump) as root on the lab's MariaDB socket;
    its standard output, or :class:`LabError` when it fails."""
    from octavia_upgrade.lab.dbservers import MariaDBServer

    db = MariaDBServer.from_dict(st["mariadb"])
    done = subprocess.run([program, f"--socket={db.socket}", "--user=root", *args],
                          stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, text=True,
                          check=False)
    if done.returncode != 0:
        raise LabError(f"{program} on the lab's MariaDB failed ({done.returncode}): "
                       f"{done.stderr.strip()[-500:]}")
    return done.stdout or ""


def take(lab: Lab) -> str:
    """Snapshot the lab (replacing an earlier snapshot); return what was kept."""
    st = _up(lab)
    t0 = time.monotonic()
    snap = lab.dir / SNAPSHOT_DIR
    tmp = lab.dir / f"{SNAPSHOT_DIR}.new"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True, mode=0o700)
    folders = _folders(st)
    for node in st["nodes"]:
        fs = lab.node_fs(node)
        for folder in folders:
            _rsync(fs / folder.lstrip("/"), tmp / "nodes" / node / folder.lstrip("/"))
    names = [n for n in mysql(st, "mariadb", "-N", "-e", "SHOW DATABASES").split()
             if n not in SYSTEM_DATABASES]
    # The dump holds the deployment's data: readable by its owner only, as the backups are.
    fd = os.open(tmp / "databases.sql", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        mysql(st, "mysqldump", "--add-drop-database", "--single-transaction", "--routines",
              "--triggers", "--databases", *names, stdout=out)
    (tmp / "snapshot.json").write_text(json.dumps(
        {"taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
         "release": st.get("release"), "nodes": st["nodes"], "folders": folders,
         "databases": names}, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(snap, ignore_errors=True)
    tmp.rename(snap)
    return (f"snapshot of {len(st['nodes'])} node(s) ({', '.join(folders)}) and database(s) "
            f"{', '.join(names)} in {snap} ({time.monotonic() - t0:.1f}s)")


def reset(lab: Lab) -> str:
    """Put the lab back as the snapshot has it; return what was done."""
    from octavia_upgrade.lab.api import OctaviaApi
    from octavia_upgrade.lab.services import start_units, wait_apis
    from octavia_upgrade.lab.units import UNITS

    st = _up(lab)
    snap = lab.dir / SNAPSHOT_DIR
    try:
        meta = json.loads((snap / "snapshot.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise Refused(f"no snapshot in {snap}: take one with `octavia-upgrade lab snapshot "
                      f"--dir {lab.dir}`") from None
    if meta.get("nodes") != st["nodes"]:
        raise Refused(f"the snapshot in {snap} is of nodes {meta.get('nodes')}, this lab has "
                      f"{st['nodes']}: take a new one")
    t0 = time.monotonic()
    shells = {node: lab.shell(node) for node in st["nodes"]}
    for node, shell in shells.items():
        shell.check("systemctl stop " + " ".join(UNITS), timeout=180,
                    what=f"{node}: systemctl stop")
    for node in st["nodes"]:
        fs = lab.node_fs(node)
        for folder in meta["folders"]:
            _rsync(snap / "nodes" / node / folder.lstrip("/"), fs / folder.lstrip("/"))
    with open(snap / "databases.sql", encoding="utf-8") as dump:
        mysql(st, "mariadb", stdin=dump)
    for shell in shells.values():
        start_units(shell)
    wait_apis([OctaviaApi(url) for url in st.get("apis", [])], log=lambda _m: None)
    return (f"lab reset to the snapshot of {meta['taken_at']} ({meta.get('release')}): "
            f"{len(st['nodes'])} node(s), database(s) {', '.join(meta['databases'])}; "
            f"services started, every API answers ({time.monotonic() - t0:.1f}s)")

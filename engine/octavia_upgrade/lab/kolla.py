"""The kolla style of the lab: Octavia in containers, as kolla-ansible runs them.

Each node is a kolla host: podman with its own storage and configuration (the
node's folders over ``/var/lib/containers``, ``/run/containers``,
``/run/libpod`` and ``/etc/containers`` inside its mount namespace, so a plain
``podman`` in an SSH session is that node's), kolla-ansible's configuration in
``/etc/kolla/octavia-<service>/`` (``config.json`` and ``octavia.conf``), and
the containers ``octavia_api``, ``octavia_worker``, ``octavia_health_manager``
and ``octavia_housekeeping`` created with kolla-ansible's options from the
images of :mod:`.kollabuild`'s registry. ``octavia_driver_agent`` is not
deployed: kolla-ansible enables it with OVN only, and the lab's network is
not OVN. The schema is created as kolla-ansible's bootstrap container does
(``KOLLA_BOOTSTRAP`` in a throw-away container of the API image).

The flavor's backup runs ``podman exec mariadb mysqldump``: every node has a
``mariadb`` container holding the MySQL clients and the backup's options file.
It is not the database server: the lab's MariaDB on loopback is, as in every
style.

Containers are recreated by the lab's ``kolla_recreate_command``
(``/etc/kolla/octavia-upgrade-lab/recreate``): what ``kolla-ansible upgrade
-t octavia`` does to a host's Octavia containers, for the ``container=image``
words the engine passes in ``OCTAVIA_UPGRADE_IMAGES``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia_upgrade import kolla
from octavia_upgrade.lab import kollabuild
from octavia_upgrade.lab import octaviaconf as oc

if TYPE_CHECKING:
    from octavia_upgrade.lab.nodes import LabNodes, RunningNode
    from octavia_upgrade.lab.shell import NodeShell

NAMESPACE = "openstack.kolla"
DISTRO = "debian"
#: The services the lab deploys (kolla-ansible's defaults without OVN).
SERVICES = ("api", "worker", "health-manager", "housekeeping")
#: Unit name (the other styles' and ``lab status``'s) → container.
CONTAINERS = {f"octavia-{s}": kolla.container(s) for s in SERVICES}
KOLLA_DIR = "/etc/kolla"
LAB_FILES = f"{KOLLA_DIR}/octavia-upgrade-lab"
RECREATE = f"{LAB_FILES}/recreate"
#: The options file of the flavor's backup, inside the ``mariadb`` container.
BACKUP_CNF = "/etc/mysql/octavia-upgrade-backup.cnf"
NODE_PATHS = (KOLLA_DIR, *kollabuild.PODMAN_PATHS)
LOG_DIR = "/var/log/kolla/octavia"
_CONF_IN_CONTAINER = "/etc/octavia/octavia.conf"


def inventory_vars(registry: str) -> dict[str, Any]:
    """The kolla flavor's settings for the lab (as a ``globals.yml`` would set them)."""
    return {"kolla_container_engine": "podman", "docker_registry": registry,
            "docker_namespace": NAMESPACE, "kolla_base_distro": DISTRO,
            "kolla_recreate_command": RECREATE, "db_defaults_file": BACKUP_CNF}


def images(registry: str, series: str, version_id: str | None) -> dict[str, str]:
    """Service → image of the release, named as the kolla flavor names it."""
    s = kolla.Settings.from_vars(inventory_vars(registry))
    release = {"series": series, "version_id": version_id}
    return {svc: s.image(svc, release) for svc in kolla.IMAGE_NAMES}


def config_json(service: str) -> str:
    """``/etc/kolla/octavia-<service>/config.json`` as kolla-ansible writes it (the API
    runs its console script: the lab has no Apache)."""
    files = [{"source": "/var/lib/kolla/config_files/octavia.conf",
              "dest": _CONF_IN_CONTAINER, "owner": "octavia", "perm": "0600"}]
    for name in ("ca.pem", "ca.key"):
        files.append({"source": f"/var/lib/kolla/config_files/{name}",
                      "dest": f"{oc.CERT_DIR}/{name}", "owner": "octavia", "perm": "0600"})
    return json.dumps({"command": f"octavia-{service} --config-file {_CONF_IN_CONTAINER}",
                       "config_files": files,
                       "permissions": [{"path": LOG_DIR, "owner": "octavia:octavia",
                                        "recurse": True},
                                       {"path": oc.LIB_DIR, "owner": "octavia:octavia",
                                        "recurse": True}]}, indent=4) + "\n"


def octavia_conf(text: str) -> str:
    """The node's ``octavia.conf`` with kolla's log folder."""
    return text.replace(f"log_dir = {oc.LOG_DIR}\n", f"log_dir = {LOG_DIR}\n")


def write_node_files(fs: Path, conf_text: str, certs: Path, backup_cnf: str,
                     registry: str) -> None:
    """Everything a kolla host has before its containers start (``fs``: the node's
    folders as the host sees them)."""
    kollabuild.write_podman_config(fs / "etc/containers", registry)
    for service in SERVICES:
        d = fs / KOLLA_DIR.lstrip("/") / f"octavia-{service}"
        d.mkdir(parents=True, exist_ok=True)
        (d / "config.json").write_text(config_json(service), encoding="utf-8")
        _private(d / "octavia.conf", octavia_conf(conf_text))
        for name in ("ca.pem", "ca.key"):
            shutil.copyfile(certs / name, d / name)
            (d / name).chmod(0o600)
    lab = fs / LAB_FILES.lstrip("/")
    lab.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(kollabuild.IMAGE_FILES / "recreate", lab / "recreate")
    (lab / "recreate").chmod(0o755)
    mariadb = fs / KOLLA_DIR.lstrip("/") / "mariadb"
    mariadb.mkdir(parents=True, exist_ok=True)
    _private(mariadb / Path(BACKUP_CNF).name, backup_cnf)


def _private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def pull_command(refs: Sequence[str]) -> str:
    return " && ".join(f"podman pull -q {shlex.quote(r)} >/dev/null" for r in refs)


def mariadb_command(base_image: str) -> str:
    """Start the node's ``mariadb`` container (clients and the backup's options file)."""
    cnf = f"{KOLLA_DIR}/mariadb/{Path(BACKUP_CNF).name}"
    return (f"podman run -d --name mariadb --network host --user root --entrypoint dumb-init "
            f"-v {cnf}:{BACKUP_CNF}:ro {shlex.quote(base_image)} sleep infinity >/dev/null")


def bootstrap_command(api_image: str) -> str:
    """The schema, as kolla-ansible's ``bootstrap_octavia`` container creates it."""
    return (f"podman run --rm --name bootstrap_octavia --network host "
            f"-e KOLLA_CONFIG_STRATEGY=COPY_ALWAYS -e KOLLA_BOOTSTRAP= "
            f"-v {KOLLA_DIR}/octavia-api/:/var/lib/kolla/config_files/:ro "
            f"-v kolla_logs:/var/log/kolla/ {shlex.quote(api_image)}")


def create_command(imgs: Mapping[str, str]) -> str:
    """Create the node's Octavia containers with the lab's recreate command, then
    start them, the API first."""
    pairs = " ".join(f"{kolla.container(s)}={imgs[s]}" for s in SERVICES)
    starts = " && ".join(f"podman start {kolla.container(s)} >/dev/null" for s in SERVICES)
    return f"OCTAVIA_UPGRADE_IMAGES={shlex.quote(pairs)} {RECREATE} >/dev/null && {starts}"


def version_command(container: str = "octavia_api") -> str:
    """Prints ``octavia VERSION`` of the image ``container`` was created from."""
    py = "import importlib.metadata as m; print(\"octavia\", m.version(\"octavia\"))"
    return (f"i=$(podman inspect -f '{{{{.Config.Image}}}}' {container} 2>/dev/null) && "
            f"podman run --rm --network none --entrypoint python3 \"$i\" -c '{py}' 2>/dev/null "
            "|| echo 'octavia -'")


def node_software(shell: NodeShell) -> tuple[dict[str, str], str | None]:
    """Each container's state (``active`` while it runs, else podman's status or
    ``absent``) and the Octavia version of the API container's image."""
    lines = [f"s=$(podman inspect -f '{{{{.State.Status}}}}' {c} 2>/dev/null) || s=absent; "
             f"[ \"$s\" = running ] && s=active; echo {unit} $s"
             for unit, c in CONTAINERS.items()]
    from octavia_upgrade.lab.services import read_software

    return read_software(shell, "; ".join([*lines, version_command()]), tuple(CONTAINERS),
                         timeout=60)


def deploy(shells: Mapping[str, NodeShell], registry: str, imgs: Mapping[str, str],
           log: Callable[[str], None]) -> str:
    """Pull, bootstrap the schema (first node), create and start every node's
    containers; return the Octavia version of the deployed image."""
    base = f"{registry}/{kollabuild.BASE_REPO}:{kollabuild.BASE_TAG}"
    names = list(shells)
    pull = pull_command([base, *(imgs[s] for s in SERVICES)])

    def prepare(n: str) -> None:
        shells[n].check(pull, timeout=600, what="podman pull")
        shells[n].check(mariadb_command(base), timeout=120, what="podman run mariadb")

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        list(pool.map(prepare, names))
    log(f"images pulled on {', '.join(names)}; a mariadb container on each")
    shells[names[0]].check(bootstrap_command(imgs["api"]), timeout=600,
                           what="bootstrap_octavia (octavia-db-manage upgrade head)")
    log(f"{names[0]}: bootstrap_octavia created the schema")
    for n in names:
        shells[n].check(create_command(imgs), timeout=300, what="create the containers")
        log(f"{n}: started {', '.join(CONTAINERS.values())}")
    out = shells[names[0]].check(version_command(), timeout=120)
    return out.split()[-1]


def stop_containers(lab_dir: Path, st: Mapping[str, Any], nodes: LabNodes) -> None:
    """Stop every container of every node (before the nodes themselves: a container
    lives in a mount namespace of its own, which stopping a node leaves alone).

    ``podman rm -a -f`` inside each node that still runs; then, by PID, whatever
    a container's pid file or conmon's still names (a node that crashed).
    """
    from octavia_upgrade.lab.layout import node_fs

    running = {n.name: n for n in nodes.running() if n.alive()}

    def remove_all(node: RunningNode) -> None:
        # -t 0: the lab is going away, nothing is left to finish.
        subprocess.run(["nsenter", f"--mount=/proc/{node.pid}/ns/mnt", "--",
                        "podman", "rm", "-a", "-f", "-t", "0"],
                       capture_output=True, timeout=120, check=False, env=_clean_env())

    if running:
        with ThreadPoolExecutor(max_workers=len(running)) as pool:
            list(pool.map(remove_all, running.values()))
    for name in st.get("nodes", []):
        storage = node_fs(lab_dir, name) / "run/containers/storage"
        for pidfile in [*storage.glob("overlay-containers/*/userdata/pidfile"),
                        *storage.glob("overlay-containers/*/userdata/conmon.pid")]:
            _kill_if(pidfile, ("conmon", "dumb-init"))


def _kill_if(pidfile: Path, names: Sequence[str]) -> None:
    try:
        pid = int(pidfile.read_text().split()[0])
        with open(f"/proc/{pid}/comm", encoding="utf-8") as f:
            comm = f.read().strip()
    except (OSError, ValueError, IndexError):
        return
    if comm in names:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _clean_env() -> dict[str, str]:
    """The caller's environment without podman's overrides (a node's own files rule)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CONTAINERS_")}

"""``lab up``: bring a lab up, bare (sshd nodes only) or full (Octavia on every node).

A full lab: MariaDB and RabbitMQ (started in the background), the CA and each
node's private folders, the nodes, Octavia installed offline from the
wheelhouse and copied to every node, the services, the haproxy VIP, a load
balancer with its amphora heartbeats, and finally ``inventory.yaml``. Every
step records what it started in ``lab.json`` at once, so a failure at any
point leaves a lab that ``lab down`` can stop.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia_upgrade.errors import LabError
from octavia_upgrade.lab import audit
from octavia_upgrade.lab import octaviaconf as oc
from octavia_upgrade.lab import styles
from octavia_upgrade.lab.layout import NODE_PATHS, write_inventory, write_private
from octavia_upgrade.lab.nodes import NodeSpec, RunningNode, default_specs
from octavia_upgrade.lab.procs import Proc

if TYPE_CHECKING:
    from octavia_upgrade.lab import rabbitmq, wheelhouse
    from octavia_upgrade.lab.shell import NodeShell
    from octavia_upgrade.lab.core import Lab
    from octavia_upgrade.lab.dbservers import MariaDBServer

LB_NAME = "lab-lb1"

#: The workers' RabbitMQ queue (``octavia.common.constants.TOPIC_AMPHORA_V2``).
WORKER_QUEUE = "octavia_provisioning_v2"


def node_paths(st: dict[str, Any]) -> tuple[str, ...]:
    """The folders each node of this lab owns: the common ones and its style's."""
    return (*NODE_PATHS, *styles.style(st.get("flavor")).extra_paths)


def node_specs(lab: Lab, st: dict[str, Any], binds: bool) -> list[NodeSpec]:
    """The lab's nodes; with ``binds``, each with its private folders and ``systemctl``."""
    specs = default_specs(len(st["nodes"]), net=st["net"])
    force = audit.install(lab.dir, st["nodes"]) if st.get("audit_commands") else None
    out = []
    for spec in specs:
        b: dict[str, str] = {}
        if binds:
            fs = lab.node_fs(spec.name)
            b = {p: str(fs / p.lstrip("/")) for p in node_paths(st)}
            b["/usr/bin/systemctl"] = str(lab.dir / "bin" / "systemctl")
            if st.get("login"):
                from octavia_upgrade.lab.login import SUDOERS_DIR

                b["/etc/sudoers.d"] = str(lab.dir / SUDOERS_DIR)
        out.append(NodeSpec(spec.name, spec.address, spec.port, b, spec.env, force))
    return out


def _record_created_paths(lab: Lab, st: dict[str, Any], paths: list[str]) -> None:
    # nodes.py creates missing bind targets on the host as empty mount
    # points; remember which ones, so `down` removes them again.
    st["created_paths"] = sorted({*st["created_paths"],
                                  *(p for p in paths if not os.path.exists(p))})
    lab.save(st)


def start_nodes(lab: Lab, st: dict[str, Any], binds: bool) -> list[RunningNode]:
    """Start the lab's sshd nodes (recording bind targets created on the host first)."""
    specs = node_specs(lab, st, binds)
    if binds:
        _record_created_paths(lab, st, [t for s in specs for t in s.binds])
    lab.progress(f"starting {len(specs)} sshd node(s) on {st['net']}.x")
    running = lab.nodes_api().start(specs)
    return running


def up_bare(lab: Lab, st: dict[str, Any]) -> None:
    """A bare lab: the sshd nodes and their inventory, nothing else."""
    start_nodes(lab, st, binds=False)
    write_inventory(lab.dir, lab.nodes_api(), st, vars={}, secrets={}, probes=[])


def up_full(lab: Lab, st: dict[str, Any], series: str, prepare_next: bool,
            loadbalancers: int = 1, login_password: str = "") -> None:
    """A full lab at release ``series`` (see the module's docstring)."""
    from octavia_upgrade.catalog import load_catalog
    from octavia_upgrade.lab import amphora, haproxy, rabbitmq, services, wheelhouse
    from octavia_upgrade.lab import loadbalancers as lbs
    from octavia_upgrade.lab.api import OctaviaApi
    from octavia_upgrade.lab.dbservers import MariaDBServer

    names = st["nodes"]
    wheelhouses = [wheelhouse.ensure(series, log=lab.progress)]
    cat = load_catalog()
    lab_style = styles.style(st.get("flavor"))
    venv = lab_style.venv(cat.get(series).version_id or series)
    nxt = cat.releases[cat.index(series) + 1] if cat.index(series) + 1 < len(
        cat.releases) else None
    if prepare_next and nxt is not None and \
            nxt.octavia_major in wheelhouse.SUPPORTED_MAJORS:
        # The point of the lab is rehearsing the upgrade to the next release:
        # its packages must install offline too.
        wheelhouses.append(wheelhouse.ensure(nxt.series, log=lab.progress))
    st["wheelhouses"] = {w.series: str(w.path) for w in wheelhouses}
    lab.save(st)
    pip_args = "--no-index " + " ".join(f"--find-links {w.path}" for w in wheelhouses)
    pip_args += f" --constraint {wheelhouses[-1].constraints_file}"
    install_args = (f"--no-index --find-links {wheelhouses[0].path} "
                    f"--constraint {wheelhouses[0].constraints_file}")

    pool = ThreadPoolExecutor(max_workers=2)
    db: MariaDBServer | None = None
    db_future: Future[str] | None = None
    mq_future: Future[rabbitmq.RabbitMQ] | None = None
    kolla_images: dict[str, str] = {}
    try:
        db = MariaDBServer(lab.dir / "mariadb")
        db_future = pool.submit(db.start)
        mq_future = pool.submit(rabbitmq.start, lab.dir / "rabbitmq")
        if lab_style.name == "kolla":
            kolla_images = _kolla_images(lab, st, series, wheelhouses)

        # Files every node needs, then the nodes themselves.
        heartbeat_key, db_password = oc.new_secret(), db.password
        ca_pem, ca_key = oc.make_ca(lab.dir / "certs")
        stand_in = lab.dir / "bin" / "systemctl"
        stand_in.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(__file__).with_name("systemctl.py"), stand_in)
        stand_in.chmod(0o755)
        for n in names:
            fs = lab.node_fs(n)
            for p in node_paths(st):
                (fs / p.lstrip("/")).mkdir(parents=True, exist_ok=True)
            certs = fs / "etc/octavia/certs"
            certs.mkdir(exist_ok=True)
            shutil.copyfile(ca_pem, certs / "ca.pem")
            shutil.copyfile(ca_key, certs / "ca.key")
            (certs / "ca.key").chmod(0o600)
        if st.get("login"):
            from octavia_upgrade.lab import login

            st["login"] = login.create(lab.dir, st["login"], login_password)
            lab.save(st)
            lab.progress(f"login user {st['login']['user']} created, sudo with a password "
                         f"(from {login.PASSWORD_ENV}) on every node")
        running = start_nodes(lab, st, binds=True)
        if st.get("login"):
            from octavia_upgrade.lab import sshd

            login.authorize(st["login"], sshd.public_key(lab.nodes_api().client_key))
        by_name = {r.name: r for r in running}
        nodes_api = lab.nodes_api()
        shells = {n: lab.node_shell(nodes_api, by_name[n]) for n in names}

        try:
            db_future.result()
        finally:
            st["mariadb"] = db.as_dict()
            lab.save(st)
        lab.progress(f"MariaDB up on 127.0.0.1:{db.port}")
        try:
            mq = mq_future.result()
        except BaseException:
            raise
        st["rabbitmq"] = mq.as_dict()
        lab.save(st)
        lab.progress(f"RabbitMQ up on 127.0.0.1:{mq.port}")

        shared = oc.Shared(
            transport_url=mq.transport_url, db_url=db.url(), heartbeat_key=heartbeat_key,
            health_managers=tuple(f"{by_name[n].address}:{oc.HEALTH_MANAGER_PORT}"
                                  for n in names))
        for n in names:
            fs = lab.node_fs(n)
            write_private(fs / "etc/octavia/octavia.conf",
                           oc.render(shared, oc.NodeConf(n, by_name[n].address)), 0o640)
            write_private(fs / "etc/octavia/backup.cnf",
                           oc.db_defaults_file(db.user, db_password, db.port))

        first = names[0]
        if lab_style.name == "kolla":
            version = _kolla_deploy(lab, st, shells, shared, db_password, kolla_images)
            venv = str(lab.dir / "kolla" / "tools-venv")  # the amphora's Python
        else:
            version = _venv_deploy(lab, st, shells, venv, wheelhouses[0], install_args)
        st["octavia_version"] = version
        lab.save(st)

        apis = [OctaviaApi(f"http://{by_name[n].address}:{oc.API_PORT}") for n in names]
        if lab_style.name != "kolla":
            for i, n in enumerate(names):
                services.start_units(shells[n])
                lab.progress(f"{n}: started {', '.join(services.UNITS)}")
                if i + 1 < len(names):
                    time.sleep(2.0)  # stagger: five Python services per node on 2 cores
        st["apis"] = [a.base_url for a in apis]
        lab.save(st)

        vip = f"{st['net']}.200"
        specs = lbs.specs(st["net"], loadbalancers, vip)
        dp = haproxy.start(lab.dir / "haproxy", vip, [f"{st['net']}.201", f"{st['net']}.202"],
                           tcp_vips=tuple(x.vip for x in specs[1:] if x.served))
        st["datapath"] = dp.as_dict()
        lab.save(st)
        lab.progress(f"haproxy VIP {dp.url} serves members "
                       f"{', '.join(f'{a}:{p}' for a, p in dp.members)}")

        services.wait_apis(apis, timeout=300, log=lab.progress)
        # The API casts "create" to the workers' queue; a message sent before
        # any worker consumes it is dropped by RabbitMQ, and the LB would
        # stay PENDING_CREATE forever. Wait for every worker first.
        if not mq.wait_consumers(WORKER_QUEUE, len(names)):
            raise LabError(f"the Octavia workers did not start consuming "
                           f"{WORKER_QUEUE!r} within 180s; see "
                           f"{lab.dir}/nodes/*/fs/var/log/octavia/octavia-worker.log")
        lab.progress(f"{len(names)} worker(s) consume {WORKER_QUEUE!r}")
        lab.progress(f"creating {LB_NAME} (listener, pool, 2 members, health monitor)")
        lb = apis[0].create_full_lb(LB_NAME, vip, list(dp.members), port=dp.port)
        st["lb"] = {"id": lb["id"], "name": LB_NAME}
        st["loadbalancers"] = [{"id": lb["id"], "name": LB_NAME, "protocol": "HTTP",
                                "topology": "SINGLE", "vip": vip, "served": True}]
        lab.save(st)
        for spec in specs[1:]:
            lab.progress(f"creating {spec.name} ({spec.protocol} listener, {spec.topology}, "
                         f"VIP {spec.vip}{'' if spec.served else ', not served by haproxy'})")
            made = lbs.create(apis[0], spec, list(dp.members), dp.port)
            st["loadbalancers"].append({"id": made["id"], "name": spec.name,
                                        "protocol": spec.protocol, "topology": spec.topology,
                                        "vip": spec.vip, "served": spec.served})
            lab.save(st)
        amp = amphora.launch(str(lab.dir), by_name[first].pid, f"{venv}/bin/python",
                             [a.base_url for a in apis], list(shared.health_managers),
                             heartbeat_key)
        st["amphora"] = amp.as_dict()
        lab.save(st)
        lb = apis[0].wait_lb(lb["id"], "ACTIVE", "ONLINE", timeout=120)
        amps = [a for a in apis[0].amphorae() if a.get("loadbalancer_id") == lb["id"]]
        st["lb"]["amphora_ids"] = [a["id"] for a in amps]
        for entry in st["loadbalancers"]:
            apis[0].wait_lb(entry["id"], "ACTIVE", "ONLINE", timeout=120)
            entry["amphora_ids"] = [a["id"] for a in apis[0].amphorae()
                                    if a.get("loadbalancer_id") == entry["id"]]
        lab.save(st)
        lab.progress(f"{LB_NAME} {lb['id']} is ACTIVE/ONLINE "
                       f"(amphora {', '.join(a['id'] for a in amps)})")

        if lab_style.name == "kolla":
            from octavia_upgrade.lab import kolla

            style_vars = kolla.inventory_vars(st["kolla"]["registry"])
        else:
            style_vars = {"pip_args": pip_args, "db_defaults_file": "/etc/octavia/backup.cnf"}
        write_inventory(
            lab.dir, nodes_api, st, flavor=lab_style.flavor,
            vars={**style_vars,
                  # The API without keystone (noauth), for amphora_failover steps.
                  "octavia_api_endpoint": apis[0].base_url,
                  "octavia_api_project_id": apis[0].project},
            secrets={"db_password": db_password, "heartbeat_key": heartbeat_key},
            probes=[{"name": "lab-vip", "url": dp.url, "interval": "200ms", "timeout": "1s"},
                    *({"name": f"lab-vip-{x.name.removeprefix('lab-')}",
                       "url": f"http://{x.vip}:{dp.port}/", "interval": "200ms",
                       "timeout": "1s"}
                      for x in specs[1:] if x.served)])
    finally:
        pool.shutdown(wait=True)
        _record_started(lab, st, db, db_future, mq_future)


def _record_started(lab: Lab, st: dict[str, Any], db: MariaDBServer | None,
                    db_future: Future[str] | None,
                    mq_future: Future[rabbitmq.RabbitMQ] | None) -> None:
    """Record the servers that came up and are not recorded yet: when a later part of
    ``lab up`` failed first (the other server, a node), the clean-up stops them by
    what ``lab.json`` names."""
    found = {}
    if db is not None and db_future is not None and "mariadb" not in st \
            and db_future.exception() is None:
        found["mariadb"] = db.as_dict()
    if mq_future is not None and "rabbitmq" not in st and mq_future.exception() is None:
        found["rabbitmq"] = mq_future.result().as_dict()
    if found:
        st.update(found)
        lab.save(st)


def _venv_deploy(lab: Lab, st: dict[str, Any], shells: dict[str, NodeShell], venv: str,
                 wh: wheelhouse.Wheelhouse, install_args: str) -> str:
    """Octavia in a venv on every node (the venv and osa styles), the schema at head;
    return the installed version."""
    from octavia_upgrade.lab import services

    names = st["nodes"]
    first = names[0]
    lab_style = styles.style(st.get("flavor"))
    lab.progress(f"{first}: python3 -m venv {venv}; pip install "
                 f"{' '.join(wh.requirements)} (offline)")
    version = services.install_venv(shells[first], install_args, wh.requirements, venv=venv)
    lab.progress(f"{first}: Octavia {version} installed")
    for n in names[1:]:
        services.clone_venv(lab.node_fs(first) / venv.lstrip("/"),
                            lab.node_fs(n) / venv.lstrip("/"))
    if len(names) > 1:
        lab.progress(f"venv copied to {', '.join(names[1:])} (same path in every node)")
    files = lab_style.node_files(venv)
    for n in names:
        styles.write_node_files(lab.node_fs(n), files)
    if files:
        lab.progress(f"{lab_style.name}: wrote {', '.join(sorted(files))} on every node")
    current = services.db_upgrade(shells[first], venv=venv)
    lab.progress(f"{first}: octavia-db-manage upgrade head → {current}")
    return version


def _kolla_images(lab: Lab, st: dict[str, Any], series: str,
                  whs: list[wheelhouse.Wheelhouse]) -> dict[str, str]:
    """Start the registry, build and push every wheelhouse's release image; return
    the deployed release's image of each service."""
    from octavia_upgrade.catalog import load_catalog
    from octavia_upgrade.lab import kolla, kollabuild, nodeprocs

    _record_created_paths(lab, st, list(kollabuild.PODMAN_PATHS))
    for target in kollabuild.PODMAN_PATHS:
        nodeprocs.ensure_mount_point(target, is_dir=True)
    proc, registry = kollabuild.start_registry(lab.dir / "kolla" / "registry")
    st["kolla"] = {"registry": registry, "registry_proc": proc.as_dict()}
    lab.save(st)
    lab.progress(f"image registry on {registry}")
    cat = load_catalog()
    builds = []
    for wh in whs:
        rel = cat.get(wh.series)
        names = tuple(dict.fromkeys(kolla.images(registry, rel.series,
                                                 rel.version_id).values()))
        builds.append(kollabuild.ReleaseImage(wh.series, wh.path, wh.requirements, names))
    lab.progress(f"building the kolla images of {', '.join(b.series for b in builds)} "
                 "from the wheelhouses")

    def record(p: Proc | None) -> None:
        if p is None:
            st["kolla"].pop("build_proc", None)
        else:
            st["kolla"]["build_proc"] = p.as_dict()
        lab.save(st)

    kollabuild.build(lab.dir / "kolla" / "build", registry, builds,
                     venv_copy=lab.dir / "kolla" / "tools-venv", record=record,
                     log=lab.progress)
    rel = cat.get(series)
    return kolla.images(registry, rel.series, rel.version_id)


def _kolla_deploy(lab: Lab, st: dict[str, Any], shells: dict[str, NodeShell],
                  shared: oc.Shared, db_password: str, imgs: dict[str, str]) -> str:
    """kolla-ansible's layout on every node, its containers started; return the version."""
    from octavia_upgrade.lab import kolla

    registry = st["kolla"]["registry"]
    db = st["mariadb"]
    backup = oc.db_defaults_file(db["user"], db_password, db["port"])
    for n in st["nodes"]:
        fs = lab.node_fs(n)
        conf = (fs / "etc/octavia/octavia.conf").read_text(encoding="utf-8")
        kolla.write_node_files(fs, conf, fs / "etc/octavia/certs", backup, registry)
    lab.progress(f"/etc/kolla/octavia-*/ (config.json, octavia.conf) on {', '.join(shells)}")
    version = kolla.deploy(shells, registry, imgs, log=lab.progress)
    lab.progress(f"Octavia {version} runs in kolla containers")
    return version

"""The deployment styles the lab can stand up: where Octavia lives on a node and
how its units start it, so that each shipped flavor is rehearsed on real parts.

=========  ================================================================
style      a node looks like
=========  ================================================================
``venv``   a venv at ``/opt/octavia/venv``; the units start its console
           scripts (the lab's ``systemctl`` stand-in knows them without a
           unit file). Flavor ``venv``.
``osa``    OpenStack-Ansible on metal (``is_metal: true``): the versioned venv
           ``/openstack/venvs/octavia-<tag>``, one systemd unit file per
           service in ``/etc/systemd/system`` whose ``ExecStart`` names that
           venv as OSA's ``systemd_service`` role writes it, and the API's
           uWSGI ini ``/etc/uwsgi/octavia-api.ini`` naming it too
           (``virtualenv =``). Flavor ``osa``: the target venv is built
           beside the running one and the unit files are switched to it.
``kolla``   kolla-ansible's containers ``octavia_api``, ``octavia_worker``,
           ``octavia_health_manager``, ``octavia_housekeeping`` run by the
           node's own podman from images built in the lab and served by a
           registry on loopback (:mod:`.kolla`, :mod:`.kollabuild`). Flavor
           ``kolla``: images pulled before the outage, containers recreated
           on them by the lab's ``kolla_recreate_command``.
=========  ================================================================

One difference from a real OpenStack-Ansible node, on purpose: the lab has no
uWSGI, so the ``octavia-api`` unit starts the venv's own ``octavia-api``
script (Octavia's WSGI app on its simple server) instead of ``uwsgi --ini``.
The ini is still there and the upgrade switches it like the unit files, and
the tests check that it did. OSA's LXC containers are not rehearsed: OSA
supports Octavia on metal and in containers alike, the tool reaches a
container through its physical host (``ProxyJump``), which the transport tests
cover on real sshd.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.lab.units import UNITS

#: The OSA venvs' parent folder and the unit and ini paths (os_octavia, systemd_service).
OSA_VENVS = "/openstack/venvs"
UNITS_DIR = "/etc/systemd/system"
UWSGI_INI = "/etc/uwsgi/octavia-api.ini"


@dataclass(frozen=True)
class LabStyle:
    """One deployment style of the lab."""

    name: str
    #: The shipped flavor the lab's inventory names.
    flavor: str
    #: One line for ``--help`` and ``lab status``.
    summary: str
    #: Folders each node gets as its own, besides ``layout.NODE_PATHS``.
    extra_paths: tuple[str, ...] = ()
    #: Programs of the machine the style needs (``scripts/bootstrap`` installs them).
    programs: tuple[str, ...] = ()

    def missing_programs(self) -> list[str]:
        import shutil

        return [p for p in self.programs if shutil.which(p) is None
                and shutil.which(p, path="/usr/sbin:/sbin") is None]

    def venv(self, version_id: str) -> str:
        """The venv the release with ``version_id`` (``2024.2``) is installed into."""
        if self.name == "osa":
            return f"{OSA_VENVS}/octavia-{version_id}"
        return "/opt/octavia/venv"

    def node_files(self, venv: str) -> dict[str, str]:
        """Files (path inside the node → text) that make the node look like the style."""
        if self.name != "osa":
            return {}
        files = {f"{UNITS_DIR}/{unit}.service": osa_unit(unit, venv) for unit in UNITS}
        files[UWSGI_INI] = osa_uwsgi_ini(venv)
        return files


STYLES = {
    # Every node has its own (empty) unit folder: a unit file of this machine's
    # never decides what a venv node starts.
    "venv": LabStyle("venv", "venv", "Octavia in /opt/octavia/venv (the default)",
                     extra_paths=(UNITS_DIR,)),
    "kolla": LabStyle("kolla", "kolla",
                      "kolla-ansible's containers, run by podman from a registry on loopback",
                      extra_paths=("/etc/kolla", "/etc/containers", "/var/lib/containers",
                                   "/run/containers", "/run/libpod", UNITS_DIR),
                      programs=("podman", "runc", "dumb-init", "docker-registry")),
    "osa": LabStyle("osa", "osa",
                    "OpenStack-Ansible on metal: /openstack/venvs/octavia-<tag>, "
                    "unit files naming it",
                    extra_paths=("/openstack", UNITS_DIR, "/etc/uwsgi")),
}


def style(name: str | None) -> LabStyle:
    """The style called ``name`` (``None``: ``venv``).

    Raises:
        InvalidInput: no such style (the message lists them).
    """
    key = name or "venv"
    try:
        return STYLES[key]
    except KeyError:
        raise InvalidInput(f"unknown lab flavor {key!r}; one of {', '.join(STYLES)}") from None


#: What each unit's ExecStart runs after the venv's bin/ (OSA's os_octavia
#: defaults: only the driver agent names its config file; the others find
#: /etc/octavia/octavia.conf by oslo.config's default search).
_OSA_EXEC = {
    "octavia-api": "octavia-api --config-file /etc/octavia/octavia.conf",
    "octavia-worker": "octavia-worker",
    "octavia-health-manager": "octavia-health-manager",
    "octavia-housekeeping": "octavia-housekeeping",
    "octavia-driver-agent": "octavia-driver-agent --config-file /etc/octavia/octavia.conf",
}


def osa_unit(unit: str, venv: str) -> str:
    """A unit file shaped like the ones OSA's ``systemd_service`` role writes."""
    return (f"[Unit]\nDescription={unit} service\nAfter=network-online.target\n"
            "Wants=network-online.target\n\n"
            "[Service]\nType=simple\n"
            f"ExecStart={venv}/bin/{_OSA_EXEC[unit]}\n"
            "ExecReload=/bin/kill -HUP $MAINPID\nTimeoutSec=120\nRestart=on-failure\n"
            "RestartSec=2\nSlice=octavia.slice\n\n"
            "[Install]\nWantedBy=multi-user.target\n")


def osa_uwsgi_ini(venv: str) -> str:
    """The API's uWSGI ini as OSA's ``uwsgi`` role writes it (the lines that name the venv)."""
    return ("[uwsgi]\n"
            f"virtualenv = {venv}\n"
            f"wsgi-file = {venv}/bin/octavia-wsgi\n"
            "http-socket = :9876\nmaster = true\nenable-threads = true\nprocesses = 1\n"
            "threads = 1\nlazy-apps = true\n")


def write_node_files(fs: Path, files: dict[str, str]) -> None:
    """Write ``files`` under the node's private folders (``fs`` + path inside the node)."""
    for path, text in files.items():
        dest = fs / path.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text, encoding="utf-8")

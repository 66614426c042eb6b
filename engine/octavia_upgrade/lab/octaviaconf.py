"""Each lab node's ``/etc/octavia/octavia.conf`` and the lab's certificate authority.

The configuration is the working one measured on this kind of machine: the
real services with the ``amphora`` provider and every cloud-facing driver set
to its no-op variant, so the real taskflow flows run without Nova, Neutron or
Glance. The nodes share one database and one broker; what differs per node is
``[DEFAULT] host``, the addresses the API and the health manager bind to.
Paths are the node's own (``/etc/octavia``, ``/var/log/octavia``,
``/run/octavia``): each node sees its own copy of them in its mount namespace.

``heartbeat_key`` and the database password are secrets: the lab generates
them at random and lists them under ``secrets:`` in the inventory it writes,
so the engine redacts them from logs and reports.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: Where things live inside a node (its own bind-mounted folders).
CONFIG_FILE = "/etc/octavia/octavia.conf"
CONFIG_DIR = "/etc/octavia/conf.d"
CERT_DIR = "/etc/octavia/certs"
LOG_DIR = "/var/log/octavia"
RUN_DIR = "/run/octavia"
LIB_DIR = "/var/lib/octavia"
VENV = "/opt/octavia/venv"

API_PORT = 9876
HEALTH_MANAGER_PORT = 5555

#: Failover after this many seconds without a heartbeat. Octavia's default is
#: 60 s; a cold upgrade stops every health manager and the lab amphora keeps
#: sending, but a slow rehearsal must not turn a short gap into a failover
#: (which would replace the amphora and hide what the rehearsal checks).
HEARTBEAT_TIMEOUT = 3600


@dataclass(frozen=True)
class Shared:
    """What every node's configuration has in common."""

    transport_url: str
    db_url: str
    heartbeat_key: str
    #: ``address:port`` of every health manager (what amphorae send to).
    health_managers: tuple[str, ...]


@dataclass(frozen=True)
class NodeConf:
    """What is particular to one node."""

    host: str
    address: str


def new_secret(nbytes: int = 18) -> str:
    """A random URL-safe token (passwords, heartbeat keys)."""
    return secrets.token_urlsafe(nbytes)


def render(shared: Shared, node: NodeConf) -> str:
    """The text of ``node``'s ``octavia.conf`` (pure)."""
    hms = ", ".join(shared.health_managers)
    return f"""\
# Written by `octavia-upgrade lab up` for node {node.host}.
[DEFAULT]
host = {node.host}
transport_url = {shared.transport_url}
log_dir = {LOG_DIR}
use_stderr = false

[oslo_concurrency]
lock_path = {LIB_DIR}/lock

[database]
connection = {shared.db_url}
max_pool_size = 5
max_overflow = 10

[api_settings]
auth_strategy = noauth
bind_host = {node.address}
bind_port = {API_PORT}
enabled_provider_drivers = amphora:Amphora driver.,noop_driver:No-op driver.
default_provider_driver = amphora

[controller_worker]
amphora_driver = amphora_noop_driver
compute_driver = compute_noop_driver
network_driver = network_noop_driver
volume_driver = volume_noop_driver
image_driver = image_noop_driver
distributor_driver = distributor_noop_driver
loadbalancer_topology = SINGLE
client_ca = {CERT_DIR}/ca.pem

[certificates]
cert_manager = noop_cert_manager
cert_generator = local_cert_generator
ca_certificate = {CERT_DIR}/ca.pem
ca_private_key = {CERT_DIR}/ca.key

[health_manager]
bind_ip = {node.address}
bind_port = {HEALTH_MANAGER_PORT}
controller_ip_port_list = {hms}
heartbeat_key = {shared.heartbeat_key}
# Raised from 60 s: see docs/lab.md ("Heartbeats").
heartbeat_timeout = {HEARTBEAT_TIMEOUT}

[driver_agent]
status_socket_path = {RUN_DIR}/status.sock
stats_socket_path = {RUN_DIR}/stats.sock
get_socket_path = {RUN_DIR}/get.sock
enabled_provider_agents = noop_agent

[task_flow]
jobboard_enabled = False
"""


def db_defaults_file(user: str, password: str, port: int, host: str = "127.0.0.1") -> str:
    """A MySQL client option file (mode 0600) so no password is on a command line."""
    return (f"[client]\nuser = {user}\npassword = {password}\n"
            f"host = {host}\nport = {port}\n")


def make_ca(directory: str | Path) -> tuple[Path, Path]:
    """Create the lab's CA with openssl: ``(ca.pem, ca.key)`` in ``directory``."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    pem, key = d / "ca.pem", d / "ca.key"
    if not (pem.exists() and key.exists()):
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-out", str(pem), "-days", "3650", "-subj", "/CN=octavia-lab-ca"],
            check=True, capture_output=True, text=True)
        key.chmod(0o600)
    return pem, key

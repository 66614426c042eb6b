"""Unreachable lab nodes: nftables rules that drop every packet of a node's SSH port.

The rules live in a table of the lab's own (one per lab directory, hooked on
output) and carry a comment naming the node, so one node can be made
reachable again without touching the others, and the whole table goes with
the lab.
"""

from __future__ import annotations

import shutil
import subprocess

from octavia_upgrade.errors import LabNodeError


def rule_tag(name: str) -> str:
    """The comment on the rules that block node ``name``."""
    return f"octavia-lab-block-{name}"


def block(table: str, name: str, address: str, port: int) -> None:
    """Drop every TCP packet to and from ``address:port`` (node ``name``) in ``table``.

    Both directions, including packets of connections already open: new
    connections time out, open ones hang.
    """
    nft(f"add table inet {table}")
    nft(f"add chain inet {table} output "
        "{ type filter hook output priority 0 ; policy accept ; }")
    nft(f"add rule inet {table} output ip daddr {address} "
        f"tcp dport {port} drop comment \"{rule_tag(name)}\"")
    nft(f"add rule inet {table} output ip saddr {address} "
        f"tcp sport {port} drop comment \"{rule_tag(name)}\"")


def unblock(table: str, name: str) -> None:
    """Delete the rules :func:`block` added for node ``name``."""
    listing = subprocess.run(["nft", "-a", "list", "chain", "inet", table, "output"],
                             capture_output=True, text=True, check=False)
    for line in listing.stdout.splitlines():
        if f'"{rule_tag(name)}"' in line and "# handle" in line:
            handle = line.rsplit("# handle", 1)[1].strip()
            nft(f"delete rule inet {table} output handle {handle}")


def drop_table(table: str) -> None:
    """Remove ``table`` and every rule in it (nothing happens if it does not exist)."""
    if shutil.which("nft"):
        subprocess.run(["nft", f"delete table inet {table}"], capture_output=True, check=False)


def nft(command: str) -> None:
    """Run one ``nft`` command; :class:`LabNodeError` with nft's words if it fails."""
    if not shutil.which("nft"):
        raise LabNodeError("nft is not installed (Debian package nftables; "
                           "scripts/bootstrap installs it)")
    done = subprocess.run(["nft", command], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabNodeError(f"nft {command}: {done.stderr.strip()}")

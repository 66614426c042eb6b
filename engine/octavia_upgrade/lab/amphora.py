"""The lab "amphora": sends real heartbeats so the health managers keep LBs ONLINE.

A real amphora's health daemon sends a UDP heartbeat every few seconds to
every health manager (``controller_ip_port_list``): a zlib-compressed JSON
status message followed by an HMAC of it keyed with ``heartbeat_key``. The
health manager marks the amphora healthy and sets the listeners, pools and
members ONLINE from it; without heartbeats it fails the amphora over after
``heartbeat_timeout``.

This module is two things:

* a script, run by the lab with a node's venv Python (so the envelope is built
  by Octavia's own ``status_message.wrap_envelope``). It reads the amphorae
  and their load balancers' listeners, pools and members from the Octavia API
  whenever the API answers, remembers the last answer while it does not (the
  API is down during a cold upgrade, the amphora is not), and sends a version
  3 message — listeners ``OPEN``, pools and members ``UP`` — for every
  ALLOCATED amphora to every health manager. It imports only the standard
  library and Octavia, never this package.
* :func:`launch`, which starts that script inside a node's mount namespace
  (``nsenter``) and returns its recorded PID.

The heartbeat key is read from a 0600 file, never from the command line.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import urllib.request
from typing import Any

PROJECT = "lab"


def _get(base: str, path: str) -> Any:
    req = urllib.request.Request(base.rstrip("/") + path, headers={
        "X-Project-Id": PROJECT, "Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=3) as resp:  # noqa: S310 - lab API URL
        return json.load(resp)


def snapshot(apis: list[str]) -> list[dict[str, Any]] | None:
    """Heartbeat bodies (without ``seq``) for every allocated amphora, or None."""
    for base in apis:
        try:
            amps = _get(base, "/v2/octavia/amphorae")["amphorae"]
            msgs = []
            for amp in amps:
                if amp.get("status") != "ALLOCATED" or not amp.get("loadbalancer_id"):
                    continue
                lb = _get(base, f"/v2/lbaas/loadbalancers/{amp['loadbalancer_id']}")
                lb = lb["loadbalancer"]
                listeners = {}
                for ls in lb.get("listeners", []):
                    listeners[ls["id"]] = {"status": "OPEN", "stats": {
                        "tx": 0, "rx": 0, "conns": 0, "totconns": 0, "ereq": 0}}
                pools = {}
                for pool in lb.get("pools", []):
                    detail = _get(base, f"/v2/lbaas/pools/{pool['id']}")["pool"]
                    members = _get(base, f"/v2/lbaas/pools/{pool['id']}/members")["members"]
                    key = pool["id"]
                    if detail.get("listeners"):
                        key = f"{pool['id']}:{detail['listeners'][0]['id']}"
                    pools[key] = {"status": "UP",
                                  "members": {m["id"]: "UP" for m in members}}
                msgs.append({"id": amp["id"], "listeners": listeners, "pools": pools,
                             "ver": 3})
            return msgs
        except (OSError, ValueError, KeyError):
            continue
    return None


def run(config: dict[str, Any]) -> None:
    """Send heartbeats forever (until SIGTERM)."""
    from octavia.amphorae.backends.health_daemon import status_message

    with open(config["key_file"], encoding="utf-8") as f:
        key = f.read().strip()
    targets = [(h.rsplit(":", 1)[0], int(h.rsplit(":", 1)[1])) for h in config["targets"]]
    interval = float(config.get("interval", 3))
    refresh = float(config.get("refresh", 10))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    msgs: list[dict[str, Any]] = []
    seq, last_refresh = 0, 0.0
    while True:
        now = time.monotonic()
        if now - last_refresh >= refresh or not msgs:
            fresh = snapshot(config["apis"])
            if fresh is not None:
                msgs, last_refresh = fresh, now
        for msg in msgs:
            seq += 1
            envelope = status_message.wrap_envelope(dict(msg, seq=seq), key)
            for target in targets:
                try:
                    sock.sendto(envelope, target)
                except OSError:
                    pass  # a health manager that is down: a real amphora does the same
        time.sleep(interval)


# -- the lab side ----------------------------------------------------------------


def launch(lab_dir: str, node_pid: int, python: str, apis: list[str], targets: list[str],
           heartbeat_key: str, interval: float = 3.0):  # -> procs.Proc
    """Start the heartbeat sender in the mount namespace of the node whose sshd is ``node_pid``.

    Args:
        lab_dir: the lab directory (script, config, key and log go to ``amphora/``).
        node_pid: PID of the node's sshd (its mount namespace has the venv).
        python: the node's venv Python (``/opt/octavia/venv/bin/python``).
        apis: Octavia API base URLs to read load balancers from.
        targets: ``address:port`` of every health manager.
        heartbeat_key: the shared secret (written to a 0600 file).
    """
    import shutil
    import subprocess
    from pathlib import Path

    from octavia_upgrade.lab.procs import Proc

    d = Path(lab_dir) / "amphora"
    d.mkdir(parents=True, exist_ok=True)
    script = d / "lab-amphora.py"
    shutil.copyfile(__file__, script)
    key_file = d / "heartbeat.key"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(heartbeat_key)
    conf = d / "amphora.json"
    conf.write_text(json.dumps({"apis": apis, "targets": targets, "key_file": str(key_file),
                                "interval": interval}))
    with open(d / "amphora.log", "ab") as log:
        proc = subprocess.Popen(
            ["nsenter", "-t", str(node_pid), "-m", "--", python, str(script), str(conf)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, cwd=d)
    return Proc.of("amphora", proc.pid)


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as f:
        run(json.load(f))

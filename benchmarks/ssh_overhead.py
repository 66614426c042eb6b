"""Per-command SSH overhead: SshTransport (warm) vs untuned fabric and ``ssh`` through a
ControlMaster.

Starts one lab node (real sshd on 127.42.250.10, its own mount namespace),
runs ``true`` N times through each path and prints the median latency.
Needs root and openssh-server/openssh-client (as the lab does)::

    sudo .venv/bin/python benchmarks/ssh_overhead.py [-n 200]

Everything it starts (the node, the ControlMaster) is stopped by PID at the end.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fabric
import paramiko

from octavia_upgrade.lab.nodes import LabNodes, default_specs, unavailable_reason
from octavia_upgrade.model import Host, SshSettings
from octavia_upgrade.transport import SshTransport


def _median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.2f} ms"


def _time(fn, count: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--count", type=int, default=200, help="commands per method")
    args = parser.parse_args()
    reason = unavailable_reason()
    if reason:
        print(f"ssh_overhead: {reason}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="ssh-overhead-") as tmp:
        nodes = LabNodes(Path(tmp) / "lab")
        master: subprocess.Popen[bytes] | None = None
        try:
            (node,) = nodes.start(default_specs(1, net="127.42.250"))
            host = Host("bench", node.address, node.port, key_file=str(nodes.client_key))
            settings = SshSettings(known_hosts=str(nodes.known_hosts))

            transport = SshTransport(host, settings)
            connect = _time(lambda: (transport.close(), transport.run("true")), 5)
            transport.run("true")
            warm = _time(lambda: transport.run("true"), args.count)
            warm_timeout = _time(lambda: transport.run("true", timeout=30), args.count)
            transport.close()

            # fabric as it comes: Nagle on, output read by polling threads
            plain = fabric.Connection(node.address, user="root", port=node.port,
                                      connect_kwargs={"key_filename": [str(nodes.client_key)],
                                                      "look_for_keys": False,
                                                      "allow_agent": False})
            plain.client.load_system_host_keys(str(nodes.known_hosts))
            plain.client.set_missing_host_key_policy(paramiko.RejectPolicy())
            try:
                plain.run("true", hide=True, in_stream=False)
                untuned = _time(lambda: plain.run("true", hide=True, in_stream=False),
                                args.count)
            finally:
                plain.close()

            control = Path(tmp) / "cm.sock"
            base = ["ssh", "-F", "none", "-i", str(nodes.client_key), "-p", str(node.port),
                    "-o", f"UserKnownHostsFile={nodes.known_hosts}",
                    "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
                    "-o", f"ControlPath={control}"]
            target = f"root@{node.address}"
            # The master in the foreground (-N, ControlMaster=yes) so we own its PID.
            master = subprocess.Popen([*base, "-N", "-o", "ControlMaster=yes",
                                       "-o", "ControlPersist=no", target],
                                      stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 10
            while not control.exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            cold = _time(lambda: subprocess.run(["ssh", "-F", "none", "-i", str(nodes.client_key),
                                                 "-p", str(node.port), "-o",
                                                 f"UserKnownHostsFile={nodes.known_hosts}",
                                                 "-o", "BatchMode=yes", target, "true"],
                                                check=True), 5)
            muxed = _time(lambda: subprocess.run([*base, target, "true"], check=True),
                          args.count)
        finally:
            if master is not None:
                master.terminate()
                try:
                    master.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    master.kill()
                    master.wait()
            nodes.stop()

    print(f"per `true` on one lab node, median of {args.count} (connect: median of 5)")
    print(f"  SshTransport, new connection each time       {_median_ms(connect)}")
    print(f"  SshTransport, warm connection                {_median_ms(warm)}")
    print(f"  SshTransport, warm, with timeout wrapper     {_median_ms(warm_timeout)}")
    print(f"  fabric Connection.run, untuned, warm         {_median_ms(untuned)}")
    print(f"  ssh, new process + connection each time      {_median_ms(cold)}")
    print(f"  ssh through a ControlMaster                  {_median_ms(muxed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

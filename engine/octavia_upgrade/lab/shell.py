"""Run a command on a lab node over SSH, as an operator would.

The lab sets nodes up through their sshd (so venvs get the node's paths and
every command sees the node's mount namespace), with OpenSSH's own client,
the lab's key and its ``known_hosts`` (strict host-key checking on).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    rc: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.rc == 0


@dataclass(frozen=True)
class NodeShell:
    """SSH access to one node: ``NodeShell(addr, port, key, known_hosts).run("uptime")``."""

    address: str
    port: int
    key_file: str
    known_hosts: str
    user: str = "root"
    connect_timeout: int = 10

    def argv(self, command: str) -> list[str]:
        return ["ssh", "-i", self.key_file, "-p", str(self.port),
                "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
                "-o", "StrictHostKeyChecking=yes",
                "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", f"ConnectTimeout={self.connect_timeout}",
                "-o", "LogLevel=ERROR",
                f"{self.user}@{self.address}", command]

    def run(self, command: str, timeout: float = 600.0) -> Result:
        """Run ``command`` (a shell string) on the node; never raises on rc != 0.

        Raises:
            subprocess.TimeoutExpired: the command did not finish in ``timeout`` s.
        """
        done = subprocess.run(self.argv(command), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, check=False)
        return Result(done.returncode, done.stdout, done.stderr)

    def check(self, command: str, timeout: float = 600.0, what: str | None = None) -> str:
        """Run ``command``; return stdout, or raise RuntimeError with its output."""
        res = self.run(command, timeout)
        if not res.ok:
            tail = "\n".join((res.stderr + res.stdout).strip().splitlines()[-15:])
            raise RuntimeError(f"{what or command!r} failed on {self.address} "
                               f"(exit {res.rc}):\n{tail}")
        return res.stdout

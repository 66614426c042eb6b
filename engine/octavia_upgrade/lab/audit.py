"""The lab's command audit: every command each node's sshd ran, and how it ended.

``lab up --audit-commands`` makes a small shell script sshd's ``ForceCommand``
on every node. For each session it appends one line to
``DIR/nodes/NODE/commands.log`` when the command starts (its text, as the
client sent it, in base64) and one when it ends (its exit status), then
exits with that status. The engine's own records say what it *meant* to run;
this log is what the nodes *did* run, which is what the lab's crash trials
count ("no step recorded as done ran again", benchmarks/lab-crash-trials).

A command whose session was cut (the engine killed, the connection lost)
has a start line and no end line.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path

#: The wrapper's name under ``DIR/bin``.
WRAPPER = "audit-command"
LOG = "commands.log"

_SCRIPT = """#!/bin/sh
# Written by `octavia-upgrade lab up --audit-commands`: sshd's ForceCommand on
# every node of this lab (docs/lab.md). One line when a command starts (its
# text in base64), one when it ends (its exit status); exits with that status.
log="{nodes}/${{OCTAVIA_LAB_NODE:-unknown}}/{log}"
cmd=${{SSH_ORIGINAL_COMMAND-}}
case $cmd in
  sftp|internal-sftp) exec /usr/lib/openssh/sftp-server ;;
esac
printf '%s %s start %s\\n' "$(date +%s.%N)" "$$" "$(printf %s "$cmd" | base64 -w0)" >> "$log"
if [ -n "$cmd" ]; then "${{SHELL:-/bin/sh}}" -c "$cmd"; else "${{SHELL:-/bin/sh}}" -l; fi
rc=$?
printf '%s %s end %s\\n' "$(date +%s.%N)" "$$" "$rc" >> "$log"
exit "$rc"
"""


@dataclass(frozen=True)
class Executed:
    """One command a node ran: when it started, its session's PID, its text and
    exit status (None: the session was cut before it ended)."""

    at: float
    pid: int
    command: str
    rc: int | None
    ended_at: float | None


def install(lab_dir: Path, nodes: list[str]) -> str:
    """Write the wrapper and an empty log per node; return the wrapper's path.

    The logs are writable by every user (mode 0622: the lab's ``--login`` user
    runs the wrapper too) and readable by root only.
    """
    bin_dir = lab_dir / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / WRAPPER
    script.write_text(_SCRIPT.format(nodes=lab_dir.resolve() / "nodes", log=LOG),
                      encoding="utf-8")
    os.chmod(script, 0o755)
    for name in nodes:
        path = log_path(lab_dir, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o622))
        os.chmod(path, 0o622)
    return str(script.resolve())


def log_path(lab_dir: Path, node: str) -> Path:
    return lab_dir / "nodes" / node / LOG


def executed(lab_dir: Path, node: str) -> list[Executed]:
    """What node ``node`` ran so far, in the order the commands started."""
    follower = Follower(lab_dir, node)
    ended = follower.poll()[1]
    return sorted(ended + follower.running(), key=lambda e: e.at)


class Follower:
    """A node's command log, read as it grows: each :meth:`poll` parses only
    the lines appended since the last one (the crash trials poll every few
    milliseconds for the moment a command starts or ends)."""

    def __init__(self, lab_dir: Path, node: str) -> None:
        self.path = log_path(lab_dir, node)
        self._offset = 0
        self._started: dict[int, tuple[float, str]] = {}

    def poll(self) -> tuple[list[Executed], list[Executed]]:
        """The commands that started, and those that ended, since the last poll.

        A started command is given with ``rc`` None; a command whose session
        was cut before its end line shows up as ended (``rc`` None) once its
        session's PID starts another command.
        """
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return [], []
        complete = data[:data.rfind(b"\n") + 1]  # a line still being written waits
        self._offset += len(complete)
        started: list[Executed] = []
        ended: list[Executed] = []
        for line in complete.decode("utf-8", "replace").splitlines():
            self._line(line, started, ended)
        return started, ended

    def running(self) -> list[Executed]:
        """Commands started and not ended (or cut), as of the last poll."""
        return [Executed(t0, pid, text, None, None) for pid, (t0, text) in self._started.items()]

    def _line(self, line: str, started: list[Executed], ended: list[Executed]) -> None:
        parts = line.split(" ", 3)
        if len(parts) < 3:
            return  # a line cut by a full disk or a crash
        try:
            at, pid = float(parts[0]), int(parts[1])
        except ValueError:
            return
        if parts[2] == "start":
            if pid in self._started:  # a session cut before its end line; its PID reused
                t0, text = self._started.pop(pid)
                ended.append(Executed(t0, pid, text, None, None))
            try:
                text = base64.b64decode(parts[3] if len(parts) > 3 else "").decode(
                    "utf-8", "replace")
            except (binascii.Error, ValueError):
                text = ""
            self._started[pid] = (at, text)
            started.append(Executed(at, pid, text, None, None))
        elif parts[2] == "end" and pid in self._started:
            t0, text = self._started.pop(pid)
            rc = int(parts[3]) if len(parts) > 3 and parts[3].strip().isdigit() else None
            ended.append(Executed(t0, pid, text, rc, at))

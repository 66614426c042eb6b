"""A real terminal for tests: a private tmux server, its panes read as an operator sees them.

Each :class:`Tmux` has its own server socket in the test's folder, so it never
touches an operator's tmux; the server is stopped by its PID on ``close()``,
whatever happened. Commands run in a pane through ``sh -c``: the pane's shell
records the command's PID (``PIDFILE``) and prints ``EXIT=<code>`` when it ends,
then stays open so the whole screen can still be read.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path


class Tmux:
    def __init__(self, folder: Path, width: int = 220, height: int = 60) -> None:
        self.folder = folder
        self.socket = folder / "tmux.sock"
        self.size = (width, height)
        self.server_pid: int | None = None
        self.windows = 0

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-S", str(self.socket), *args], check=True,
                              capture_output=True, text=True, timeout=30).stdout

    def start(self, argv: Sequence[str], env: Mapping[str, str]) -> str:
        """Run ``argv`` in a new window; return the window's target (``op:N``)."""
        n = self.windows
        self.windows += 1
        pidfile = self.folder / f"pid.{n}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        inner = (f"echo $$ > {shlex.quote(str(pidfile))}; exec env {exports} "
                 + " ".join(shlex.quote(a) for a in argv))
        script = f"sh -c {shlex.quote(inner)}; echo EXIT=$?; sleep 3600"
        if n == 0:
            w, h = self.size
            self._tmux("new-session", "-d", "-s", "op", "-x", str(w), "-y", str(h), script)
            self.server_pid = int(self._tmux("display-message", "-p", "-t", "op",
                                             "#{pid}").strip())
        else:
            self._tmux("new-window", "-t", f"op:{n}", script)
        return f"op:{n}"

    def pid(self, target: str, timeout: float = 10) -> int:
        """The PID of the command started in ``target``."""
        path = self.folder / f"pid.{target.split(':')[1]}"
        deadline = time.monotonic() + timeout
        while not path.exists() or not path.read_text().strip():
            if time.monotonic() > deadline:
                raise AssertionError(f"no PID recorded for {target}")
            time.sleep(0.05)
        return int(path.read_text())

    def screen(self, target: str) -> str:
        """Everything the pane shows, its history included, as text."""
        return self._tmux("capture-pane", "-p", "-J", "-S", "-5000", "-t", target)

    def text(self, target: str) -> str:
        """The pane's words in one line: the console wraps long lines at the
        terminal's width, at spaces, and an assertion should not care where."""
        return " ".join(self.screen(target).split())

    def wait_for(self, target: str, text: str, timeout: float = 300) -> str:
        """Wait until ``text`` is on the pane; return the pane's words (:meth:`text`)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.text(target)
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} never appeared in {target}:\n{screen[-3000:]}")
            time.sleep(0.2)

    def type(self, target: str, line: str) -> None:
        self._tmux("send-keys", "-t", target, line, "Enter")

    def close(self) -> None:
        """Stop every command still running by its PID, then the server by its PID."""
        for path in self.folder.glob("pid.*"):
            try:
                pid = int(path.read_text())
                # still the command this pane started (not a reused PID)?
                if b"octavia_upgrade" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
            except (ValueError, OSError):
                pass
        if self.server_pid is None:
            return
        try:
            os.kill(self.server_pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(self.server_pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        os.kill(self.server_pid, signal.SIGKILL)

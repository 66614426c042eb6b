"""Commands on the operator machine, with :class:`SshTransport`'s interface and timeouts.

The command gets its own process group; on timeout the whole group gets
SIGTERM, then SIGKILL ``kill_after`` seconds later, as on a host.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from octavia_upgrade.errors import FileUnreadable
from octavia_upgrade.transport.command import DEFAULT_KILL_AFTER, check_env
from octavia_upgrade.transport.interface import CommandResult

class LocalTransport:
    """Commands on the operator machine, with :class:`SshTransport`'s semantics.

    The command runs in ``sh -c`` in a new process group; on timeout the
    whole group gets SIGTERM, then SIGKILL ``kill_after`` seconds later.
    """

    def __init__(self, *, name: str = "local", kill_after: float = DEFAULT_KILL_AFTER) -> None:
        self.name = name
        self.kill_after = kill_after

    def run(self, command: str, *, timeout: float | None = None,
            env: dict[str, str] | None = None, stdin: str | None = None) -> CommandResult:
        """See :meth:`Transport.run`."""
        extra = check_env(env)
        started = time.time()
        proc = subprocess.Popen(
            ["sh", "-c", command], stdin=subprocess.PIPE if stdin is not None else
            subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, **extra}, start_new_session=True)
        data = stdin.encode("utf-8") if stdin is not None else None
        timed_out = False
        try:
            out, err = proc.communicate(data, timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            out, err = self._stop_group(proc)
        finally:
            if proc.poll() is None:  # interrupted (KeyboardInterrupt): leave nothing behind
                _killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        ended = time.time()
        # As a shell reports it (and as SshTransport does): killed by signal N → 128+N.
        rc = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
        return CommandResult(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                             started, ended, timed_out=timed_out)

    def _stop_group(self, proc: subprocess.Popen[bytes]) -> tuple[bytes, bytes]:
        _killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.communicate(timeout=self.kill_after)
        except subprocess.TimeoutExpired:
            _killpg(proc.pid, signal.SIGKILL)
        try:
            return proc.communicate(timeout=self.kill_after)
        except subprocess.TimeoutExpired:
            # A process that left the group still holds the pipes: stop waiting.
            proc.kill()
            proc.wait()
            return b"", b""

    def read_text(self, path: str) -> str:
        """See :meth:`Transport.read_text`."""
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise FileUnreadable(f"{self.name}: cannot read {path}: {exc.strerror or exc}",
                                 host=self.name, path=path) from None

    def close(self) -> None:
        return None


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass

"""Commands on the operator machine, with :class:`SshTransport`'s interface and timeouts.

The command gets its own process group; on timeout the whole group gets
SIGTERM, then SIGKILL ``kill_after`` seconds later, as on a host.

It also serves inventory hosts that Ansible runs locally
(``ansible_connection=local``, kolla-ansible's all-in-one): with ``become``,
the command line is the one a host would run (:func:`remote_command`: sudo
around coreutils ``timeout``), so a command running as root is stopped by a
``timeout`` running as root too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING

from octavia_upgrade.errors import FileUnreadable
from octavia_upgrade.transport.command import (DEFAULT_KILL_AFTER, check_env,
                                                remote_command, timed_out)
from octavia_upgrade.transport.interface import CommandResult

if TYPE_CHECKING:
    from octavia_upgrade.model import Become

#: Seconds a sudo'd local command may run beyond ``timeout + kill_after``.
_GRACE = 5.0

class LocalTransport:
    """Commands on the operator machine, with :class:`SshTransport`'s semantics.

    The command runs in ``sh -c`` in a new process group; on timeout the
    whole group gets SIGTERM, then SIGKILL ``kill_after`` seconds later.
    """

    def __init__(self, *, name: str = "local", kill_after: float = DEFAULT_KILL_AFTER,
                 become: Become | None = None) -> None:
        self.name = name
        self.kill_after = kill_after
        self.become = become

    def run(self, command: str, *, timeout: float | None = None,
            env: dict[str, str] | None = None, stdin: str | None = None) -> CommandResult:
        """See :meth:`Transport.run`."""
        if self.become is not None:
            return self._run_become(command, timeout, env, stdin)
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

    def _run_become(self, command: str, timeout: float | None, env: dict[str, str] | None,
                    stdin: str | None) -> CommandResult:
        assert self.become is not None
        line = remote_command(command, timeout=timeout, env=env, has_stdin=stdin is not None,
                              kill_after=self.kill_after, become=self.become)
        if self.become.password is not None:
            stdin = self.become.password + "\n" + (stdin or "")
        plain = LocalTransport(name=self.name, kill_after=self.kill_after)
        limit = None if timeout is None else timeout + self.kill_after + _GRACE
        result = plain.run(line, timeout=limit, stdin=stdin)
        if result.timed_out:
            return result
        return CommandResult(result.rc, result.stdout, result.stderr, result.started,
                             result.ended, timed_out=timed_out(result.rc, timeout,
                                                               result.ended - result.started))

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
        if self.become is not None:  # the file may be readable by root only
            result = self.run(f"cat -- {shlex.quote(path)}", timeout=60)
            if not result.ok:
                reason = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.rc}"]
                raise FileUnreadable(f"{self.name}: cannot read {path}: {reason[0]}",
                                     host=self.name, path=path)
            return result.stdout
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

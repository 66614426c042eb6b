"""The command line a host runs: environment, timeout, sudo and stdin around a command.

Timeouts really stop the command. On a host, the command runs under coreutils
``timeout``, which signals the command's whole process group (SIGTERM, then
SIGKILL ``kill_after`` seconds later), so background children die too.
:func:`timed_out` tells a timeout from a command that exits 124 on its own.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from octavia_upgrade.errors import InvalidInput

if TYPE_CHECKING:
    from octavia_upgrade.model import Become, Container

#: ``timeout`` exits 124 when it stopped the command with SIGTERM, and the
#: command's status is 128+9 when SIGKILL was needed.
TIMEOUT_EXIT_CODES = (124, 137)

DEFAULT_KILL_AFTER = 5.0

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_env(env: dict[str, str] | None) -> dict[str, str]:
    """A copy of ``env``; :class:`InvalidInput` if a name is not a valid variable name."""
    env = dict(env or {})
    for key in env:
        if not _ENV_NAME.match(key):
            raise InvalidInput(f"environment variable name {key!r} is not valid "
                               "(letters, digits and _, not starting with a digit)")
    return env


def _seconds(value: float) -> str:
    text = f"{max(value, 0.001):.3f}".rstrip("0").rstrip(".")
    return text or "0.001"


def remote_command(command: str, *, timeout: float | None = None,
                   env: dict[str, str] | None = None, has_stdin: bool = False,
                   kill_after: float = DEFAULT_KILL_AFTER, become: Become | None = None,
                   container: Container | None = None) -> str:
    """The command line sent to the host's login shell for :meth:`SshTransport.run`.

    ``exec </dev/null; timeout -k KILL_AFTER T sh -c 'export K=V; COMMAND'; exit $?``:
    ``timeout`` makes
    itself a process-group leader and signals the whole group when time is
    up, so children started in the background are stopped as well.

    With ``become``, ``timeout`` itself runs under ``sudo`` (so it may signal
    the command's processes): ``sudo -n -u USER -- timeout ...`` without a
    password (sudo fails at once instead of waiting for one), or ``sudo -k -S
    -p '' -u USER -- sh -c '...'`` with one: the password is the first line of
    stdin (:meth:`SshTransport.run` puts it there), never on a command line;
    ``-k`` makes sudo read it even when it cached the credentials, so the
    line never reaches the command.

    With ``container`` (OpenStack-Ansible's LXC containers), ``timeout`` and the
    command run inside it, entered as OSA's connection plugin enters it:
    ``lxc-attach --clear-env --name NAME -- su - USER -c '...'``; sudo, when
    ``become`` is set, runs ``lxc-attach`` on the physical host.
    """
    env = check_env(env)
    script = "".join(f"export {k}={shlex.quote(v)}; " for k, v in env.items()) + command
    line = f"sh -c {shlex.quote(script)}"
    if timeout is not None:
        line = f"timeout -k {_seconds(kill_after)} {_seconds(timeout)} {line}"
    if container is not None:
        line = (f"lxc-attach --clear-env --name {shlex.quote(container.name)} -- "
                f"su - {shlex.quote(container.user)} -c {shlex.quote(line)}")
    if become is not None:
        user = shlex.quote(become.user)
        if become.password is not None:
            inner = line if has_stdin else f"exec </dev/null; {line}"
            line = f"sudo -k -S -p '' -u {user} -- sh -c {shlex.quote(inner + '; exit $?')}"
            has_stdin = True
        else:
            line = f"sudo -n -u {user} -- {line}"
    if not has_stdin:
        # Nothing ever closes the channel's stdin otherwise: a command that
        # reads it would wait for its timeout.
        line = f"exec </dev/null; {line}"
    # The login shell must not exec the last command: a process killed by a
    # signal makes sshd send "exit-signal", which paramiko ignores (the result
    # would look like a lost connection). As a child, its status is 128+N.
    return f"{line}; exit $?"


def timed_out(rc: int | None, timeout: float | None, duration: float) -> bool:
    """True when ``timeout`` stopped the command (it ended with ``rc`` after ``duration`` s)."""
    # A command may exit 124 on its own: only count it when the time was up.
    return timeout is not None and rc in TIMEOUT_EXIT_CODES and duration >= timeout * 0.98

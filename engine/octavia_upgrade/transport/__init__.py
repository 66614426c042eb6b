"""Running commands on control-plane hosts (SSH) and on the operator machine.

:class:`SshTransport` keeps one fabric ``Connection`` per host, opened on the
first command and reused; each command runs on a channel of its own, driven
by the calling thread (no thread per command). :class:`LocalTransport` runs
commands on the operator machine with the same interface and the same timeout
semantics. :class:`TransportPool` holds one :class:`SshTransport` per
inventory host.

Timeouts really stop the command: on a host it runs under coreutils
``timeout``, which signals its whole process group, and a local deadline
drops the connection of a host that stopped answering; locally, the command
gets its own process group and is killed the same way. Host keys are checked
strictly by default. The transport never logs commands or their output (they
may hold secrets); callers decide what to record.

One concept per module:

- :mod:`.interface`: the :class:`Transport` protocol and :class:`CommandResult`;
- :mod:`.command`: the command line a host runs (:func:`remote_command`:
  environment, ``timeout``, sudo, stdin) and the timeout exit codes;
- :mod:`.hostkeys`: known_hosts files, fingerprints, unknown and changed keys;
- :mod:`.channel`: one command's I/O on its SSH channel;
- :mod:`.ssh`: :class:`SshTransport`;
- :mod:`.local`: :class:`LocalTransport`;
- :mod:`.pool`: :class:`TransportPool`.

The errors (:class:`TransportError` and its subclasses, among them
:class:`ConnectionFailure` for every failure of the connection itself) live in
:mod:`octavia_upgrade.errors` and are importable from here too. Importing this
package does not import paramiko or fabric: they load with the first
connection.
"""

from __future__ import annotations

from octavia_upgrade.errors import (
    AuthenticationFailed,
    ConnectionFailure,
    ConnectionLost,
    FileUnreadable,
    HostKeyMismatch,
    HostUnreachable,
    TransportError,
    UnknownHostKey,
)
from octavia_upgrade.transport.command import (
    DEFAULT_KILL_AFTER,
    TIMEOUT_EXIT_CODES,
    remote_command,
)
from octavia_upgrade.transport.hostkeys import DEFAULT_KNOWN_HOSTS
from octavia_upgrade.transport.interface import CommandResult, Transport
from octavia_upgrade.transport.local import LocalTransport
from octavia_upgrade.transport.pool import TransportPool
from octavia_upgrade.transport.ssh import DEFAULT_GRACE, SshTransport

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_KILL_AFTER",
    "DEFAULT_KNOWN_HOSTS",
    "TIMEOUT_EXIT_CODES",
    "AuthenticationFailed",
    "CommandResult",
    "ConnectionFailure",
    "ConnectionLost",
    "FileUnreadable",
    "HostKeyMismatch",
    "HostUnreachable",
    "LocalTransport",
    "SshTransport",
    "Transport",
    "TransportError",
    "TransportPool",
    "UnknownHostKey",
    "remote_command",
]

"""Commands on one host over SSH: :class:`SshTransport`.

It keeps one fabric ``Connection`` per host (through ``ProxyJump`` bastions
if any), opened on the first command and reused (a warm command costs a few
milliseconds, see ``docs/lab-nodes.md``); each command runs on a channel of
its own, driven by the calling thread (:mod:`.channel`, no thread per command).

The command runs under coreutils ``timeout`` (:mod:`.command`); a local
deadline additionally drops the connection if the command has not ended
within ``timeout + kill_after + grace`` (host hung or network gone). Host keys
are checked strictly by default (:mod:`.hostkeys`). The transport never logs
commands or their output (they may hold secrets); callers decide what to
record.
"""

from __future__ import annotations

import os
import shlex
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from octavia_upgrade.errors import (
    AuthenticationFailed,
    ConnectionLost,
    FileUnreadable,
    HostUnreachable,
)
from octavia_upgrade.transport import hostkeys
from octavia_upgrade.transport.channel import ChannelOutcome, ChannelSession, remaining
from octavia_upgrade.transport.command import DEFAULT_KILL_AFTER, remote_command, timed_out
from octavia_upgrade.transport.interface import CommandResult

if TYPE_CHECKING:
    from octavia_upgrade.model import Host, SshSettings

#: Seconds the local deadline allows beyond ``timeout + kill_after``.
DEFAULT_GRACE = 5.0


@dataclass(frozen=True)
class _Endpoint:
    """One SSH server on the way: a bastion or the host itself."""

    address: str
    port: int
    user: str
    key_file: str | None
    where: str


class _NotStarted(Exception):
    """No session could be opened on a connected host: the command never started."""


class SshTransport:
    """Commands on one host over SSH, through one reused fabric connection.

    Args:
        host: the inventory host (address, port, user, key file).
        ssh: the inventory's SSH settings (known_hosts, connect timeout, strictness).
        kill_after: seconds between SIGTERM and SIGKILL when a command times out.
        grace: extra seconds the local deadline allows beyond ``timeout +
            kill_after`` before it drops the connection.

    One command at a time per transport (a lock); use one transport per host
    and as many threads as hosts.
    """

    def __init__(self, host: Host, ssh: SshSettings, *, kill_after: float = DEFAULT_KILL_AFTER,
                 grace: float = DEFAULT_GRACE) -> None:
        self.host = host
        self.ssh = ssh
        self.name = host.name
        self.kill_after = kill_after
        self.grace = grace
        self._lock = threading.RLock()
        self._conn: Any = None
        self._hops: list[Any] = []

    @property
    def where(self) -> str:
        inside = (f", container {self.host.container.name}" if self.host.container is not None
                  else "")
        return f"{self.host.name} ({self.host.user}@{self.host.address}:{self.host.port}{inside})"

    @property
    def known_hosts_path(self) -> Path:
        path = self.host.known_hosts or self.ssh.known_hosts or hostkeys.DEFAULT_KNOWN_HOSTS
        return Path(os.path.expanduser(path))

    @property
    def connect_timeout(self) -> float:
        if self.host.connect_timeout is not None:
            return self.host.connect_timeout
        return self.ssh.connect_timeout

    @property
    def connection(self) -> Any:
        """The open fabric ``Connection`` (opened now if needed)."""
        with self._lock:
            return self._connect()

    # -- connecting --

    def _connect(self) -> Any:
        if self._conn is not None and self._conn.is_connected:
            return self._conn
        self._drop()
        gateway = None
        # Bastions first, each through the previous one, each with strict
        # host-key checking against the same known_hosts as the host itself.
        for hop in self.host.proxy_jump:
            where = f"bastion {hop.name or hop.address} ({hop.user}@{hop.address}:{hop.port})"
            gateway = self._open(_Endpoint(hop.address, hop.port, hop.user, hop.key_file, where),
                                 gateway)
            self._hops.append(gateway)
        conn = self._open(_Endpoint(self.host.address, self.host.port, self.host.user,
                                    self.host.key_file, self.where), gateway)
        self._conn = conn
        return conn

    def _open(self, end: _Endpoint, gateway: Any) -> Any:
        """An open fabric ``Connection`` to ``end`` (through ``gateway`` if given)."""
        import fabric
        import paramiko

        known_hosts = self.known_hosts_path
        at: dict[str, Any] = {"host": self.name, "address": end.address, "port": end.port}
        key_file = os.path.expanduser(end.key_file) if end.key_file else None
        if key_file and not os.path.isfile(key_file):
            raise AuthenticationFailed(f"{end.where}: key file {key_file} does not exist",
                                       key_file=key_file, **at)
        timeout = max(1.0, float(self.connect_timeout))
        connect_kwargs: dict[str, Any] = {"banner_timeout": timeout, "auth_timeout": timeout,
                                          "channel_timeout": timeout}
        if key_file:
            # The agent stays allowed: its keys are tried as ssh does, after the file's.
            connect_kwargs.update(key_filename=[key_file], look_for_keys=False)
        config = fabric.Config(ssh_config=paramiko.SSHConfig(), lazy=True,
                               overrides={"load_ssh_configs": False})
        conn = fabric.Connection(end.address, user=end.user, port=end.port,
                                 config=config, connect_timeout=timeout,
                                 connect_kwargs=connect_kwargs, gateway=gateway)
        client = paramiko.SSHClient()
        hostkeys.load_known_hosts(client, known_hosts, end.where, **at)
        client.set_missing_host_key_policy(
            hostkeys.missing_key_policy(self.ssh.strict_host_key_checking))
        conn.client = client
        try:
            conn.open()
        except hostkeys.UnknownHost as exc:
            conn.close()
            raise hostkeys.unknown_host_error(end.where, exc.key, known_hosts, **at) from None
        except paramiko.BadHostKeyException as exc:
            conn.close()
            raise hostkeys.changed_key_error(end.where, exc.key, exc.expected_key, known_hosts,
                                             **at) from None
        except paramiko.AuthenticationException as exc:
            conn.close()
            raise AuthenticationFailed(
                f"{end.where}: authentication failed with "
                f"{key_file or 'the default keys/agent'}: {exc}", key_file=key_file,
                **at) from None
        except (TimeoutError, socket.timeout):
            conn.close()
            raise HostUnreachable(f"{end.where}: connection timed out after "
                                  f"{timeout:g}s{self._via(gateway)}", **at) from None
        except paramiko.ChannelException as exc:
            conn.close()
            raise HostUnreachable(f"{end.where}: the bastion could not connect to it: "
                                  f"{exc.text or exc}", **at) from None
        except OSError as exc:
            conn.close()
            # paramiko's NoValidConnectionsError wraps one error per address.
            inner = list(getattr(exc, "errors", {}).values())
            first = inner[0] if inner else exc
            reason = getattr(first, "strerror", None) or str(first) or type(first).__name__
            raise HostUnreachable(f"{end.where}: cannot connect: {reason}", **at) from None
        except (paramiko.SSHException, EOFError) as exc:
            conn.close()
            if "No authentication methods" in str(exc):
                raise AuthenticationFailed(
                    f"{end.where}: no key to log in with: no key file is set, no SSH agent "
                    "(SSH_AUTH_SOCK) offers one and there is no ~/.ssh/id_* key",
                    key_file=key_file, **at) from None
            raise HostUnreachable(f"{end.where}: SSH handshake failed: "
                                  f"{exc or type(exc).__name__}{self._via(gateway)}",
                                  **at) from None
        # Nagle + delayed ACK cost ~40 ms per command; paramiko never disables it.
        if gateway is None:
            conn.transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _via(self, gateway: Any) -> str:
        return f" (through bastion {gateway.host})" if gateway is not None else ""

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        hops, self._hops = self._hops, []
        for c in [conn, *reversed(hops)]:
            if c is not None:
                try:
                    c.close()
                except Exception:  # noqa: BLE001, S110 - closing a broken connection may fail
                    pass

    # -- running --

    def run(self, command: str, *, timeout: float | None = None,
            env: dict[str, str] | None = None, stdin: str | None = None) -> CommandResult:
        """See :meth:`Transport.run`."""
        become = self.host.become
        line = remote_command(command, timeout=timeout, env=env, has_stdin=stdin is not None,
                              kill_after=self.kill_after, become=become,
                              container=self.host.container)
        if become is not None and become.password is not None:
            stdin = become.password + "\n" + (stdin or "")
        with self._lock:
            conn = self._connect()
            started = time.time()
            # A host that has not answered by then is deemed hung (or gone):
            # the connection is dropped and the command reported timed out.
            deadline = (None if timeout is None
                        else time.monotonic() + timeout + self.kill_after + self.grace)
            try:
                outcome = self._exec(conn, line, stdin, deadline)
            except _NotStarted as exc:
                self._drop()
                raise HostUnreachable(f"{self.where}: the host stopped answering ({exc}); "
                                      "the command was not started", **self._at) from None
            except Exception as exc:  # noqa: BLE001 - every failure mode is classified below
                self._drop()
                raise ConnectionLost(f"{self.where}: connection lost while running a command "
                                     f"({type(exc).__name__}: {exc}); its outcome is "
                                     "unknown", **self._at) from None
            ended = time.time()
            stdout, stderr = _utf8(outcome.stdout), _utf8(outcome.stderr)
            if outcome.cut_off:
                return CommandResult(None, stdout, stderr, started, ended, timed_out=True)
            rc = outcome.rc
            if rc is None or rc < 0:
                # The channel closed without an exit status: sshd or the host died.
                self._drop()
                raise ConnectionLost(f"{self.where}: the connection closed before the command "
                                     "reported its exit status; its outcome is unknown",
                                     **self._at)
            return CommandResult(rc, stdout, stderr, started, ended,
                                 timed_out=timed_out(rc, timeout, ended - started))

    @property
    def _at(self) -> dict[str, Any]:
        """The host, as the attributes of a connection failure."""
        return {"host": self.name, "address": self.host.address, "port": self.host.port}

    def _exec(self, conn: Any, line: str, stdin: str | None,
              deadline: float | None) -> ChannelOutcome:
        """Run ``line`` on a new channel of ``conn``; past ``deadline``, drop the connection.

        Raises:
            _NotStarted: no channel could be opened (the command never ran).
        """
        data = stdin.encode("utf-8") if stdin is not None else None
        try:
            wait = float(conn.connect_timeout or 10)
            left = remaining(deadline)
            channel = conn.client.get_transport().open_session(
                timeout=wait if left is None else min(wait, left))
        except Exception as exc:  # noqa: BLE001 - any failure here means "not started"
            raise _NotStarted(str(exc) or type(exc).__name__) from None
        try:
            # No pty (separate stdout/stderr, no echo) and no SSH env requests
            # (the environment is part of the command line, see remote_command).
            session = ChannelSession(channel, data, deadline)
            outcome = session.finish() if session.start(line) else session.outcome(
                None, cut_off=True)
            if outcome.cut_off:
                # Closing the connection first: a channel close on a host that
                # does not answer could itself wait.
                self._drop()
            return outcome
        finally:
            try:
                channel.close()  # also closes the descriptors fileno() opened
            except Exception:  # noqa: BLE001, S110 - the connection may be gone already
                pass

    def read_text(self, path: str) -> str:
        """See :meth:`Transport.read_text`."""
        result = self.run(f"cat -- {shlex.quote(path)}", timeout=60)
        if not result.ok:
            reason = result.stderr.strip().splitlines()[-1:] or [f"exit status {result.rc}"]
            raise FileUnreadable(f"{self.where}: cannot read {path}: {reason[0]}",
                                 host=self.name, path=path)
        return result.stdout

    def close(self) -> None:
        with self._lock:
            self._drop()

    def __enter__(self) -> SshTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _utf8(data: bytes) -> str:
    # Decoded whole, once: a multi-byte character may straddle two reads.
    return data.decode("utf-8", "replace")


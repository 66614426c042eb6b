"""Running commands on control-plane hosts (SSH) and on the operator machine.

:class:`SshTransport` keeps one fabric ``Connection`` per host, opened on the
first command and reused (a warm command costs a few milliseconds, see
``docs/lab-nodes.md``); each command runs on a channel of its own, driven by
the calling thread (no thread per command). :class:`LocalTransport` runs
commands on the operator machine with the same interface and the same timeout
semantics.

Timeouts really stop the command. On a host, the command runs under coreutils
``timeout``, which signals the command's whole process group (SIGTERM, then
SIGKILL ``kill_after`` seconds later), so background children die too; a local
deadline additionally drops the connection if the command has not ended within
``timeout + kill_after + grace`` (host hung or network gone). Locally, the
command gets its own process group and is killed the same way.

Host keys are checked strictly by default: keys come from the inventory's
``ssh.known_hosts`` (or ``~/.ssh/known_hosts``); an unknown host or a changed
key is refused and nothing runs. The transport never logs commands or their
output (they may hold secrets); callers decide what to record.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from octavia_upgrade.errors import ConnectionFailure, InvalidInput, UpgradeError

if TYPE_CHECKING:
    from octavia_upgrade.model import Become, Host, Inventory, SshSettings

#: ``timeout`` exits 124 when it stopped the command with SIGTERM, and the
#: command's status is 128+9 when SIGKILL was needed.
TIMEOUT_EXIT_CODES = (124, 137)

DEFAULT_KILL_AFTER = 5.0
DEFAULT_GRACE = 5.0
DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# -- results and errors --------------------------------------------------------


@dataclass(frozen=True)
class CommandResult:
    """What one command did.

    Attributes:
        rc: exit status; None when the command was cut off without one (the
            local deadline dropped the connection).
        stdout, stderr: decoded as UTF-8 (undecodable bytes replaced).
        started, ended: wall-clock epoch seconds.
        timed_out: the command was stopped because it exceeded its timeout.
    """

    rc: int | None
    stdout: str
    stderr: str
    started: float
    ended: float
    timed_out: bool = False

    @property
    def duration(self) -> float:
        return self.ended - self.started

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out


class TransportError(UpgradeError):
    """A command could not be run on a host (the host's fault, not the command's)."""


class HostUnreachable(TransportError, ConnectionFailure):
    """Connecting failed: refused, timed out, no route, or no SSH server answered."""


class AuthenticationFailed(TransportError, ConnectionFailure):
    """The host refused our key (or the key file is missing)."""


class HostKeyMismatch(TransportError, ConnectionFailure):
    """The host's key differs from the one in known_hosts: nothing was run."""


class UnknownHostKey(TransportError, ConnectionFailure):
    """The host is not in known_hosts and strict checking is on: nothing was run."""


class ConnectionLost(TransportError, ConnectionFailure):
    """The connection broke while a command was running; its outcome is unknown."""


class FileUnreadable(TransportError):
    """:meth:`Transport.read_text` could not read the file (missing, not readable)."""


# -- the interface -------------------------------------------------------------


class Transport(Protocol):
    """Where commands run: a host over SSH, or the operator machine."""

    name: str

    def run(self, command: str, *, timeout: float | None = None,
            env: dict[str, str] | None = None, stdin: str | None = None) -> CommandResult:
        """Run a shell command; a non-zero exit is a result, not an exception.

        Args:
            command: shell command line (already quoted by the caller).
            timeout: seconds after which the command (and every process of
                its process group) is stopped; None = no limit.
            env: extra environment variables for the command. They appear in
                the host's process list, so pass secrets through ``stdin``.
            stdin: text fed to the command's standard input; without it the
                command reads from ``/dev/null``.

        Raises:
            TransportError: the command could not be started or its outcome
                is unknown (see the subclasses).
        """
        ...

    def read_text(self, path: str) -> str:
        """The text of a file on this transport's machine; :class:`FileUnreadable` if missing."""
        ...

    def close(self) -> None:
        """Release connections; the transport may still be used afterwards (it reconnects)."""
        ...


def _check_env(env: dict[str, str] | None) -> dict[str, str]:
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
                   kill_after: float = DEFAULT_KILL_AFTER, become: Become | None = None) -> str:
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
    """
    env = _check_env(env)
    script = "".join(f"export {k}={shlex.quote(v)}; " for k, v in env.items()) + command
    line = f"sh -c {shlex.quote(script)}"
    if timeout is not None:
        line = f"timeout -k {_seconds(kill_after)} {_seconds(timeout)} {line}"
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


def _timed_out(rc: int | None, timeout: float | None, duration: float) -> bool:
    # A command may exit 124 on its own: only count it when the time was up.
    return timeout is not None and rc in TIMEOUT_EXIT_CODES and duration >= timeout * 0.98


# -- SSH -----------------------------------------------------------------------


def _fingerprint(key: Any) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _known_hosts_name(address: str, port: int) -> str:
    return address if port == 22 else f"[{address}]:{port}"


def _known_hosts_line(path: Path, address: str, port: int) -> tuple[int, str] | None:
    """(line number, key fingerprint) of ``address:port``'s entry in ``path``."""
    import paramiko
    from paramiko.hostkeys import HostKeyEntry

    name = _known_hosts_name(address, port)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    for number, line in enumerate(lines, start=1):
        try:
            entry = HostKeyEntry.from_line(line, number)
        except Exception:  # noqa: BLE001 - unparsable lines are skipped, as ssh does
            continue
        if entry is None:
            continue
        for host in entry.hostnames:
            matches = (host == name or (host.startswith("|1|")
                       and paramiko.HostKeys.hash_host(name, host) == host))
            if matches:
                return number, _fingerprint(entry.key)
    return None


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


#: Bytes asked of a channel buffer per read: more than the channel's window,
#: so one read takes all that is buffered (a partial read shifts the rest).
_READ_SIZE = 1 << 22
#: Bytes of stdin per send: paramiko sends at most one packet (32 KiB) anyway.
_SEND_SIZE = 1 << 15
#: Seconds between tries to send more stdin while the host's window is full:
#: a window that opens again does not wake a poll on the channel.
_SEND_RETRY = 0.001


def _remaining(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (a ``time.monotonic()`` value); None = no limit."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class _Outcome:
    """What a channel gave back: raw output, and how it ended.

    ``rc`` is None when the channel closed without an exit status;
    ``cut_off`` when the deadline passed first. (A plain class: a dataclass
    would add ~0.4 ms to every import of this module.)
    """

    __slots__ = ("cut_off", "rc", "stderr", "stdout")

    def __init__(self, stdout: bytes, stderr: bytes, rc: int | None,
                 cut_off: bool = False) -> None:
        self.stdout = stdout
        self.stderr = stderr
        self.rc = rc
        self.cut_off = cut_off


class _Session:
    """One command on its own channel, driven entirely from the calling thread.

    paramiko's transport thread (one per connection) fills the channel's
    stdout and stderr buffers; this loop sends stdin, empties the buffers and
    checks the deadline, sleeping in ``poll`` on ``channel.fileno()`` (readable
    when output arrives, and for good on EOF or close). A thread per command,
    as invoke starts for each stream, costs more CPU than a warm command.
    """

    def __init__(self, channel: Any, stdin: bytes | None, deadline: float | None) -> None:
        import select

        self.channel = channel
        self.deadline = deadline
        self._stdin = stdin
        self._sent = 0
        self._stdout: list[bytes] = []
        self._stderr: list[bytes] = []
        # poll, not select: select() fails on descriptors above 1023, which
        # a run with hundreds of hosts reaches.
        self._poll = select.poll()
        self._poll.register(channel.fileno(), select.POLLIN)

    def start(self, line: str) -> bool:
        """Send ``exec line``; False if sshd did not answer before the deadline.

        Same request as ``Channel.exec_command``, which waits for the answer
        without a limit: a host that stops answering at that moment must not
        hold the command past its deadline.
        """
        from paramiko.common import cMSG_CHANNEL_REQUEST
        from paramiko.message import Message

        channel = self.channel
        request = Message()
        request.add_byte(cMSG_CHANNEL_REQUEST)
        request.add_int(channel.remote_chanid)
        request.add_string("exec")
        request.add_boolean(True)
        request.add_string(line)
        channel._event_pending()
        channel.transport._send_user_message(request)
        if not channel.event.wait(_remaining(self.deadline)):
            return False
        channel._wait_for_event()  # raises if sshd refused or the channel closed
        return True

    def finish(self) -> _Outcome:
        """Feed stdin and collect output until the command is over or the deadline passes."""
        while True:
            self._feed()
            # Checked before emptying the buffers: all output precedes the
            # EOF or close, so it is in the buffers when this says "over".
            over = self.channel.closed or (self.channel.eof_received
                                           and self.channel.exit_status_ready())
            self._drain()
            if over:
                status = self.channel.exit_status  # -1 until sshd sends one
                return self.outcome(None if status < 0 else status)
            left = _remaining(self.deadline)
            if left == 0.0:
                return self.outcome(None, cut_off=True)
            self._wait(left)

    def outcome(self, rc: int | None, *, cut_off: bool = False) -> _Outcome:
        return _Outcome(b"".join(self._stdout), b"".join(self._stderr), rc, cut_off)

    def _feed(self) -> None:
        """Send as much stdin as the host's window takes now, then EOF after the last byte."""
        data, channel = self._stdin, self.channel
        if data is None:
            return
        try:
            while self._sent < len(data) and channel.send_ready():
                sent = channel.send(data[self._sent:self._sent + _SEND_SIZE])
                if sent == 0:  # the channel is closing
                    break
                self._sent += sent
        except OSError:
            # The command is gone without reading all its input, as with a
            # local pipe whose reader exited: the rest is dropped.
            self._stdin = None
            return
        if self._sent >= len(data):
            self._end_stdin()

    def _end_stdin(self) -> None:
        self._stdin = None
        if not self.channel.closed:
            try:
                self.channel.shutdown_write()
            except OSError:
                pass

    def _drain(self) -> None:
        channel = self.channel
        while channel.recv_ready():
            self._stdout.append(channel.recv(_READ_SIZE))
        while channel.recv_stderr_ready():
            self._stderr.append(channel.recv_stderr(_READ_SIZE))

    def _wait(self, left: float | None) -> None:
        """Sleep until output, EOF or close, at most ``left`` seconds (None = no limit)."""
        import math

        if self._stdin:
            left = _SEND_RETRY if left is None else min(left, _SEND_RETRY)
        if self.channel.eof_received:
            # The descriptor stays readable after EOF; only the exit status
            # (or the close) is still to come.
            self.channel.status_event.wait(left)
            return
        self._poll.poll(None if left is None else math.ceil(left * 1000))


class _UnknownHost(Exception):
    def __init__(self, key: Any) -> None:
        super().__init__("unknown host key")
        self.key = key


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
        return f"{self.host.name} ({self.host.user}@{self.host.address}:{self.host.port})"

    @property
    def known_hosts_path(self) -> Path:
        path = self.host.known_hosts or self.ssh.known_hosts or DEFAULT_KNOWN_HOSTS
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
        key_file = os.path.expanduser(end.key_file) if end.key_file else None
        if key_file and not os.path.isfile(key_file):
            raise AuthenticationFailed(f"{end.where}: key file {key_file} does not exist")
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
        if known_hosts.is_file():
            try:
                client.load_system_host_keys(str(known_hosts))
            except Exception as exc:  # noqa: BLE001 - paramiko raises various types here
                raise UnknownHostKey(f"{end.where}: cannot read known_hosts file "
                                     f"{known_hosts}: {exc}") from None
        client.set_missing_host_key_policy(_policy(self.ssh.strict_host_key_checking))
        conn.client = client
        try:
            conn.open()
        except _UnknownHost as exc:
            conn.close()
            missing = "" if known_hosts.is_file() else " (the file does not exist)"
            raise UnknownHostKey(
                f"{end.where}: host key {exc.key.get_name()} {_fingerprint(exc.key)} is not in "
                f"{known_hosts}{missing}; strict host-key checking refuses unknown hosts. "
                f"Verify the key, then add it (e.g. ssh-keyscan -p {end.port} "
                f"{end.address} >> {known_hosts})") from None
        except paramiko.BadHostKeyException as exc:
            conn.close()
            entry = _known_hosts_line(known_hosts, end.address, end.port)
            expected = (f"{known_hosts}:{entry[0]} expects {entry[1]}" if entry
                        else f"{known_hosts} expects {_fingerprint(exc.expected_key)}")
            raise HostKeyMismatch(
                f"{end.where}: host key CHANGED: the host offers {exc.key.get_name()} "
                f"{_fingerprint(exc.key)} but {expected}; refusing to connect (possible "
                "man-in-the-middle, or the host was reinstalled: verify, then update "
                "known_hosts)") from None
        except paramiko.AuthenticationException as exc:
            conn.close()
            raise AuthenticationFailed(
                f"{end.where}: authentication failed with "
                f"{key_file or 'the default keys/agent'}: {exc}") from None
        except (TimeoutError, socket.timeout):
            conn.close()
            raise HostUnreachable(f"{end.where}: connection timed out after "
                                  f"{timeout:g}s{self._via(gateway)}") from None
        except paramiko.ChannelException as exc:
            conn.close()
            raise HostUnreachable(f"{end.where}: the bastion could not connect to it: "
                                  f"{exc.text or exc}") from None
        except OSError as exc:
            conn.close()
            # paramiko's NoValidConnectionsError wraps one error per address.
            inner = list(getattr(exc, "errors", {}).values())
            first = inner[0] if inner else exc
            reason = getattr(first, "strerror", None) or str(first) or type(first).__name__
            raise HostUnreachable(f"{end.where}: cannot connect: {reason}") from None
        except (paramiko.SSHException, EOFError) as exc:
            conn.close()
            if "No authentication methods" in str(exc):
                raise AuthenticationFailed(
                    f"{end.where}: no key to log in with: no key file is set, no SSH agent "
                    "(SSH_AUTH_SOCK) offers one and there is no ~/.ssh/id_* key") from None
            raise HostUnreachable(f"{end.where}: SSH handshake failed: "
                                  f"{exc or type(exc).__name__}{self._via(gateway)}") from None
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
                              kill_after=self.kill_after, become=become)
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
                                      "the command was not started") from None
            except Exception as exc:  # noqa: BLE001 - every failure mode is classified below
                self._drop()
                raise ConnectionLost(f"{self.where}: connection lost while running a command "
                                     f"({type(exc).__name__}: {exc}); its outcome is "
                                     "unknown") from None
            ended = time.time()
            stdout, stderr = _utf8(outcome.stdout), _utf8(outcome.stderr)
            if outcome.cut_off:
                return CommandResult(None, stdout, stderr, started, ended, timed_out=True)
            rc = outcome.rc
            if rc is None or rc < 0:
                # The channel closed without an exit status: sshd or the host died.
                self._drop()
                raise ConnectionLost(f"{self.where}: the connection closed before the command "
                                     "reported its exit status; its outcome is unknown")
            return CommandResult(rc, stdout, stderr, started, ended,
                                 timed_out=_timed_out(rc, timeout, ended - started))

    def _exec(self, conn: Any, line: str, stdin: str | None,
              deadline: float | None) -> _Outcome:
        """Run ``line`` on a new channel of ``conn``; past ``deadline``, drop the connection.

        Raises:
            _NotStarted: no channel could be opened (the command never ran).
        """
        data = stdin.encode("utf-8") if stdin is not None else None
        try:
            wait = float(conn.connect_timeout or 10)
            left = _remaining(deadline)
            channel = conn.client.get_transport().open_session(
                timeout=wait if left is None else min(wait, left))
        except Exception as exc:  # noqa: BLE001 - any failure here means "not started"
            raise _NotStarted(str(exc) or type(exc).__name__) from None
        try:
            # No pty (separate stdout/stderr, no echo) and no SSH env requests
            # (the environment is part of the command line, see remote_command).
            session = _Session(channel, data, deadline)
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
            raise FileUnreadable(f"{self.where}: cannot read {path}: {reason[0]}")
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


def _policy(strict: bool) -> Any:
    import paramiko

    class RefuseUnknown(paramiko.RejectPolicy):
        """Refuse unknown hosts (as RejectPolicy), telling which key was offered."""

        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            raise _UnknownHost(key)

    class AcceptUnknown(paramiko.MissingHostKeyPolicy):
        """Strict checking off: accept an unknown host for this connection only."""

        def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
            return None

    # Changed keys are refused by paramiko whatever the policy.
    return RefuseUnknown() if strict else AcceptUnknown()


# -- local ---------------------------------------------------------------------


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
        extra = _check_env(env)
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
            raise FileUnreadable(f"{self.name}: cannot read {path}: "
                                 f"{exc.strerror or exc}") from None

    def close(self) -> None:
        return None


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# -- pool ----------------------------------------------------------------------


class TransportPool:
    """One :class:`SshTransport` per inventory host, created on first use.

    Thread-safe; use as a context manager so every connection is closed::

        with TransportPool(inventory) as pool:
            pool.get("ctl1").run("true")
    """

    def __init__(self, inventory: Inventory, *, kill_after: float = DEFAULT_KILL_AFTER,
                 grace: float = DEFAULT_GRACE) -> None:
        self.inventory = inventory
        self.kill_after = kill_after
        self.grace = grace
        self._lock = threading.Lock()
        self._transports: dict[str, SshTransport] = {}
        self._opening: set[str] = set()  # hosts whose handshake the prefetch is doing
        self._closing = False

    def prefetch(self, host_names: list[str], workers: int = 16) -> None:
        """Open the connections to ``host_names`` in the background, several at once.

        A rolling run (``serial: 1``) would otherwise open each host's
        connection only when its turn comes, one handshake after the other
        (~75 ms each; seconds for fifty hosts); here they overlap with each
        other and with the first steps. A command waits for its host's
        connection in progress (the transport's lock). A failure here is not
        kept: the host's first command connects again and reports the error.

        The threads are daemons and :meth:`close_all` does not wait for them:
        a run that is refused or interrupted while a handshake to an
        unreachable host is in progress ends at once; the thread closes what
        it opened once the handshake ends.
        """
        from collections import deque

        pending = deque(dict.fromkeys(host_names))  # popleft() is atomic across threads
        if not pending:
            return

        def work() -> None:
            while pending:
                try:
                    name = pending.popleft()
                except IndexError:  # another thread took the last one
                    return
                with self._lock:
                    if self._closing:
                        return
                    self._opening.add(name)
                transport = None
                try:
                    transport = self.get(name)
                    transport.connection  # noqa: B018 - opens it
                except Exception:  # noqa: BLE001, S110 - reported by the first command instead
                    pass
                finally:
                    with self._lock:
                        self._opening.discard(name)
                        closing = self._closing
                    if closing and transport is not None:
                        transport.close()

        for i in range(min(workers, len(pending))):
            threading.Thread(target=work, name=f"ssh-prefetch-{i}", daemon=True).start()

    def get(self, host_name: str) -> SshTransport:
        """The transport of host ``host_name`` (KeyError if not in the inventory)."""
        with self._lock:
            transport = self._transports.get(host_name)
            if transport is None:
                host = self.inventory.host(host_name)
                transport = SshTransport(host, self.inventory.ssh, kill_after=self.kill_after,
                                         grace=self.grace)
                self._transports[host_name] = transport
            return transport

    def close_all(self) -> None:
        """Close every connection; a handshake still in progress is not waited for."""
        with self._lock:
            self._closing = True
            # A prefetch thread closes the host it is opening when it is done.
            transports = [t for name, t in self._transports.items() if name not in self._opening]
        for transport in transports:
            transport.close()

    def __enter__(self) -> TransportPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_all()

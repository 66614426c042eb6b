"""What every transport offers: the :class:`Transport` protocol and :class:`CommandResult`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
                is unknown (see the subclasses in :mod:`octavia_upgrade.errors`;
                :class:`~octavia_upgrade.errors.ConnectionFailure` for the
                connection's own failures).
        """
        ...

    def read_text(self, path: str) -> str:
        """The text of a file on this transport's machine; :class:`FileUnreadable` if missing."""
        ...

    def close(self) -> None:
        """Release connections; the transport may still be used afterwards (it reconnects)."""
        ...

"""One command on its own SSH channel, driven entirely from the calling thread.

:class:`ChannelSession` sends the ``exec`` request, feeds stdin, empties the
output buffers and checks the deadline in one loop: no thread per command
(``docs/performance.md``). paramiko is imported only when a session starts.
"""

from __future__ import annotations

import time
from typing import Any

#: Bytes asked of a channel buffer per read: more than the channel's window,
#: so one read takes all that is buffered (a partial read shifts the rest).
_READ_SIZE = 1 << 22
#: Bytes of stdin per send: paramiko sends at most one packet (32 KiB) anyway.
_SEND_SIZE = 1 << 15
#: Seconds between tries to send more stdin while the host's window is full:
#: a window that opens again does not wake a poll on the channel.
_SEND_RETRY = 0.001
#: Longest sleep in one poll, in seconds. paramiko signals "stdout or stderr
#: has data" through one pipe shared by both buffers, and its set and clear
#: are not atomic across them: stderr arriving while stdout is emptied can
#: leave the pipe clear with data buffered. Waking at least this often bounds
#: such a lost wake-up to this delay instead of the command's deadline.
_MAX_SLEEP = 0.05


def remaining(deadline: float | None) -> float | None:
    """Seconds left until ``deadline`` (a ``time.monotonic()`` value); None = no limit."""
    return None if deadline is None else max(0.0, deadline - time.monotonic())


class ChannelOutcome:
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


class ChannelSession:
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
        if not channel.event.wait(remaining(self.deadline)):
            return False
        channel._wait_for_event()  # raises if sshd refused or the channel closed
        return True

    def finish(self) -> ChannelOutcome:
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
            left = remaining(self.deadline)
            if left == 0.0:
                return self.outcome(None, cut_off=True)
            self._wait(left)

    def outcome(self, rc: int | None, *, cut_off: bool = False) -> ChannelOutcome:
        return ChannelOutcome(b"".join(self._stdout), b"".join(self._stderr), rc, cut_off)

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
        left = _MAX_SLEEP if left is None else min(left, _MAX_SLEEP)
        self._poll.poll(math.ceil(left * 1000))


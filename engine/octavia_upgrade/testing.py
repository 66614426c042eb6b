"""Test doubles shipped with the package, as fabric ships ``MockRemote``.

:class:`FakeTransport` stands in for a host: it answers commands from
scripted rules and remembers every call, so the executor and the session can
be tested without SSH. Nothing here is used by the tool itself.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Union

from octavia_upgrade.transport import CommandResult, FileUnreadable

#: What a rule answers: a result, an exception to raise, or a callable
#: ``(command) -> CommandResult`` (e.g. one that sleeps or counts).
Answer = Union[CommandResult, BaseException, Callable[[str], CommandResult]]


def result(rc: int | None = 0, stdout: str = "", stderr: str = "", *,
           timed_out: bool = False, duration: float = 0.0) -> CommandResult:
    """A :class:`CommandResult` ending now."""
    now = time.time()
    return CommandResult(rc, stdout, stderr, now - duration, now, timed_out)


@dataclass
class Call:
    command: str
    timeout: float | None
    env: dict[str, str] | None
    stdin: str | None


@dataclass
class FakeTransport:
    """A scripted host. Rules are tried newest first; unmatched commands succeed.

    >>> t = FakeTransport("ctl1").on(r"^systemctl is-active", result(3))
    >>> t.run("systemctl is-active --quiet octavia-api").rc
    3
    """

    name: str = "fake"
    files: dict[str, str] = field(default_factory=dict)
    default: Answer = field(default_factory=lambda: result(0))
    calls: list[Call] = field(default_factory=list)
    _rules: list[tuple[re.Pattern[str], list[Answer]]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, pattern: str, *answers: Answer) -> FakeTransport:
        """Answer commands matching ``pattern`` (``re.search``) with ``answers`` in turn.

        The last answer repeats once the others are used up.
        """
        if not answers:
            raise ValueError("on() needs at least one answer")
        self._rules.insert(0, (re.compile(pattern), list(answers)))
        return self

    @property
    def commands(self) -> list[str]:
        with self._lock:
            return [c.command for c in self.calls]

    def run(self, command: str, *, timeout: float | None = None,
            env: dict[str, str] | None = None, stdin: str | None = None) -> CommandResult:
        with self._lock:
            self.calls.append(Call(command, timeout, env, stdin))
            answer = self.default
            for pattern, answers in self._rules:
                if pattern.search(command):
                    answer = answers.pop(0) if len(answers) > 1 else answers[0]
                    break
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer(command)
        return answer

    def read_text(self, path: str) -> str:
        with self._lock:
            self.calls.append(Call(f"<read {path}>", None, None, None))
            if path not in self.files:
                raise FileUnreadable(f"{self.name}: cannot read {path}: no such file",
                                     host=self.name, path=path)
            return self.files[path]

    def close(self) -> None:
        pass


class FakePool:
    """Hands out one :class:`FakeTransport` per host name, made on first use."""

    def __init__(self, **hosts: FakeTransport) -> None:
        self.hosts: dict[str, FakeTransport] = dict(hosts)
        self._lock = threading.Lock()

    def get(self, name: str) -> FakeTransport:
        with self._lock:
            return self.hosts.setdefault(name, FakeTransport(name))

    def prefetch(self, host_names: list[str], workers: int = 16) -> None:
        pass

    def close_all(self) -> None:
        pass

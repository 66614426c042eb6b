"""Readable console output for runs: one line per step and per (step, host) result.

Plain text when not on a terminal (CI logs, pipes); colours through rich on a
terminal. Everything printed passes through the redactor first.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

from octavia_upgrade.wording import plural
from octavia_upgrade.statuses import DONE, ResultStatus

_STYLE = {ResultStatus.SUCCEEDED: "green", ResultStatus.SKIPPED: "dim",
          ResultStatus.FAILED: "bold red", ResultStatus.TIMED_OUT: "bold red",
          ResultStatus.UNREACHABLE: "bold red", ResultStatus.UNKNOWN: "yellow",
          ResultStatus.RUNNING: "cyan"}
_MARK = {ResultStatus.SUCCEEDED: "ok", ResultStatus.SKIPPED: "skip",
         ResultStatus.FAILED: "FAILED", ResultStatus.TIMED_OUT: "TIMEOUT",
         ResultStatus.UNREACHABLE: "UNREACHABLE", ResultStatus.UNKNOWN: "UNKNOWN"}


class Console:
    def __init__(self, *, verbose: int = 0, quiet: bool = False,
                 redact: Callable[[Any], Any] = lambda v: v, stream: TextIO | None = None) -> None:
        self.verbose = verbose
        self.quiet = quiet
        self.redact = redact
        self.stream = stream or sys.stdout
        self._rich = None
        if self.stream.isatty():
            from rich.console import Console as RichConsole

            self._rich = RichConsole(file=self.stream, highlight=False)

    def _out(self, text: str, style: str | None = None) -> None:
        text = self.redact(text)
        if self._rich is not None:
            self._rich.print(text, style=style, markup=False)
        else:
            print(text, file=self.stream, flush=True)

    def output(self, text: str) -> None:
        """A result the command was asked for (a plan, a report): never hidden by -q."""
        self._out(text)

    def info(self, text: str) -> None:
        if not self.quiet:
            self._out(text)

    def detail(self, text: str) -> None:
        if self.verbose and not self.quiet:
            self._out(text, "dim")

    def warn(self, text: str) -> None:
        self._out(f"warning: {text}", "yellow")

    def error(self, text: str) -> None:
        self._out(text, "bold red")

    def step(self, index: int, total: int, step_id: str, name: str, kind: str,
             hosts: tuple[str, ...]) -> None:
        if not self.quiet:
            where = ", ".join(hosts) if len(hosts) <= 4 else plural(len(hosts), "host")
            self._out(f"[{index}/{total}] {name} ({step_id}, {kind}) on {where}", "bold")

    def result(self, host: str, status: str, duration: float, attempt: int, message: str,
               output: str = "") -> None:
        if self.quiet and status in DONE:
            return
        extra = f" attempt {attempt}" if attempt > 1 else ""
        line = f"    {host:<12} {_MARK.get(status, status):<8} {duration:6.1f}s{extra}"
        if message:
            line += f"  {message}"
        self._out(line, _STYLE.get(status))
        if output and (self.verbose or status not in DONE):
            tail = output.strip().splitlines()[-(20 if self.verbose < 2 else 200):]
            for ln in tail:
                self._out(f"      | {ln}", "dim")

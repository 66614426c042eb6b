"""Commands of a stopped run that may still be running on its hosts.

When the engine dies (SIGKILL, a crash, the operator machine lost), the
commands it had sent run on to their end on the hosts: nothing there stops
them. A ``resume`` that ran the same step again meanwhile would run it twice
at once — two ``octavia-db-manage upgrade head`` side by side, a venv
switched while pip still writes it.

So every command a step sends carries
``OCTAVIA_UPGRADE_ATTEMPT=RUN:HOST:STEP:N`` in its environment, which every
process it starts inherits. Before it runs anything, ``resume`` looks for
that variable in ``/proc/*/environ`` on each host with an attempt of unknown
outcome, and refuses (exit 3) while one of the stopped run's processes is
still there, naming the step, the PID and the command. The check runs as the
steps ran (the same login and sudo), so it can read their processes.
The host is part of the value: hosts that share one process table (the
lab's nodes) each find their own.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

#: The environment variable every step command carries.
ENV = "OCTAVIA_UPGRADE_ATTEMPT"


def marker(run_id: str, host: str, step_id: str, attempt: int) -> str:
    """The variable's value for one attempt: ``RUN:HOST:STEP:N`` (the host as the
    inventory names it: hosts that share a process table, as the lab's nodes
    do, each find their own)."""
    return f"{run_id}:{host}:{step_id}:{attempt}"


@dataclass(frozen=True)
class Running:
    """A process of a run found on a host: its PID, host, step, attempt and command line."""

    pid: int
    host: str
    step: str
    attempt: int
    command: str


def search_command(run_id: str, host: str | None = None) -> str:
    """A shell command that prints ``PID<TAB>RUN:HOST:STEP:N<TAB>CMDLINE`` for
    each process whose environment holds the marker of ``run_id`` (on ``host``;
    None: any host), with one grep over every process, then two reads per
    process found."""
    where = "" if host is None else f"{_bre(host)}:"
    pattern = shlex.quote(f"{ENV}={_bre(run_id)}:{where}.*")
    return (
        "cd /proc 2>/dev/null || exit 0; "
        f"for f in $(grep -lsz -x -e {pattern} [0-9]*/environ); do "
        'p=${f%/environ}; '
        f"m=$(grep -asz -x -e {pattern} \"$f\" | tr -d '\\000'); "
        "c=$(tr '\\000' ' ' < \"$p/cmdline\" 2>/dev/null | cut -c1-300); "
        f"printf '%s\\t%s\\t%s\\n' \"$p\" \"${{m#{ENV}=}}\" \"$c\"; "
        "done; exit 0")


def _bre(text: str) -> str:
    """``text`` matched literally in a grep basic regular expression."""
    return re.sub(r"([.\[\]*^$\\])", r"\\\1", text)


def parse(output: str, run_id: str, host: str | None = None) -> list[Running]:
    """The processes :func:`search_command` printed, of ``host`` when given
    (lines that do not parse are skipped)."""
    found = []
    for line in output.splitlines():
        parts = line.split("\t", 2)
        if len(parts) < 2 or not parts[0].isdigit() or not parts[1].startswith(f"{run_id}:"):
            continue
        # RUN:HOST:STEP:N: step ids have no colon, a host name may (an IPv6 address)
        fields = parts[1][len(run_id) + 1:].rsplit(":", 2)
        if len(fields) != 3 or not fields[1] or not fields[2].isdigit():
            continue
        if host is not None and fields[0] != host:
            continue
        found.append(Running(int(parts[0]), fields[0], fields[1], int(fields[2]),
                             parts[2].strip() if len(parts) > 2 else ""))
    return found


def still_running(runner: Any, run_id: str, host: str, timeout: float = 30) -> list[Running]:
    """The processes of ``run_id`` still running on ``host`` (``runner`` reaches it).

    Raises:
        TransportError: the host could not be asked, or the search did not end well
            (then nothing says that none is running).
    """
    from octavia_upgrade.errors import TransportError

    res = runner.run(search_command(run_id, host), timeout=timeout)
    if res.rc != 0 or res.timed_out:
        why = "timed out" if res.timed_out or res.rc is None else f"exited {res.rc}"
        raise TransportError(f"the search for its processes {why}: "
                             f"{res.stderr.strip()[-200:]}", host=host)
    return parse(res.stdout, run_id, host)


def describe(host: str, processes: list[Running]) -> str:
    """One phrase per (step, attempt): the step, the PIDs and the innermost command."""
    out = []
    for step, attempt in dict.fromkeys((p.step, p.attempt) for p in processes):
        mine = sorted((p for p in processes if (p.step, p.attempt) == (step, attempt)),
                      key=lambda p: p.pid)
        pids = ", ".join(str(p.pid) for p in mine)
        # the last started is the command itself; the first ones wrap it (timeout, sh, sudo)
        out.append(f"step {step} (attempt {attempt}) on {host}: PID {pids}, "
                   f"`{mine[-1].command[:120]}`")
    return "; ".join(out)

"""What an operator does about a stopped run's commands still running on the
hosts (``inflight.py``): wait for them, or stop them by the PIDs ``resume``
names. The lab's and the simulated nodes' processes are this machine's, so
/proc here sees them all."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time

from octavia_upgrade.inflight import Running, parse, search_command


def commands_of(run_id: str) -> list[Running]:
    """The run's processes still running on any node of this machine."""
    out = subprocess.run(["sh", "-c", search_command(run_id)], capture_output=True,
                         text=True, check=False).stdout
    return parse(out, run_id)


def wait_for_commands_of(run_id: str, limit: float = 300.0) -> None:
    """Wait until none of the run's processes is left (at most ``limit`` seconds)."""
    t0 = time.monotonic()
    while commands_of(run_id) and time.monotonic() - t0 < limit:
        time.sleep(0.2)


def stop_named(refusal: str) -> list[int]:
    """SIGKILL every PID a ``resume`` refusal names; the PIDs."""
    pids = [int(p) for group in re.findall(r"PID ([\d, ]+)", refusal)
            for p in re.findall(r"\d+", group)]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids

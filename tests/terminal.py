"""Run the CLI with a terminal on stdin, as an operator at a keyboard would.

Rollback gates (and approvals with ``requires_human``) are answered only by a
person: ``--yes`` never gives them. Tests that need such an answer run the CLI
with a pseudo-terminal as stdin and type each answer when the prompt asks for
it (the run discards anything typed before its prompt, as an operator's stray
keystrokes must not approve anything).
"""

from __future__ import annotations

import os
import pty
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

#: What the run prints when it waits for an answer at its terminal.
PROMPT = b"Type 'yes'"


def run_at_terminal(args: Sequence[str], env: Mapping[str, str], typed: str = "yes\n",
                    timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``octavia-upgrade ARGS`` with a pty as stdin; each line of ``typed`` is typed at
    the next prompt. stdout/stderr captured."""
    answers = [line + "\n" for line in typed.splitlines()]
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "octavia_upgrade", *args], stdin=slave,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(env))
    err: list[bytes] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()
    out = b""
    seen = 0
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        while True:
            if time.monotonic() > deadline:
                proc.kill()
                raise subprocess.TimeoutExpired(proc.args, timeout, out)
            if not sel.select(timeout=0.2):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            out += chunk
            while out.count(PROMPT) > seen:
                seen += 1
                if answers:
                    os.write(master, answers.pop(0).encode())
        proc.wait(timeout=max(1.0, deadline - time.monotonic()))
        reader.join(timeout=10)
    finally:
        sel.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(slave)
        os.close(master)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(errors="replace"),
                                       b"".join(err).decode(errors="replace"))

"""Run the CLI with a terminal on stdin, as an operator at a keyboard would.

Rollback gates (and approvals with ``requires_human``) are answered only at a
terminal: ``--yes`` never gives them. Tests that need such an answer run the
CLI with a pseudo-terminal as stdin and type the answer into it beforehand;
the prompt reads it as one line.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Mapping, Sequence


def run_at_terminal(args: Sequence[str], env: Mapping[str, str], typed: str = "yes\n",
                    timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """``octavia-upgrade ARGS`` with a pty as stdin holding ``typed``; stdout/stderr captured."""
    master, slave = pty.openpty()
    try:
        os.write(master, typed.encode())
        return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], stdin=slave,
                              capture_output=True, text=True, timeout=timeout, env=dict(env))
    finally:
        os.close(slave)
        os.close(master)

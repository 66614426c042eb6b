"""Who an operator is, as approvals, pauses and runs record it.

``[approvals] identity`` from the configuration, or ``login@hostname``; the
host a decision comes from (its origin) is always this machine's name.
"""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Identity:
    """``name``: what is recorded and compared (four-eyes); ``origin``: this host."""

    name: str
    origin: str

    def __str__(self) -> str:
        return self.name


def login() -> str:
    """The login name (the uid when there is no passwd entry)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def current(settings: Any = None) -> Identity:
    """This process's identity: the configured name, or ``login@hostname``."""
    host = socket.gethostname()
    configured = getattr(settings, "approvals_identity", None)
    return Identity(configured or f"{login()}@{host}", host)

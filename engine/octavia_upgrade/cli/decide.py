"""What ``approve``, ``reject``, ``pause`` and ``continue`` share: store, identity, refusals."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

#: The exit codes of these commands, as their --help states them.
EXIT_CODES = """\
exit codes: 0 recorded; 2 unknown run (or bad arguments); 3 refused, nothing
recorded (the step is not waiting, you may not decide on it: you started the
run and it needs four eyes, or you already decided; the run is not running
or paused)."""


def with_store(args: argparse.Namespace, act: Callable[[Any, Any], str]) -> int:
    """Open the state store, call ``act(store, identity)``, print its line."""
    from octavia_upgrade.cli.common import open_store, raise_no_state
    from octavia_upgrade.cli.output import emit
    from octavia_upgrade.identity import current

    settings, store = open_store(args, create=False)
    if store is None:
        raise_no_state(settings, args.run_id)
    try:
        line = act(store, current(settings))
    finally:
        store.close()
    emit(line)
    return 0

"""The deployment lock's heartbeat while a run executes."""

from __future__ import annotations

import threading
from typing import Any

from octavia_upgrade.console import Console
from octavia_upgrade.errors import Refused, UpgradeError


class LockHeartbeat:
    """Refreshes the deployment lock while a run executes.

    Another machine judges a lock stale by its heartbeat; if the lock was
    broken meanwhile (``unlock``), the run stops as if interrupted rather than
    carry on without it.
    """

    def __init__(self, store: Any, deployment: str, run_id: str, cancel: threading.Event,
                 console: Console, every: float = 30.0) -> None:
        self.store, self.deployment, self.run_id = store, deployment, run_id
        self.cancel, self.console, self.every = cancel, console, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lock-heartbeat", daemon=True)

    def start(self) -> LockHeartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.store.heartbeat(self.deployment, self.run_id)
            except Refused as exc:
                self.console.error(f"{exc}: stopping the run")
                self.cancel.set()
                return
            except UpgradeError as exc:  # a transient DB error: try again next time
                self.console.warn(f"lock heartbeat failed: {exc}")

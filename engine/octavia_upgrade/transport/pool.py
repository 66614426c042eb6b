"""One :class:`SshTransport` per inventory host, opened on first use or prefetched
(a :class:`LocalTransport` for a host run locally, ``ansible_connection=local``)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from octavia_upgrade.transport.command import DEFAULT_KILL_AFTER
from octavia_upgrade.transport.local import LocalTransport
from octavia_upgrade.transport.ssh import DEFAULT_GRACE, SshTransport

if TYPE_CHECKING:
    from octavia_upgrade.model import Inventory


class TransportPool:
    """One :class:`SshTransport` per inventory host, created on first use.

    Thread-safe; use as a context manager so every connection is closed::

        with TransportPool(inventory) as pool:
            pool.get("ctl1").run("true")
    """

    def __init__(self, inventory: Inventory, *, kill_after: float = DEFAULT_KILL_AFTER,
                 grace: float = DEFAULT_GRACE) -> None:
        self.inventory = inventory
        self.kill_after = kill_after
        self.grace = grace
        self._lock = threading.Lock()
        self._transports: dict[str, SshTransport | LocalTransport] = {}
        self._opening: set[str] = set()  # hosts whose handshake the prefetch is doing
        self._closing = False

    def prefetch(self, host_names: list[str], workers: int = 16) -> None:
        """Open the connections to ``host_names`` in the background, several at once.

        A rolling run (``serial: 1``) would otherwise open each host's
        connection only when its turn comes, one handshake after the other
        (~75 ms each; seconds for fifty hosts); here they overlap with each
        other and with the first steps. A command waits for its host's
        connection in progress (the transport's lock). A failure here is not
        kept: the host's first command connects again and reports the error.

        The threads are daemons and :meth:`close_all` does not wait for them:
        a run that is refused or interrupted while a handshake to an
        unreachable host is in progress ends at once; the thread closes what
        it opened once the handshake ends.
        """
        from collections import deque

        pending = deque(dict.fromkeys(host_names))  # popleft() is atomic across threads
        if not pending:
            return

        def work() -> None:
            while pending:
                try:
                    name = pending.popleft()
                except IndexError:  # another thread took the last one
                    return
                with self._lock:
                    if self._closing:
                        return
                    self._opening.add(name)
                transport = None
                try:
                    transport = self.get(name)
                    if isinstance(transport, SshTransport):
                        transport.connection  # noqa: B018 - opens it
                except Exception:  # noqa: BLE001, S110 - reported by the first command instead
                    pass
                finally:
                    with self._lock:
                        self._opening.discard(name)
                        closing = self._closing
                    if closing and transport is not None:
                        transport.close()

        for i in range(min(workers, len(pending))):
            threading.Thread(target=work, name=f"ssh-prefetch-{i}", daemon=True).start()

    def get(self, host_name: str) -> SshTransport | LocalTransport:
        """The transport of host ``host_name`` (KeyError if not in the inventory)."""
        with self._lock:
            transport = self._transports.get(host_name)
            if transport is None:
                host = self.inventory.host(host_name)
                if host.connection == "local":
                    transport = LocalTransport(name=host.name, kill_after=self.kill_after,
                                               become=host.become)
                else:
                    transport = SshTransport(host, self.inventory.ssh,
                                             kill_after=self.kill_after, grace=self.grace)
                self._transports[host_name] = transport
            return transport

    def close_all(self) -> None:
        """Close every connection; a handshake still in progress is not waited for."""
        with self._lock:
            self._closing = True
            # A prefetch thread closes the host it is opening when it is done.
            transports = [t for name, t in self._transports.items() if name not in self._opening]
        for transport in transports:
            transport.close()

    def __enter__(self) -> TransportPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close_all()

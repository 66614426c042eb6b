"""A TCP relay that adds a fixed delay in each direction: the lab's "slow node".

The kernel here has no ``netem`` queueing discipline, so latency cannot be
added with ``tc``. Instead the lab redirects new TCP connections to a node's
SSH port to this relay with an nftables DNAT rule (in a table the lab owns),
and the relay forwards every chunk to the real sshd after ``delay`` seconds,
and every answer back after the same delay: each round trip on the node's SSH
connections costs ``2 × delay`` more, while the order and content of the bytes
are unchanged. The relay marks its own upstream connection (``SO_MARK``) so
the DNAT rule lets it through to the real sshd.

Run as ``python -m octavia_upgrade.lab.delayproxy LISTEN_ADDR LISTEN_PORT
UPSTREAM_ADDR UPSTREAM_PORT DELAY_SECONDS MARK``.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import sys

#: The packet mark of the relay's upstream connections (``"LA"``).
MARK = 0x4C41

_SO_MARK = getattr(socket, "SO_MARK", 36)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                delay: float) -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def send() -> None:
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                writer.write_eof() if writer.can_write_eof() else writer.close()
                return
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(send())
    try:
        while True:
            data = await reader.read(65536)
            # Each chunk leaves `delay` after it arrived: latency, not throughput loss.
            await queue.put((loop.time() + delay, data))
            if not data:
                break
        await sender
    except (ConnectionError, asyncio.CancelledError):
        sender.cancel()
    finally:
        if not writer.is_closing():
            writer.close()


async def _handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter,
                  upstream: tuple[str, int], delay: float, mark: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_MARK, mark)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, upstream)
        up_r, up_w = await asyncio.open_connection(sock=sock)
    except OSError:
        sock.close()
        client_w.close()
        return
    await asyncio.gather(_pipe(client_r, up_w, delay), _pipe(up_r, client_w, delay),
                         return_exceptions=True)


async def serve(listen: tuple[str, int], upstream: tuple[str, int], delay: float,
                mark: int = MARK) -> None:
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, upstream, delay, mark), listen[0], listen[1])
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: list[str]) -> int:
    if len(argv) != 6:
        print(__doc__, file=sys.stderr)
        return 2
    la, lp, ua, up, delay, mark = argv
    asyncio.run(serve((la, int(lp)), (ua, int(up)), float(delay), int(mark, 0)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

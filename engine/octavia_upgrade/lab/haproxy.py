"""The lab's data path: a real haproxy on a VIP address with two HTTP members.

It stands for what an amphora does for a load balancer — traffic to the VIP,
round robin to the members, ``option httpchk`` health checks — and it lives
outside the control plane on purpose: a cold upgrade of Octavia must not
interrupt it, and the engine's VIP probes measure exactly that. The members
are ``python3 -m http.server`` processes on their own loopback addresses,
each serving a page that names it.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from octavia_upgrade.lab.procs import Proc, free_port, wait_tcp

HAPROXY = "/usr/sbin/haproxy"


@dataclass(frozen=True)
class DataPath:
    vip: str
    port: int
    members: tuple[tuple[str, int], ...]
    procs: tuple[Proc, ...]
    #: Further VIPs (TCP load balancers) served on the same port, in TCP mode.
    tcp_vips: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://{self.vip}:{self.port}/"

    def as_dict(self) -> dict[str, object]:
        return {"vip": self.vip, "port": self.port,
                "members": [list(m) for m in self.members],
                "procs": [p.as_dict() for p in self.procs], "tcp_vips": list(self.tcp_vips)}

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> DataPath:
        return cls(str(raw["vip"]), int(raw["port"]),  # type: ignore[arg-type]
                   tuple((str(a), int(p)) for a, p in raw["members"]),  # type: ignore[union-attr]
                   tuple(Proc.from_dict(p) for p in raw["procs"]),  # type: ignore[union-attr]
                   tuple(raw.get("tcp_vips") or ()))  # type: ignore[arg-type]

    def stop(self) -> None:
        for p in self.procs:
            p.stop(5.0)


def config(vip: str, port: int, members: list[tuple[str, int]],
           tcp_vips: tuple[str, ...] = ()) -> str:
    """haproxy.cfg for the VIP, plus a TCP frontend on each of ``tcp_vips`` (pure)."""
    servers = "\n".join(f"    server member{i} {a}:{p} check inter 1s fall 2 rise 2"
                        for i, (a, p) in enumerate(members, 1))
    text = f"""\
# Written by `octavia-upgrade lab up`: the load balancers' data path.
global
    maxconn 256

defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s

frontend vip
    bind {vip}:{port}
    default_backend members

backend members
    balance roundrobin
    option httpchk GET /
{servers}
"""
    if not tcp_vips:
        return text
    for i, v in enumerate(tcp_vips, 1):
        text += f"\nfrontend tcp{i}\n    mode tcp\n    bind {v}:{port}\n" \
                "    default_backend members_tcp\n"
    return text + f"\nbackend members_tcp\n    mode tcp\n    balance roundrobin\n{servers}\n"


def reachable(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - lab VIP
            return resp.status == 200
    except OSError:
        return False


def start(base_dir: str | Path, vip: str, member_addresses: list[str],
          timeout: float = 20.0, tcp_vips: tuple[str, ...] = ()) -> DataPath:
    """Start the members and haproxy; wait until the VIP serves a page.

    Raises:
        RuntimeError: the VIP did not answer within ``timeout`` (all started
            processes are stopped again).
    """
    base = Path(base_dir)
    base.mkdir(parents=True, exist_ok=True)
    procs: list[Proc] = []
    members: list[tuple[str, int]] = []
    try:
        for i, addr in enumerate(member_addresses, 1):
            root = base / f"member{i}"
            root.mkdir(exist_ok=True)
            (root / "index.html").write_text(f"lab member{i} {addr}\n")
            port = free_port(addr)
            with open(base / f"member{i}.log", "ab") as log:
                p = subprocess.Popen(
                    [sys.executable, "-m", "http.server", str(port), "--bind", addr,
                     "--directory", str(root)], cwd=root,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            procs.append(Proc.of(f"member{i}", p.pid))
            members.append((addr, port))
        port = free_port(vip)
        cfg = base / "haproxy.cfg"
        cfg.write_text(config(vip, port, members, tcp_vips))
        check = subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"{cfg}: haproxy rejects it: {check.stdout}{check.stderr}")
        with open(base / "haproxy.log", "ab") as log:
            p = subprocess.Popen([HAPROXY, "-f", str(cfg), "-db"], stdin=subprocess.DEVNULL,
                                 stdout=log, stderr=log, start_new_session=True, cwd=base)
        procs.append(Proc.of("haproxy", p.pid))
        dp = DataPath(vip, port, tuple(members), tuple(procs), tuple(tcp_vips))
        for addr, mport in members:
            wait_tcp(addr, mport, timeout)
        deadline = time.monotonic() + timeout
        while not reachable(dp.url):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the VIP {dp.url} did not answer within {timeout:.0f}s; "
                                   f"see {base}/haproxy.log")
            time.sleep(0.3)
        return dp
    except BaseException:
        for p in procs:
            p.stop(5.0)
        raise

"""``octavia-upgrade serve``: the live page of the runs (read-only, localhost by default)."""

from __future__ import annotations

import argparse

HELP = "serve a read-only live page of the runs (localhost unless --bind says otherwise)"
DESCRIPTION = """\
Serve a web page that shows the runs recorded in the state database and, for
the selected (by default the running) run, its live timeline, current step,
waiting approvals and who may give them, decisions, events, the
control-plane API's state and the VIP availability; it updates itself every
second without reloading. Read-only: approvals stay in the CLI (`approve`,
`reject`), where the identity is the operator's. No parameters, commands or
outputs are shown, so no secrets.

Binds to 127.0.0.1 unless --bind says otherwise (the page has no login: bind
elsewhere only behind an authenticating proxy). JSON: /api/runs,
/api/runs/RUN; Prometheus text: /metrics.

exit codes: 0 stopped with Ctrl-C; 2 the address cannot be bound.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bind", metavar="ADDRESS", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8321, metavar="PORT",
                   help="port to listen on (default: 8321; 0: any free port, printed)")


def run(args: argparse.Namespace) -> int:
    from octavia_upgrade.cli.common import open_store
    from octavia_upgrade.errors import InvalidInput
    from octavia_upgrade.liveview.server import make_server
    from octavia_upgrade.logs import Redactor

    settings, store = open_store(args)
    redactor = Redactor(settings.secret_values())
    try:
        server = make_server(store, args.bind, args.port, redactor.redact)
    except OSError as exc:
        store.close()
        raise InvalidInput(f"cannot listen on {args.bind}:{args.port}: "
                           f"{exc.strerror or exc}") from None
    host, port = server.server_address[:2]
    print(f"serving the live page on http://{host}:{port}/ (read-only; Ctrl-C stops)",
          flush=True)
    if args.bind not in ("127.0.0.1", "::1", "localhost"):
        print("warning: the page has no login; anyone who reaches this address sees the runs",
              flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        store.close()
    return 0

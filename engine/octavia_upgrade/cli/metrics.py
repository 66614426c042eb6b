"""``octavia-upgrade metrics [RUN]``: the runs' Prometheus metrics, as text."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.output import add_output

HELP = "print Prometheus metrics of the runs (text format, as the textfile a run keeps)"
DESCRIPTION = """\
Print the Prometheus text exposition of the newest run of each deployment
and of every running run (or of RUN only), from the state database: run
status, start and duration, each step's duration and attempts per host,
control-plane outage seconds, VIP availability per probe, amphora failovers,
approvals waiting. During a run the same text is kept current in the file
[metrics] textfile (default STATE_DIR/octavia_upgrade.prom), written
atomically, for node_exporter's textfile collector.

  octavia-upgrade metrics -o /var/lib/prometheus/node-exporter/octavia_upgrade.prom

exit codes: 0 printed; 2 unknown run or unwritable -o FILE.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", metavar="RUN", nargs="?", help="only this run")
    add_output(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from octavia_upgrade.cli.common import open_store, raise_no_state
    from octavia_upgrade.cli.output import emit
    from octavia_upgrade.logs import Redactor
    from octavia_upgrade.metrics import render, write_atomically

    settings, store = open_store(args, create=False)
    if store is None:
        if args.run_id:
            raise_no_state(settings, args.run_id)
        text = ""
    else:
        try:
            text = render(store, args.run_id)
        finally:
            store.close()
    text = Redactor(settings.secret_values()).redact_text(text)
    if args.output:
        from octavia_upgrade.errors import InvalidInput

        target = Path(args.output)
        if target.is_dir():
            raise InvalidInput(f"-o {args.output}: is a directory; give a file name")
        try:
            write_atomically(target, text)
        except OSError as exc:
            raise InvalidInput(f"-o {args.output}: cannot write: {exc.strerror or exc}") \
                from None
        return 0
    if text:
        emit(text)
    return 0

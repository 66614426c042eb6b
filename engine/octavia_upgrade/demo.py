"""The demo behind ``make demo``: lint every shipped runbook, print the catalog."""

from __future__ import annotations

import time

from octavia_upgrade.cli import main


def run() -> int:
    t0 = time.monotonic()
    from octavia_upgrade.resources import runbooks_dir

    print("==> octavia-upgrade releases")
    rc = main(["releases"])
    if rc:
        return rc
    print(f"\n==> octavia-upgrade lint {runbooks_dir()}")
    rc = main(["lint", str(runbooks_dir())])
    print(f"\ndemo finished in {time.monotonic() - t0:.1f} s (exit {rc})")
    return rc


if __name__ == "__main__":
    raise SystemExit(run())

"""A second process on the same state database, driven line by line over stdin.

Tests start it with ``python peer.py URL STATE_DIR`` (URL ``-`` for SQLite in
STATE_DIR); it opens its own Store (its own connections), prints ``ready``,
then answers one JSON line per command:

* ``dump RUN_ID``: everything recorded for the run;
* ``acquire DEPLOYMENT RUN_ID``: try to take the lock → ``{"won": ...}``;
* ``approve RUN_ID STEP IDENTITY``: record an approval → ``{"won": ...}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> int:
    from octavia_upgrade.errors import UpgradeError
    from octavia_upgrade.state import open_store

    url, state_dir = sys.argv[1], Path(sys.argv[2])
    store = open_store(None if url == "-" else url, state_dir)
    print("ready", flush=True)
    for line in sys.stdin:
        cmd, *args = line.split()
        try:
            if cmd == "dump":
                (run_id,) = args
                out = {
                    "run": store.get_run(run_id).as_dict(),
                    "results": [r.as_dict() for r in store.results(run_id)],
                    "approvals": [a.as_dict() for a in store.approvals(run_id)],
                    "evidence": [e.as_dict() for e in store.evidence(run_id)],
                    "probes": [p.as_dict() for p in store.probe_samples(run_id)],
                    "events": [e.as_dict() for e in store.events(run_id)],
                }
            elif cmd == "acquire":
                deployment, run_id = args
                held = store.acquire_lock(deployment, run_id)
                out = {"won": True, "lock": held.as_dict()}
            elif cmd == "approve":
                run_id, step, identity = args
                store.decide(run_id, step, decision="approved", identity=identity,
                             origin="peer")
                out = {"won": True}
            else:
                out = {"error": f"unknown command {cmd}"}
        except UpgradeError as exc:
            out = {"won": False, "error": str(exc), "type": type(exc).__name__}
        print(json.dumps(out), flush=True)
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

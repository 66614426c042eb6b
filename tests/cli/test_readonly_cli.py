"""Read-only commands create no state: nothing is written before a run is started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

INVENTORY = """\
apiVersion: octavia-upgrade/v1
kind: Inventory
deployment: review
flavor: venv
hosts:
  ctl1: {address: 192.0.2.11, roles: [api, worker, housekeeping, health-manager, db-migrate]}
"""


@pytest.mark.parametrize(("argv", "code"), [
    (["plan", "dalmatian-to-epoxy", "-i", "{inv}", "--no-detect"], 0),
    (["plan", "dalmatian-to-epoxy", "-i", "{inv}", "--no-detect", "-f", "json"], 0),
    (["runs"], 0),
    (["runs", "-f", "json"], 0),
    (["show", "20261205-120000-abcd"], 2),
    (["report", "20261205-120000-abcd", "-f", "json"], 2),
    (["approvals"], 0),
    (["approvals", "20261205-120000-abcd"], 2),
    (["approve", "20261205-120000-abcd", "approve-control-plane-outage"], 2),
    (["reject", "20261205-120000-abcd", "approve-control-plane-outage", "--reason", "no"], 2),
    (["pause", "20261205-120000-abcd"], 2),
    (["continue", "20261205-120000-abcd"], 2),
    (["metrics"], 0),
])
def test_read_only_commands_create_no_state(tmp_path: Path, argv: list[str], code: int) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text(INVENTORY, encoding="utf-8")
    state = tmp_path / "state"
    res = subprocess.run([sys.executable, "-m", "octavia_upgrade",
                          *(a.replace("{inv}", str(inv)) for a in argv)],
                         capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                         env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state)})
    assert res.returncode == code, res.stderr
    assert not state.exists()
    if code == 2:
        assert "nothing has been recorded yet" in res.stderr and "Traceback" not in res.stderr
    if argv[:2] == ["runs", "-f"]:
        assert res.stdout.strip() == "[]"

"""A ``lab up`` that fails part way stops everything it had started (``lab.core``).

MariaDB and RabbitMQ start side by side while the nodes come up. Here MariaDB
cannot set up (its data folder is a file) while RabbitMQ starts fine: the
failure must not leave the broker running, unrecorded, after ``lab up`` has
returned its error.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from test_transport import live_processes_with

from octavia_upgrade.errors import LabError
from octavia_upgrade.lab.core import Lab
from octavia_upgrade.lab.procs import Proc

pytestmark = pytest.mark.lab

NET = os.environ.get("OCTAVIA_UPGRADE_TEST_UP_FAILURE_NET", "127.42.79")


def test_a_failed_lab_up_leaves_none_of_its_processes(tmp_path: Path) -> None:
    lab_dir = tmp_path / "lab"
    (lab_dir / "mariadb").mkdir(parents=True)
    (lab_dir / "mariadb" / "data").write_text("not a folder\n")
    lab = Lab(lab_dir)
    try:
        with pytest.raises(LabError, match="lab up failed: .*mariadb/data"):
            lab.up(nodes=1, net=NET, prepare_next=False)
        st = lab.state()
        assert st["status"] == "failed"
        # the broker that came up beside the failing database is recorded, and stopped
        broker = st["rabbitmq"]
        procs = [Proc.from_dict(broker[k]) for k in ("server", "epmd", "beam") if broker.get(k)]
        assert len(procs) == 3 and not [p for p in procs if p.alive()], procs
        assert live_processes_with(str(lab_dir)) == []  # the node's sshd, the Erlang VM
    finally:
        lab.down(quiet=True)

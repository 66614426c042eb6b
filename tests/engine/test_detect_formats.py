"""``detect -f value|csv -c COLUMN`` against the session's real sshd nodes (sim flavor)."""

from __future__ import annotations

import csv
import io
import json

from simlab import NODES, Sim


def test_detect_rows_as_openstackclient_prints_them(sim: Sim) -> None:
    inv = ("-i", str(sim.inventory))
    res = sim.cli("detect", *inv, "-f", "value", "-c", "host", "-c", "release")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout == "".join(f"{n} dalmatian\n" for n in NODES)

    res = sim.cli("detect", *inv, "-f", "csv")
    assert res.returncode == 0, res.stderr
    table = list(csv.reader(io.StringIO(res.stdout)))
    assert table[0] == ["host", "address", "octavia", "octavia-lib", "release", "problem"]
    assert [r[0] for r in table[1:]] == list(NODES)
    assert table[1][2:] == ["15.1.0", "3.6.0", "dalmatian", ""]

    res = sim.cli("detect", *inv, "-f", "json", "-c", "octavia", "-c", "reachable")
    assert json.loads(res.stdout) == [{"octavia": "15.1.0", "reachable": True}] * len(NODES)

    # a host that runs another release: the rows say which, the exit code says no (3)
    (sim.root / "node2" / "version").write_text("16.0.0\n")
    res = sim.cli("detect", *inv, "-f", "value", "-c", "host", "-c", "release")
    assert res.returncode == 3, res.stderr
    assert res.stdout.splitlines()[1] == "node2 epoxy"


def test_detect_refuses_an_unknown_column_before_connecting(sim: Sim) -> None:
    res = sim.cli("detect", "-i", str(sim.inventory), "-f", "value", "-c", "version")
    assert res.returncode == 2 and res.stdout == ""
    assert "-c version: no such column; available columns: host, address" in res.stderr
    assert sim.ops() == []

"""``-f table|json|yaml|value|csv`` and ``-c COLUMN`` as OpenStackClient has them, through
the real CLI: runs and show (a real state database), releases, runbooks list and the chain
plan. ``detect`` against real sshd nodes is in tests/engine/test_detect_formats.py."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from clihelp import cli, env

from octavia_upgrade.state import open_store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state(tmp_path: Path) -> tuple[Path, list[Any]]:
    """Two runs recorded with the store API: one done, one still running."""
    state_dir = tmp_path / "state"
    with open_store(None, state_dir) as store:
        runs = []
        for deployment, revision in (('prod "east", 1', 2), ("lab", 3)):
            runs.append(store.create_run(
                runbook_name="dalmatian-to-epoxy", runbook_path="runbooks/dalmatian-to-epoxy.yaml",
                runbook_sha256="cd" * 32, runbook_revision=revision, from_release="dalmatian",
                to_release="epoxy", deployment=deployment, inventory_path="inv.yaml"))
        store.set_run_status(runs[0].id, "succeeded")
    return state_dir, runs


def ok(*args: str, tmp_path: Path, state_dir: Path | None = None) -> str:
    res = cli(*args, cwd=tmp_path, state_dir=state_dir)
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return res.stdout


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_csv_lines_end_in_crlf(tmp_path: Path) -> None:
    """RFC 4180 (and cliff's csv formatter): CRLF line ends, read as bytes here."""
    res = subprocess.run([sys.executable, "-m", "octavia_upgrade", "releases", "-f", "csv",
                          "-c", "series", "-c", "slurp"], cwd=tmp_path, env=env(),
                         capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(b'"series","slurp"\r\n"pike","no"\r\n')


def refused(*args: str, tmp_path: Path, state_dir: Path | None = None) -> str:
    res = cli(*args, cwd=tmp_path, state_dir=state_dir)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    return res.stderr


def test_runs(state: tuple[Path, list[Any]], tmp_path: Path) -> None:
    state_dir, (done, running) = state
    out = ok("runs", "-f", "value", "-c", "id", "-c", "status", tmp_path=tmp_path,
             state_dir=state_dir)
    assert out == f"{done.id} succeeded\n{running.id} running\n"
    # a column the table does not show by default, in the order given
    assert ok("runs", "-f", "value", "-c", "revision", "-c", "id", tmp_path=tmp_path,
              state_dir=state_dir).splitlines() == [f"2 {done.id}", f"3 {running.id}"]
    table = rows(ok("runs", "-f", "csv", tmp_path=tmp_path, state_dir=state_dir))
    assert table[0] == ["id", "runbook", "deployment", "status", "started", "ended",
                        "outage"]
    assert table[1][:4] == [done.id, "dalmatian-to-epoxy", 'prod "east", 1', "succeeded"]
    assert table[1][5].endswith("Z") and table[2][5] == ""  # still running: no end
    data = json.loads(ok("runs", "-f", "json", "-c", "id", "-c", "deployment",
                         tmp_path=tmp_path, state_dir=state_dir))
    assert data == [{"id": done.id, "deployment": 'prod "east", 1'},
                    {"id": running.id, "deployment": "lab"}]
    assert yaml.safe_load(ok("runs", "-f", "yaml", "-c", "status", tmp_path=tmp_path,
                             state_dir=state_dir)) == [{"status": "succeeded"},
                                                       {"status": "running"}]
    # without -c, json and yaml are the full records, as before
    full = yaml.safe_load(ok("runs", "-f", "yaml", tmp_path=tmp_path, state_dir=state_dir))
    assert full == json.loads(ok("runs", "-f", "json", tmp_path=tmp_path, state_dir=state_dir))
    assert full[0]["runbook"]["revision"] == 2
    # -c in the table: only those columns
    assert ok("runs", "-c", "status", tmp_path=tmp_path, state_dir=state_dir).splitlines() == [
        "status", "---------", "succeeded", "running"]
    err = refused("runs", "-f", "value", "-c", "identifier", tmp_path=tmp_path,
                  state_dir=state_dir)
    assert "-c identifier: no such column" in err and "id, runbook, deployment" in err


def test_runs_without_a_state_database(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    assert ok("runs", "-f", "value", "-c", "id", tmp_path=tmp_path, state_dir=fresh) == ""
    assert rows(ok("runs", "-f", "csv", tmp_path=tmp_path, state_dir=fresh)) == [
        ["id", "runbook", "deployment", "status", "started", "ended", "outage"]]
    assert not fresh.exists()


def test_show(state: tuple[Path, list[Any]], tmp_path: Path) -> None:
    state_dir, (done, _running) = state
    assert ok("show", done.id, "-f", "value", "-c", "status", tmp_path=tmp_path,
              state_dir=state_dir) == "succeeded\n"
    assert ok("show", done.id, "-f", "value", "-c", "to", "-c", "revision", tmp_path=tmp_path,
              state_dir=state_dir) == "epoxy\n2\n"
    table = rows(ok("show", done.id, "-f", "csv", "-c", "id", "-c", "deployment",
                    tmp_path=tmp_path, state_dir=state_dir))
    assert table == [["id", "deployment"], [done.id, 'prod "east", 1']]
    assert json.loads(ok("show", done.id, "-f", "json", "-c", "status", "-c", "from",
                         tmp_path=tmp_path, state_dir=state_dir)) == {
        "status": "succeeded", "from": "dalmatian"}
    everything = ok("show", done.id, "-f", "value", tmp_path=tmp_path, state_dir=state_dir)
    assert everything.splitlines()[:3] == [done.id, "succeeded", "dalmatian-to-epoxy"]
    doc = yaml.safe_load(ok("show", done.id, "-f", "yaml", tmp_path=tmp_path,
                            state_dir=state_dir))
    assert doc["run"]["id"] == done.id and "attempts" in doc
    err = refused("show", done.id, "-c", "state", tmp_path=tmp_path, state_dir=state_dir)
    assert "-c state: no such column" in err and "status" in err


def test_releases(tmp_path: Path) -> None:
    out = ok("releases", "-f", "value", "-c", "series", "-c", "slurp", tmp_path=tmp_path)
    lines = out.splitlines()
    assert lines[0] == "pike no" and "caracal yes" in lines and "dalmatian no" in lines
    table = rows(ok("releases", "-f", "csv", tmp_path=tmp_path))
    assert table[0][:3] == ["series", "id", "octavia"]
    assert table[1][0] == "pike" and len(table) == len(lines) + 1
    data = yaml.safe_load(ok("releases", "-f", "yaml", "-c", "series", tmp_path=tmp_path))
    assert data[0] == {"series": "pike"}
    assert "octavia-status" in refused("releases", "-c", "state", tmp_path=tmp_path)
    refs = ok("releases", "-f", "value", "-c", "series", "-c", "status", "-c", "git ref",
              tmp_path=tmp_path).splitlines()
    assert "yoga end of life yoga-eol" in refs and "epoxy maintained stable/2025.1" in refs


def test_runbooks_list(tmp_path: Path) -> None:
    out = ok("runbooks", "list", "-f", "value", "-c", "name", "-c", "path", tmp_path=tmp_path)
    first = out.splitlines()[0].split(" ")
    assert first[0] == "pike-to-queens" and Path(first[1]).is_file()
    table = rows(ok("runbooks", "list", "-f", "csv", tmp_path=tmp_path))
    assert table[0] == ["name", "from", "to", "revision", "path"]
    assert table[1][:3] == ["pike-to-queens", "pike", "queens"]
    assert "available columns: name, from, to, revision, path" in refused(
        "runbooks", "list", "-c", "file", tmp_path=tmp_path)


CHAIN = ("plan", "--from", "caracal", "--to", "epoxy")


def test_chain_rows(tmp_path: Path) -> None:
    assert ok(*CHAIN, "-f", "value", "-c", "runbook", tmp_path=tmp_path) == (
        "caracal-to-dalmatian\ndalmatian-to-epoxy\n")
    out = ok(*CHAIN, "-f", "value", "-c", "from", "-c", "to", "-c", "migrations",
             tmp_path=tmp_path)
    assert out == "caracal dalmatian 0\ndalmatian epoxy 3\n"
    table = rows(ok(*CHAIN, "-f", "csv", tmp_path=tmp_path))
    assert table[0] == ["#", "runbook", "migrations", "amphora image", "data-plane impact"]
    assert table[2][:4] == ["2", "dalmatian-to-epoxy", "3", "recommended"]
    picked = json.loads(ok(*CHAIN, "-f", "json", "-c", "runbook", "-c", "path",
                           tmp_path=tmp_path))
    assert [h["runbook"] for h in picked] == ["caracal-to-dalmatian", "dalmatian-to-epoxy"]
    assert all(set(h) == {"runbook", "path"} and Path(h["path"]).is_file() for h in picked)
    err = refused(*CHAIN, "-c", "hop", tmp_path=tmp_path)
    assert "-c hop: no such column" in err and "data-plane impact" in err
    assert "-f html prints the whole chain" in refused(*CHAIN, "-f", "html", "-c", "runbook",
                                                       tmp_path=tmp_path)


def test_chain_documents(tmp_path: Path) -> None:
    doc = json.loads(ok(*CHAIN, "-f", "json", tmp_path=tmp_path))
    hops = doc["hops"]
    assert [(h["from"], h["to"], h["runbook_name"]) for h in hops] == [
        ("caracal", "dalmatian", "caracal-to-dalmatian"), ("dalmatian", "epoxy",
                                                          "dalmatian-to-epoxy")]
    assert Path(hops[1]["runbook"]).is_file() and hops[1]["migrations"] == 3
    assert len(hops[1]["migration_revisions"]) == 3 and doc["database_migrations"] == 3
    assert yaml.safe_load(ok(*CHAIN, "-f", "yaml", tmp_path=tmp_path)) == doc

    md = ok(*CHAIN, "-f", "markdown", tmp_path=tmp_path)
    assert md.splitlines()[0].startswith("| # | runbook |")
    assert "| 2 | dalmatian-to-epoxy | 3 |" in md

    target = tmp_path / "chain.html"
    assert ok(*CHAIN, "-f", "html", "-o", str(target), tmp_path=tmp_path) == ""
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>\n<html") and page.rstrip().endswith("</html>")
    assert "<title>Upgrade chain caracal → epoxy</title>" in page
    assert "<strong>dalmatian-to-epoxy</strong>" in page and "confirm-systemd-amphorae" in page
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows = 0

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self.rows += tag == "tr"

    parser = Cells()
    parser.feed(page)
    assert parser.rows == 3  # the header and one row per hop

    table = ok(*CHAIN, tmp_path=tmp_path)
    assert table.splitlines()[0].split()[:3] == ["#", "runbook", "migrations"]
    assert "2 sequential hops, 3 database migrations" in table


def test_a_document_refuses_row_formats(tmp_path: Path) -> None:
    inv = ROOT / "inventory" / "native" / "lab.yaml"
    if not inv.exists():
        inv = next((ROOT / "inventory").rglob("*.yaml"))
    for fmt in ("value", "csv"):
        err = refused("plan", "dalmatian-to-epoxy", "-i", str(inv), "--no-detect", "-f", fmt,
                      tmp_path=tmp_path)
        assert "formats are table, json, yaml, markdown, html" in err
    assert "-c COLUMN selects columns of the chain" in refused(
        "plan", "dalmatian-to-epoxy", "-i", str(inv), "--no-detect", "-c", "step",
        tmp_path=tmp_path)
    err = refused("report", "20261205-120000-abcd", "-f", "value", tmp_path=tmp_path,
                  state_dir=tmp_path / "state")
    assert "'markdown', 'html', 'json'" in err


def test_lab_status_rows_without_a_lab(tmp_path: Path) -> None:
    """No lab is started here: the rows are rendered from a status as `lab status` reads it,
    and the real command refuses an unknown column and a missing lab (exit 2)."""
    from octavia_upgrade.cli.lab import render_status_as

    data = {"dir": "lab", "status": "up", "release": None, "bare": True,
            "deployment": "lab-x", "inventory": "lab/inventory.yaml",
            "nodes": [{"name": "node1", "faults": [], "address": "127.42.106.10:22",
                       "sshd": "running", "services": {}},
                      {"name": "node2", "faults": ["unreachable"], "address": None,
                       "sshd": "stopped", "services": {}}]}
    assert render_status_as(data, "value", ["node", "sshd", "faults"]) == (
        "node1 running -\nnode2 stopped unreachable\n")
    assert rows(render_status_as(data, "csv", ["node", "address"])) == [
        ["node", "address"], ["node1", "127.42.106.10:22"], ["node2", ""]]
    assert json.loads(render_status_as(data, "json")) == data
    assert render_status_as(data, "table").startswith("lab lab: up")
    assert "available columns: node, address, sshd, octavia, release, api" in refused(
        "lab", "status", "--dir", str(tmp_path / "lab"), "-c", "name", tmp_path=tmp_path)
    assert "no lab in" in refused("lab", "status", "--dir", str(tmp_path / "lab"), "-f",
                                  "value", tmp_path=tmp_path)

"""``octavia-upgrade plan --from X --to Y`` as a process: bad release names are invalid input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    exe = ROOT / ".venv" / "bin" / "octavia-upgrade"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "octavia_upgrade"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "engine")}
    return subprocess.run([*cmd, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("src", "dst", "wrong", "hint"), [
    ("foo", "epoxy", "foo", ""),
    ("quens", "rocky", "quens", " (did you mean 'queens'?)"),
    ("dalmatian", "epoxi", "epoxi", " (did you mean 'epoxy'?)"),
])
def test_an_unknown_release_exits_2_with_one_line(src: str, dst: str, wrong: str,
                                                  hint: str) -> None:
    res = cli("plan", "--from", src, "--to", dst)
    assert res.returncode == 2, res.stderr
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"octavia-upgrade: unknown release '{wrong}'{hint}; known: pike, ")
    assert "hibiscus" in lines[0]


def test_a_downgrade_between_known_releases_is_still_refused() -> None:
    res = cli("plan", "--from", "epoxy", "--to", "caracal")
    assert res.returncode == 3
    assert "downgrade" in res.stderr and "Traceback" not in res.stderr


def _example_inventory(tmp_path: Path) -> str:
    inv = tmp_path / "inventory.yaml"
    res = cli("example", "inventory", "-o", str(inv))
    assert res.returncode == 0, res.stderr
    return str(inv)


def test_the_plan_report_names_the_change_record_it_is_submitted_under(tmp_path: Path) -> None:
    inv = _example_inventory(tmp_path)
    base = ["plan", "dalmatian-to-epoxy", "-i", inv, "--no-detect", "--change", "CHG0031337",
            "--change-url", "https://change.example.org/CHG0031337"]
    md = cli(*base, "-f", "markdown")
    assert md.returncode == 0, md.stderr
    assert ("| Change record | CHG0031337 (https://change.example.org/CHG0031337) |"
            in md.stdout.splitlines())
    html = cli(*base, "-f", "html")
    assert '<a href="https://change.example.org/CHG0031337">CHG0031337</a>' in html.stdout
    doc = json.loads(cli(*base, "-f", "json").stdout)
    assert doc["summary"]["change_id"] == "CHG0031337"
    assert doc["summary"]["change_url"] == "https://change.example.org/CHG0031337"
    without = json.loads(cli("plan", "dalmatian-to-epoxy", "-i", inv, "--no-detect",
                             "-f", "json").stdout)
    assert without["summary"]["change_id"] is None
    assert "Change record" not in cli("plan", "dalmatian-to-epoxy", "-i", inv,
                                      "--no-detect", "-f", "markdown").stdout


@pytest.mark.parametrize(("extra", "says"), [
    (["--change-url", "https://change.example.org/1"], "--change-url needs --change ID"),
    (["--change", "CHG1"], "--change goes into the plan report: use -f markdown, html or json"),
    (["--change", "CHG1", "-f", "yaml"], "-f yaml has no place for it"),
])
def test_a_change_the_plan_cannot_carry_is_refused(tmp_path: Path, extra: list[str],
                                                    says: str) -> None:
    res = cli("plan", "dalmatian-to-epoxy", "-i", _example_inventory(tmp_path), "--no-detect",
              *extra)
    assert res.returncode == 2 and res.stdout == ""
    assert says in res.stderr and "Traceback" not in res.stderr


def test_a_chain_takes_no_change_record() -> None:
    res = cli("plan", "--from", "caracal", "--to", "epoxy", "--change", "CHG1")
    assert res.returncode == 2
    assert "plan each hop with its own --change" in res.stderr


def test_a_staging_space_that_is_not_a_number_is_invalid_input(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("apiVersion: octavia-upgrade/v1\nkind: Inventory\ndeployment: t\n"
                   "flavor: venv\nvars: {stage_free_mb: lots}\nhosts:\n"
                   "  n1: {address: 127.0.0.1, roles: [api, worker, health-manager, "
                   "housekeeping, db-migrate]}\n")
    res = cli("plan", "dalmatian-to-epoxy", "-i", str(inv), "--no-detect")
    assert res.returncode == 2 and res.stdout == ""
    assert "step 'stage-packages' on n1: vars.stage_free_mb: 'lots' is not a number of MiB" \
        in res.stderr and "Traceback" not in res.stderr

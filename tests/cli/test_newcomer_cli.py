"""What a new operator meets first, through the real CLI, run from outside the checkout:
shipped runbooks by name, the examples, lint of the shipped INI inventory, -q and -v,
and help texts that say the whole sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from clihelp import ROOT, cli

INVENTORY = ROOT / "inventory" / "native" / "inventory.yaml"


@pytest.fixture
def away(tmp_path: Path) -> Path:
    """A working folder outside the checkout, as an operator's would be."""
    d = tmp_path / "work"
    d.mkdir()
    return d


def test_plan_takes_a_shipped_runbook_by_name(away: Path) -> None:
    res = cli("plan", "dalmatian-to-epoxy", "-i", str(INVENTORY), "--no-detect", cwd=away,
              state_dir=away / "state")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Plan: dalmatian-to-epoxy (revision ")
    assert "Deployment: prod-east (3 hosts, flavor deb)" in res.stdout


def test_a_path_that_exists_wins_over_the_shipped_name(away: Path) -> None:
    shipped = yaml.safe_load((ROOT / "runbooks" / "dalmatian-to-epoxy.yaml").read_text())
    shipped["metadata"]["revision"] = 77
    (away / "dalmatian-to-epoxy").write_text(yaml.safe_dump(shipped, sort_keys=False))
    res = cli("plan", "dalmatian-to-epoxy", "-i", str(INVENTORY), "--no-detect", cwd=away,
              state_dir=away / "state")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Plan: dalmatian-to-epoxy (revision 77)")


def test_run_dry_run_takes_a_name(away: Path) -> None:
    res = cli("run", "caracal-to-dalmatian", "-i", str(INVENTORY), "--dry-run", cwd=away,
              state_dir=away / "state")
    assert res.returncode == 0, res.stderr
    assert "Plan: caracal-to-dalmatian" in res.stdout and "dry run: nothing was executed" in \
        res.stdout


@pytest.mark.parametrize("command", [["plan", "dalmatian-to-epoxi", "--no-detect"],
                                     ["run", "dalmatian-to-epoxi", "--dry-run"]])
def test_an_unknown_name_exits_2_with_the_closest_names(away: Path, command: list[str]) -> None:
    res = cli(*command, "-i", str(INVENTORY), cwd=away, state_dir=away / "state")
    assert res.returncode == 2
    [line] = res.stderr.strip().splitlines()
    assert line == ("octavia-upgrade: unknown runbook 'dalmatian-to-epoxi': no such file and no "
                    "shipped runbook of that name; closest: dalmatian-to-epoxy")


def test_a_missing_path_names_the_shipped_runbook(away: Path) -> None:
    res = cli("plan", "runbooks/dalmatian-to-epoxy.yaml", "-i", str(INVENTORY), "--no-detect",
              cwd=away, state_dir=away / "state")
    assert res.returncode == 2
    assert res.stderr.strip() == (
        "octavia-upgrade: runbook runbooks/dalmatian-to-epoxy.yaml: no such file (the shipped "
        "runbook of that name is `dalmatian-to-epoxy`)")


def test_lint_takes_names_and_lints_the_shipped_runbooks_without_argument(away: Path) -> None:
    res = cli("lint", "dalmatian-to-epoxy", "caracal-to-dalmatian", cwd=away)
    assert (res.returncode, res.stdout) == (0, "")
    assert "lint: 2 files, 0 errors, 0 warnings" in res.stderr
    every = len(list((ROOT / "runbooks").glob("*.yaml")))
    res = cli("lint", cwd=away)
    assert res.returncode == 0 and f"lint: {every} files, 0 errors" in res.stderr
    res = cli("lint", "pike-to-rocky", cwd=away)
    assert res.returncode == 2
    assert "upgrades are sequential: use pike-to-queens, then queens-to-rocky" in res.stderr


def test_lint_reads_the_shipped_ini_inventory_as_i_does(away: Path) -> None:
    res = cli("lint", str(ROOT / "inventory" / "kolla" / "multinode"), cwd=away)
    assert (res.returncode, res.stdout) == (0, ""), res.stdout
    assert "lint: 1 file, 0 errors, 0 warnings" in res.stderr
    broken = away / "multinode"
    broken.write_text((ROOT / "inventory" / "kolla" / "multinode").read_text().replace(
        "control01 ansible_host=192.0.2.11", "control01 ansible_host=192.0.2.11 ansible_port=x"))
    res = cli("lint", str(broken), cwd=away)
    assert res.returncode == 2
    assert re.match(rf"^{re.escape(str(broken))}:\d+:1: ansible-port: host control01: "
                    r"ansible_port 'x' is not a port number$", res.stdout.strip()), res.stdout


def test_example_inventory_is_commented_documentation_range_and_lints(away: Path) -> None:
    res = cli("example", "inventory", cwd=away)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("# ")
    addresses = re.findall(r"address: (\S+)", res.stdout)
    assert addresses and all(a.startswith("192.0.2.") for a in addresses)
    res = cli("example", "inventory", "-o", "inv.yaml", cwd=away)
    assert res.returncode == 0 and (away / "inv.yaml").is_file()
    assert cli("lint", "inv.yaml", cwd=away).returncode == 0
    again = cli("example", "inventory", "-o", "inv.yaml", cwd=away)
    assert again.returncode == 2 and "exists; give --force" in again.stderr


def test_example_config_is_the_shipped_sample(away: Path) -> None:
    res = cli("example", "config", cwd=away)
    assert res.returncode == 0
    assert res.stdout == (ROOT / "etc" / "octavia-upgrade.conf.sample").read_text()


def test_quiet_never_hides_the_dry_run_plan(away: Path) -> None:
    res = cli("run", "dalmatian-to-epoxy", "-i", str(INVENTORY), "--dry-run", "-q", cwd=away,
              state_dir=away / "state")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("Plan: dalmatian-to-epoxy")
    assert "dry run: nothing was executed" not in res.stdout  # progress chatter is hidden
    plan = cli("plan", "dalmatian-to-epoxy", "-i", str(INVENTORY), "--no-detect", "-q",
               cwd=away, state_dir=away / "state")
    assert plan.returncode == 0 and plan.stdout.startswith("Plan: dalmatian-to-epoxy")


@pytest.mark.parametrize("args", [["-q", "-v", "releases"], ["releases", "-q", "-v"],
                                  ["-v", "releases", "-q"]])
def test_quiet_with_verbose_is_an_input_error(away: Path, args: list[str]) -> None:
    res = cli(*args, cwd=away)
    assert res.returncode == 2 and res.stdout == ""
    assert "-q/--quiet and -v/--verbose contradict each other" in res.stderr


def test_help_texts_say_the_whole_sentence(away: Path) -> None:
    schema = cli("schema", "--help", cwd=away).stdout
    for name in ("runbook", "inventory", "flavor", "rolemap", "report"):
        assert name in schema
    plan = " ".join(cli("plan", "--help", cwd=away, COLUMNS="200").stdout.split())
    assert "see the runbook's parameters:" not in plan
    assert "the runbook's `parameters:` section lists the names, types and defaults" in plan
    top = cli("--help", cwd=away).stdout
    assert "70   internal error" in top


def test_run_help_and_operator_guide_agree_on_ctrl_c(away: Path) -> None:
    run_help = " ".join(cli("run", "--help", cwd=away).stdout.split())
    guide = " ".join((ROOT / "docs" / "operator-guide.md").read_text().split())
    for text in (run_help, guide.replace("`unknown`", "'unknown'")):
        assert ("no further step starts, and the commands already running are waited for "
                "and their results recorded") in text
        assert ("A second Ctrl-C stops at once: commands still running are left running on "
                "their hosts and recorded as 'unknown'") in text


def test_lab_up_without_its_database_driver_refuses_at_once(away: Path) -> None:
    """PyMySQL is a dependency; should it be missing anyway, nothing starts (exit 3, at once)."""
    import subprocess
    import sys
    import time

    from clihelp import env

    code = ("import sys; sys.modules['pymysql'] = None; "
            "from octavia_upgrade.cli import main; sys.exit(main(sys.argv[1:]))")
    started = time.monotonic()
    res = subprocess.run([sys.executable, "-c", code, "lab", "up", "--dir", "lab"], cwd=away,
                         env=env(), capture_output=True, text=True, timeout=60)
    assert res.returncode == 3, res.stderr
    assert time.monotonic() - started < 10
    assert "the lab needs the PyMySQL driver" in res.stderr
    assert list(away.iterdir()) == []  # no lab folder, nothing started


@pytest.mark.parametrize("command", [
    ["plan", "dalmatian-to-epoxy", "-i", str(INVENTORY)],
    ["run", "dalmatian-to-epoxy", "-i", str(INVENTORY), "--dry-run"],
    ["detect", "-i", str(INVENTORY)],
    ["resume", "20261125-160000-a1b2"],
])
def test_ssh_config_with_no_ssh_config_is_an_input_error(away: Path, command: list[str]) -> None:
    config = away / "ssh_config"
    config.write_text("Host *\n  User ops\n")
    res = cli(*command, "--ssh-config", str(config), "--no-ssh-config", cwd=away,
              state_dir=away / "state")
    assert res.returncode == 2 and res.stdout == ""
    assert "argument --no-ssh-config: not allowed with argument --ssh-config" in res.stderr
    assert "Traceback" not in res.stderr
    assert not (away / "state").exists()  # refused before anything was read or created

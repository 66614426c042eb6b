"""docs/getting-started.md, followed as written by a new operator, up to a dry run.

The wheel is built from this checkout and installed with pip into a fresh
venv (no system site-packages), the way step 1 installs it; every command
then runs from a folder outside the checkout, against the session's bare
sshd nodes (real OpenSSH; they have no Octavia, which `detect` must say).
Each command the test runs is checked to be in the guide, so the guide and
the test cannot drift apart. Skipped where the sshd nodes cannot start.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from fixtures.wheelenv import clean_env

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "getting-started.md"


def guide_commands() -> set[str]:
    """Every `octavia-upgrade ...` line of the guide's sh blocks, without comments."""
    text = GUIDE.read_text(encoding="utf-8")
    out = set()
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.startswith("octavia-upgrade ") or line.startswith("eval "):
                out.add(line)
    return out


@pytest.mark.timeout(90)
def test_getting_started_from_pip_install_to_a_dry_run(
        installed_venv: Path, tmp_path: Path, lab_nodes, write_inventory) -> None:
    commands = guide_commands()
    home = tmp_path / "home"
    work = home / "upgrade"
    work.mkdir(parents=True)
    env = clean_env(HOME=str(home), OCTAVIA_UPGRADE_STATE_DIR=str(home / "state"),
                    PATH=f"{installed_venv / 'bin'}:/usr/bin:/bin")

    def step(line: str, expect_rc: int = 0) -> subprocess.CompletedProcess[str]:
        assert line in commands, f"not in docs/getting-started.md: {line}"
        done = subprocess.run(["bash", "-c", line], cwd=work, env=env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == expect_rc, f"{line}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr
        return done

    # 1. Install (done by the fixture: `pip install WHEEL` into a fresh venv).
    assert shutil.which("octavia-upgrade", path=env["PATH"]) == str(
        installed_venv / "bin" / "octavia-upgrade")
    assert step("octavia-upgrade --version").stdout.startswith("octavia-upgrade ")
    assert "dalmatian" in step("octavia-upgrade releases").stdout
    step('eval "$(octavia-upgrade completion bash)"')

    # 2. The tool's own inventory, from the shipped example.
    step("octavia-upgrade example inventory -o inventory.yaml")
    # `vi inventory.yaml`: the operator puts in the real hosts (here: the sshd nodes).
    example = yaml.safe_load((work / "inventory.yaml").read_text())
    nodes = yaml.safe_load(write_inventory(tmp_path, deployment="prod-east").read_text())
    example["hosts"] = nodes["hosts"]
    example["ssh"] = nodes["ssh"]
    example.pop("probes")
    (work / "inventory.yaml").write_text(yaml.safe_dump(example, sort_keys=False))
    step("octavia-upgrade lint inventory.yaml")
    kolla = subprocess.run(["octavia-upgrade", "example", "kolla", "-o", "multinode"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=60)
    assert kolla.returncode == 0
    lint = subprocess.run(["octavia-upgrade", "lint", "multinode"], cwd=work, env=env,
                          capture_output=True, text=True, timeout=60)
    assert lint.returncode == 0, lint.stdout + lint.stderr

    # 4. What is deployed? Bare nodes: reachable, no Octavia -> exit 3 saying so.
    det = step("octavia-upgrade detect -i inventory.yaml", expect_rc=3)
    assert re.search(r"node1\s+\S+\s+-\s+-\s+-\s+Octavia is not installed", det.stdout)
    assert "database: revision not read: Octavia is not installed on node1" in det.stdout

    # 5. Plan and dry run, runbooks by name.
    assert "dalmatian-to-epoxy" in step("octavia-upgrade plan --from dalmatian --to epoxy").stdout
    refused = step("octavia-upgrade plan dalmatian-to-epoxy -i inventory.yaml", expect_rc=3)
    assert "Octavia is not installed" in refused.stderr
    dry = step("octavia-upgrade run dalmatian-to-epoxy -i inventory.yaml --dry-run")
    assert dry.stdout.startswith("Plan: dalmatian-to-epoxy")
    assert "Deployment: prod-east (3 hosts, flavor deb)" in dry.stdout
    assert "dry run: nothing was executed" in dry.stdout
    assert sorted(p.name for p in work.iterdir()) == ["inventory.yaml", "multinode"]

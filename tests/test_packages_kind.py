"""The ``packages`` kind's prepare actions: what the plan holds and how results are judged.

No SSH here: scripted hosts (:class:`~octavia_upgrade.testing.FakeTransport`)
answer the flavor's commands; the plan and the executor are the real ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_executor import HOSTS, Host, execute

from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.flavors import load_flavor, render_action
from octavia_upgrade.inventory import load_inventory
from octavia_upgrade.loader import load_runbook
from octavia_upgrade.plan import build_plan, resolve_params, run_contexts
from octavia_upgrade.steps.packages import major_of
from octavia_upgrade.testing import FakePool, result

RUN_ID = "20261205-120000-abcd"
PKGS = ["octavia", "octavia-lib"]


def plan_for(tmp: Path, steps: list[dict[str, Any]], *, flavor: str = "deb",
             rollback: list[dict[str, Any]] = (), vars: dict[str, Any] | None = None) -> Any:
    inv = tmp / "inventory.yaml"
    inv.write_text(yaml.safe_dump({
        "apiVersion": "octavia-upgrade/v1", "kind": "Inventory", "deployment": "test",
        "flavor": flavor, "vars": dict(vars or {}),
        "hosts": {n: {"address": f"192.0.2.{10 + i}", "roles": r}
                  for i, (n, r) in enumerate(HOSTS.items())}}))
    doc: dict[str, Any] = {
        "apiVersion": "octavia-upgrade/v2", "kind": "Runbook",
        "metadata": {"name": "unit", "from": "dalmatian", "to": "epoxy", "revision": 1},
        "steps": steps}
    if rollback:
        doc["rollback"] = list(rollback)
    (tmp / "unit.yaml").write_text(yaml.safe_dump(json.loads(json.dumps(doc)),  # no aliases
                                                  sort_keys=False))
    catalog = load_catalog()
    runbook = load_runbook(tmp / "unit.yaml", catalog=catalog)
    inventory = load_inventory(inv)
    fl = load_flavor(inventory.flavor)
    params = resolve_params(runbook, {})
    return (build_plan(runbook, inventory, fl, catalog, params),
            run_contexts(runbook, inventory, fl, catalog, params, RUN_ID))


RECORD = {"id": "record-packages", "name": "Record", "kind": "packages",
          "with": {"action": "record", "packages": PKGS}}
STAGE = {"id": "stage-packages", "name": "Stage", "kind": "packages",
         "with": {"action": "stage", "release": "epoxy", "packages": PKGS}}
VERIFY = {"id": "verify-staged-packages", "name": "Verify", "kind": "packages",
          "with": {"action": "verify", "release": "epoxy", "packages": PKGS}}
ACTIVATE = {"id": "activate-packages", "name": "Activate", "kind": "packages",
            "on_failure": "rollback",
            "with": {"action": "activate", "release": "epoxy", "packages": PKGS}}
REVERT = {"id": "rollback-packages", "name": "Revert", "kind": "packages",
          "with": {"action": "revert", "release": "dalmatian", "packages": PKGS}}


class DebHost(Host):
    """A Debian node whose dpkg knows the Dalmatian packages."""

    def __init__(self, name: str, octavia: str = "15.1.0") -> None:
        super().__init__(name)
        self.octavia = octavia
        self.on(r"^dpkg-query -W -f '\$\{db:Status-Abbrev\} \$\{Package\}=",
                result(0, "octavia-common=2:15.1.0-0ubuntu1\npython3-octavia=2:15.1.0-0ubuntu1\n"
                          "python3-octavia-lib=3.6.0-0ubuntu1\n"))
        self.on(r"importlib.metadata", lambda c: result(
            0, self.octavia if '"octavia")' in c else "3.6.0"))
        self.on(r"^df -Pm", result(0, "5120\n"))


def test_the_deb_rollback_installs_exactly_the_recorded_versions(tmp_path: Path) -> None:
    plan, ctx = plan_for(tmp_path, [RECORD, ACTIVATE], rollback=[REVERT])
    revert = plan.step("rollback-packages").command("ctl1", "revert")
    assert revert.render == "shell" and "--allow-downgrades" in revert.text
    assert "DEBIAN_FRONTEND=noninteractive" in revert.text
    assert "-o Dpkg::Options::=--force-confold" in revert.text
    pool = FakePool(**{n: DebHost(n) for n in HOSTS})
    for h in pool.hosts.values():  # the activation fails: the rollback runs
        h.on(r"--no-download", result(100, "", "E: some packages could not be retrieved"))
    res, sink = execute(plan, ctx, pool)
    assert res.status == "rolled_back"
    sent = [c for c in pool.hosts["ctl2"].commands if "--allow-downgrades" in c]
    assert sent and sent[0].endswith(
        "--force-confold octavia-common=2:15.1.0-0ubuntu1 python3-octavia=2:15.1.0-0ubuntu1 "
        "python3-octavia-lib=3.6.0-0ubuntu1")
    rec = sink.outcome("record-packages", "ctl2")
    assert rec.outputs["recorded"][0] == "octavia-common=2:15.1.0-0ubuntu1"
    assert ("packages_recorded", rec.evidence[0][1]) == rec.evidence[0]
    [attempt] = [c for c in sink.outcome("rollback-packages", "ctl2").commands
                 if c["key"] == "revert"]
    assert attempt["planned"] == revert.text and attempt["sent"] == sent[0]


def test_a_staged_version_that_is_not_the_target_is_refused(tmp_path: Path) -> None:
    plan, ctx = plan_for(tmp_path, [STAGE, VERIFY, {
        "id": "stop-api", "name": "Stop", "kind": "service",
        "with": {"action": "stop", "services": ["api"]}}])
    pool = FakePool(**{n: DebHost(n) for n in HOSTS})
    for h in pool.hosts.values():  # the repository still offers Dalmatian
        h.on(r"^st=0; for p in", result(0, "python3-octavia 2:15.1.0-0ubuntu1\n"
                                           "octavia 2:15.1.0-0ubuntu1\n"))
    res, sink = execute(plan, ctx, pool)
    assert res.status == "failed" and res.message == "step verify-staged-packages failed"
    out = sink.outcome("verify-staged-packages", "ctl1")
    assert "Octavia 2:15.1.0-0ubuntu1, but epoxy is 16.x; nothing was stopped" in out.message
    assert "stop-api" not in {s for s, *_ in sink.attempts}
    assert all("octavia-api" in pool.hosts[n].active for n in HOSTS)


def test_too_little_space_refuses_the_stage_and_sends_nothing_else(tmp_path: Path) -> None:
    plan, ctx = plan_for(tmp_path, [STAGE], vars={"stage_free_mb": 8000})
    pool = FakePool(**{n: DebHost(n) for n in HOSTS})
    res, sink = execute(plan, ctx, pool)
    assert res.status == "failed" and res.refused and res.message == "step stage-packages refused"
    out = sink.outcome("stage-packages", "ctl1")
    assert out.message.startswith("refused: 5120 MiB free on ctl1")
    assert "8000 MiB needed (vars.stage_free_mb)" in out.message
    assert not any("apt-get" in c for h in pool.hosts.values() for c in h.commands)


def test_a_flavor_without_the_prepare_actions_is_refused_at_planning(tmp_path: Path) -> None:
    flavor = Path(__file__).parent / "corpus" / "good" / "flavors" / "testflavor.yaml"
    with pytest.raises(InvalidInput) as err:
        plan_for(tmp_path, [STAGE], flavor=str(flavor))
    text = str(err.value) + " ".join(d.message for d in err.value.diagnostics)
    assert "has no action 'packages_free_mb'" in text and "stage_before_outage=false" in text


def test_the_staged_check_runs_the_staged_venv_and_is_unsupported_for_packages(
        tmp_path: Path) -> None:
    check = {"id": "upgrade-check-staged", "name": "Check", "kind": "upgrade_check",
             "with": {"code": "staged", "on_error": "approve"}}
    plan, _ = plan_for(tmp_path, [check], flavor="venv")
    assert plan.step("upgrade-check-staged").command("ctl1", "check").text.startswith(
        "/opt/octavia/venvs/octavia-2025.1/bin/octavia-status ")
    plan, ctx = plan_for(tmp_path, [check], flavor="deb")
    res, sink = execute(plan, ctx, FakePool(**{n: DebHost(n) for n in HOSTS}))
    assert res.status == "failed"
    assert "flavor deb cannot run staged code" in sink.outcome("upgrade-check-staged",
                                                               "ctl1").message


def test_the_api_under_apache_mod_wsgi() -> None:
    deb = load_flavor("deb")
    ctx = {"vars": {**deb.vars, "api_wsgi": "apache"}, "service": "api"}
    assert render_action(deb, "service_stop", ctx) == (
        "a2dissite -q octavia-api && systemctl reload apache2")
    assert render_action(deb, "service_start", ctx) == (
        "a2ensite -q octavia-api && systemctl reload apache2")
    # the other services keep their units
    assert render_action(deb, "service_stop", {**ctx, "service": "worker"}) == (
        "systemctl stop octavia-worker")
    assert render_action(deb, "service_stop", {"vars": deb.vars, "service": "api"}) == (
        "systemctl stop octavia-api")
    rdo = load_flavor("rdo")
    assert render_action(rdo, "service_stop", {"vars": {**rdo.vars, "api_wsgi": "apache"},
                                               "service": "api"}).startswith(
        "mv -f /etc/httpd/conf.d/10-octavia_wsgi.conf ")


@pytest.mark.parametrize(("text", "major"), [("16.1.0", 16), ("2:16.0.0-0ubuntu1", 16),
                                             ("1:15.0.1-1.el9", 15), ("", None), ("dev", None)])
def test_major_of_reads_pip_dpkg_and_rpm_versions(text: str, major: int | None) -> None:
    assert major_of(text) == major

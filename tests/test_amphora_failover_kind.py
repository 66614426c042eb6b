"""The amphora_failover kind through the executor, against a stand-in Octavia API.

What the lab cannot easily show: the refusals (health manager down, a load
balancer not ACTIVE), a filter matching nothing, and API failures (unreachable,
401, 500) ending the step with the API's words. The failovers themselves run
against the real API in tests/lab/test_amphora_failover.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from octavia_stub import OctaviaStub
from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.executor import Executor
from octavia_upgrade.flavors import load_flavor
from octavia_upgrade.inventory import load_inventory
from octavia_upgrade.loader import load_runbook
from octavia_upgrade.plan import LOCAL, build_plan, resolve_params, run_contexts
from octavia_upgrade.testing import FakePool, FakeTransport, result
from test_executor import Sink, approve

RUN_ID = "20261205-120000-beef"


def lb(lb_id: str, status: str = "ACTIVE", listeners: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"id": lb_id, "name": lb_id, "provider": "amphora", "provisioning_status": status,
            "operating_status": "ONLINE", "listeners": [{"id": i} for i in listeners],
            "pools": []}


def run_step(tmp: Path, endpoint: str, with_: dict[str, Any], *,
             hm_running: bool = True) -> tuple[Any, Sink, Any]:
    inv = tmp / "inventory.yaml"
    inv.write_text(yaml.safe_dump({
        "apiVersion": "octavia-upgrade/v1", "kind": "Inventory", "deployment": "test",
        "flavor": "deb",
        "vars": {"octavia_api_endpoint": endpoint, "octavia_api_project_id": "p1",
                 "octavia_api_timeout": 5},
        "hosts": {"hm1": {"address": "192.0.2.10", "roles": ["health-manager", "api"]}}}))
    rb = tmp / "unit.yaml"
    rb.write_text(yaml.safe_dump({
        "apiVersion": "octavia-upgrade/v2", "kind": "Runbook",
        "metadata": {"name": "unit", "from": "epoxy", "to": "flamingo", "revision": 1},
        "steps": [{"id": "failover", "name": "Fail over", "kind": "amphora_failover",
                   "data_plane_impact": "seconds per VIP", "with": with_}]}))
    catalog = load_catalog()
    runbook = load_runbook(rb, catalog=catalog)
    inventory = load_inventory(inv)
    flavor = load_flavor(inventory.flavor)
    params = resolve_params(runbook, {})
    plan = build_plan(runbook, inventory, flavor, catalog, params)
    pool = FakePool()
    pool.hosts["hm1"] = FakeTransport("hm1").on(r"is-active", result(0 if hm_running else 3))
    sink = Sink()
    res = Executor(plan=plan, contexts=run_contexts(runbook, inventory, flavor, catalog, params,
                                                    RUN_ID),
                   runners=pool.get, local=pool.get(LOCAL), sink=sink,
                   prompter=approve).execute()
    return res, sink, plan


def test_the_plan_states_the_filter_and_that_the_selection_is_known_only_at_run_time(
        tmp_path: Path) -> None:
    with OctaviaStub() as api:
        _res, _sink, plan = run_step(tmp_path, api.url, {"listener_protocols": ["UDP"],
                                                         "max_concurrency": "25%"})
    cmds = {c.key: c for c in plan.step("failover").commands["hm1"]}
    assert list(cmds) == ["status:health-manager", "select", "approval", "failover"]
    assert "a listener of protocol UDP" in cmds["select"].text
    assert f"{api.url} without keystone (project p1)" in cmds["select"].text
    assert "known only when the step runs" in cmds["select"].note
    assert "max_concurrency 25%" in cmds["failover"].text


def test_a_health_manager_that_is_down_refuses_every_failover(tmp_path: Path) -> None:
    with OctaviaStub() as api:
        api.loadbalancers = [lb("lb1")]
        res, sink, _ = run_step(tmp_path, api.url, {}, hm_running=False)
    out = sink.outcome("failover", "hm1")
    assert res.status == "failed" and out.status == "failed"
    assert "health manager is not running on hm1" in out.message
    assert api.requests == []  # the API was not even asked
    assert sink.approvals == []


def test_a_selected_load_balancer_that_is_not_active_refuses_the_step(tmp_path: Path) -> None:
    with OctaviaStub() as api:
        api.loadbalancers = [lb("lb1"), lb("lb2", "PENDING_UPDATE")]
        res, sink, _ = run_step(tmp_path, api.url, {})
    out = sink.outcome("failover", "hm1")
    assert res.status == "failed"
    assert "not ACTIVE: lb2 (PENDING_UPDATE)" in out.message
    assert not [r for r in api.requests if r[0] == "PUT"]  # nothing failed over
    assert sink.approvals == []


def test_a_filter_matching_nothing_is_reported_not_an_error_unless_asked(tmp_path: Path) -> None:
    with OctaviaStub() as api:
        api.loadbalancers = [lb("lb1", listeners=("l1",))]
        api.listeners = [{"id": "l1", "protocol": "HTTP", "protocol_port": 80}]
        res, sink, _ = run_step(tmp_path, api.url, {"listener_protocols": ["UDP"]})
        out = sink.outcome("failover", "hm1")
        assert res.status == "succeeded" and out.status == "succeeded"
        assert "no load balancer matches the filter: provider amphora; a listener of " \
               "protocol UDP" in out.stdout
        assert ("amphora_failover", ) == tuple(k for k, _ in out.evidence)
        res, sink, _ = run_step(tmp_path, api.url, {"listener_protocols": ["UDP"],
                                                    "fail_if_none": True})
    assert res.status == "failed"
    assert "no load balancer matches" in sink.outcome("failover", "hm1").message


@pytest.mark.parametrize(("error", "words"), [
    ((401, "The request you have made requires authentication."),
     "HTTP 401: credentials refused or expired: The request you have made requires"),
    ((500, "Internal Server Error: database unavailable"),
     "HTTP 500: Internal Server Error: database unavailable"),
])
def test_an_api_error_ends_the_step_with_the_apis_message(tmp_path: Path, error, words) -> None:
    with OctaviaStub() as api:
        api.error = error
        res, sink, _ = run_step(tmp_path, api.url, {})
    out = sink.outcome("failover", "hm1")
    assert res.status == "failed" and out.status == "failed"
    assert out.message.startswith("Octavia API: list load balancers: ")
    assert words in out.message
    assert "Traceback" not in out.message


def test_an_unreachable_api_ends_the_step_with_a_clear_message(tmp_path: Path) -> None:
    with OctaviaStub() as api:
        url = api.url  # a port nobody listens on once the stub is gone
    res, sink, _ = run_step(tmp_path, url, {})
    out = sink.outcome("failover", "hm1")
    assert res.status == "failed"
    assert out.message.startswith("Octavia API: ") and url in out.message

"""The pure parts of amphora failovers: selection, rate control, VIP statistics, settings."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from octavia_upgrade.lbapi.rate import RateControl, concurrency, error_budget, parse_limit
from octavia_upgrade.lbapi.selection import Filter, parse_time, select, topology_of
from octavia_upgrade.lbapi.settings import ApiSettings
from octavia_upgrade.lbapi.vipprobe import summarize, target

LBS = [
    {"id": "lb-tcp", "name": "web", "provider": "amphora", "provisioning_status": "ACTIVE",
     "operating_status": "ONLINE", "vip_address": "10.0.0.5",
     "listeners": [{"id": "l1"}], "pools": [{"id": "p1"}]},
    {"id": "lb-udp", "name": "dns", "provider": "amphora", "provisioning_status": "ACTIVE",
     "operating_status": "ONLINE", "vip_address": "10.0.0.6",
     "listeners": [{"id": "l2"}, {"id": "l3"}], "pools": [{"id": "p2"}]},
    {"id": "lb-ovn", "name": "ovn", "provider": "ovn", "provisioning_status": "ACTIVE",
     "operating_status": "ONLINE", "listeners": [{"id": "l4"}], "pools": []},
]
LISTENERS = [{"id": "l1", "protocol": "HTTP", "protocol_port": 80},
             {"id": "l2", "protocol": "UDP", "protocol_port": 53},
             {"id": "l3", "protocol": "TCP", "protocol_port": 53},
             {"id": "l4", "protocol": "UDP", "protocol_port": 53}]
AMPS = [
    {"id": "a1", "loadbalancer_id": "lb-tcp", "status": "ALLOCATED", "role": "STANDALONE",
     "image_id": "img-new", "created_at": "2026-12-01T10:00:00"},
    {"id": "a2", "loadbalancer_id": "lb-udp", "status": "ALLOCATED", "role": "MASTER",
     "image_id": "img-old", "created_at": "2024-01-01T10:00:00"},
    {"id": "a3", "loadbalancer_id": "lb-udp", "status": "ALLOCATED", "role": "BACKUP",
     "image_id": "img-new", "created_at": "2026-12-01T10:00:00"},
    {"id": "a0", "loadbalancer_id": "lb-tcp", "status": "DELETED", "role": "STANDALONE",
     "image_id": "img-old", "created_at": "2020-01-01T10:00:00"},
]
POOLS = [{"id": "p1", "health_monitor_id": "hm1"}, {"id": "p2", "health_monitor_id": None}]
HMS = [{"id": "hm1", "type": "PING"}]


def ids(flt: Filter, **kw) -> list[str]:
    return [c.id for c in select(flt, LBS, AMPS, LISTENERS, POOLS, HMS, **kw)]


def test_the_default_provider_filter_leaves_other_providers_alone() -> None:
    assert ids(Filter(provider="amphora")) == ["lb-tcp", "lb-udp"]


def test_a_listener_protocol_selects_only_the_load_balancers_that_have_one() -> None:
    assert ids(Filter(provider="amphora", listener_protocols=("UDP",))) == ["lb-udp"]
    assert ids(Filter(listener_protocols=("udp", "TERMINATED_HTTPS"))) == ["lb-udp", "lb-ovn"]


def test_amphora_filters_ignore_deleted_amphorae() -> None:
    # lb-tcp's deleted amphora is on the old image and old: it does not count.
    assert ids(Filter(image_not="img-new")) == ["lb-udp"]
    assert ids(Filter(created_before=parse_time("2025-01-01T00:00:00Z"))) == ["lb-udp"]


def test_topology_comes_from_the_amphora_roles() -> None:
    assert topology_of([AMPS[1], AMPS[2]]) == "ACTIVE_STANDBY"
    assert ids(Filter(topology="SINGLE")) == ["lb-tcp"]
    assert ids(Filter(topology="ACTIVE_STANDBY")) == ["lb-udp"]


def test_health_monitor_type_and_explicit_ids_combine_with_and() -> None:
    assert ids(Filter(health_monitor_types=("PING",))) == ["lb-tcp"]
    assert ids(Filter(loadbalancers=("dns", "lb-tcp"), listener_protocols=("UDP",))) == ["lb-udp"]
    assert ids(Filter(loadbalancers=("nope",))) == []


def test_a_load_balancer_whose_amphorae_are_all_newer_than_the_run_is_fresh() -> None:
    since = datetime(2026, 11, 1, tzinfo=timezone.utc)
    fresh = {c.id: c.fresh for c in select(Filter(), LBS, AMPS, LISTENERS, fresh_since=since)}
    assert fresh == {"lb-tcp": True, "lb-udp": False, "lb-ovn": False}


def test_the_filter_is_described_in_words() -> None:
    words = Filter(provider="amphora", listener_protocols=("UDP", "TERMINATED_HTTPS"),
                   image_not="img-new").describe()
    assert words == ["provider amphora", "a listener of protocol UDP or TERMINATED_HTTPS",
                     "an amphora whose image is not img-new"]
    assert Filter().describe() == ["every load balancer"]


@pytest.mark.parametrize(("value", "targets", "limit"), [
    (5, 20, 5), ("5", 20, 5), ("25%", 20, 5), ("10%", 15, 2), ("1%", 3, 1), ("0%", 9, 1)])
def test_max_concurrency_takes_a_count_or_a_percentage_rounded_up(value, targets, limit) -> None:
    assert concurrency(value, targets) == limit


def test_max_errors_percentages_round_down() -> None:
    assert error_budget("10%", 15) == 1
    assert error_budget("10%", 9) == 0
    assert error_budget(2, 9) == 2


@pytest.mark.parametrize("bad", ["x", "-1", "150%", -3, True, "5.5"])
def test_a_limit_that_is_neither_count_nor_percentage_is_refused(bad) -> None:
    with pytest.raises(ValueError):
        parse_limit(bad)


def test_the_canary_runs_alone_then_max_concurrency_at_once() -> None:
    rate = RateControl(10, canary=1, max_concurrency="30%", max_errors=0)
    assert rate.limit == 3
    assert rate.may_start(0)
    rate.start()
    assert not rate.may_start(1)  # the canary runs alone
    rate.finish(ok=True)
    started = 0
    while rate.may_start(started):
        rate.start()
        started += 1
    assert started == 3


def test_a_failed_canary_stops_everything_even_within_max_errors() -> None:
    rate = RateControl(10, canary=1, max_concurrency=5, max_errors=5)
    rate.start()
    rate.finish(ok=False)
    assert rate.canary_failed and rate.stopped and not rate.may_start(0)


def test_max_errors_exceeded_stops_new_starts() -> None:
    rate = RateControl(10, canary=0, max_concurrency=2, max_errors=1)
    rate.start(), rate.start()
    rate.finish(ok=False)
    assert rate.may_start(1)  # one failure is tolerated
    rate.start()
    rate.finish(ok=False)
    assert rate.exceeded and not rate.may_start(0)


def test_vip_statistics_measure_the_longest_gap_to_the_next_good_sample() -> None:
    samples = [(0.0, True), (0.2, False), (0.4, False), (0.6, True), (0.8, False), (1.0, True)]
    stats = summarize("10.0.0.5:80", samples)
    assert stats.samples == 6 and stats.failures == 3
    assert stats.availability == 50.0
    assert stats.longest_gap == pytest.approx(0.4)


def test_the_vip_is_probed_through_an_inventory_probe_on_its_address_else_a_tcp_listener() -> None:
    assert target(LBS[0], LISTENERS, ["http://10.0.0.5:8080/"]) == ("10.0.0.5", 8080)
    assert target(LBS[0], LISTENERS) == ("10.0.0.5", 80)
    assert target(LBS[1], LISTENERS) == ("10.0.0.6", 53)  # the TCP listener, not the UDP one
    assert target(LBS[2], LISTENERS) is None  # no VIP address


def test_api_settings_come_from_inventory_vars_and_never_hold_a_password() -> None:
    lab = ApiSettings.from_vars({"octavia_api_endpoint": "http://127.0.0.1:9876",
                                 "octavia_api_project_id": "lab"})
    assert lab.noauth
    assert lab.describe() == "http://127.0.0.1:9876 without keystone (project lab)"
    prod = ApiSettings.from_vars({"octavia_api_cloud": "prod", "octavia_api_region": "east"})
    assert not prod.noauth
    assert prod.describe() == "keystone via clouds.yaml cloud 'prod', region east"
    assert "OS_*" in ApiSettings().describe()


def test_snapshots_compare_status_changes_disappearances_and_appearances() -> None:
    from octavia_upgrade.lbapi.snapshot import compare

    def o(kind, i, prov="ACTIVE", oper="ONLINE", name=None):
        return {"type": kind, "id": i, "name": name, "provisioning_status": prov,
                "operating_status": oper}

    before = [o("loadbalancer", "lb1"), o("listener", "l1"), o("member", "m1"),
              o("pool", "p1", name="web")]
    after = [o("loadbalancer", "lb1"), o("listener", "l1", oper="OFFLINE"),
             o("pool", "p1", name="web"), o("l7policy", "x1"), o("loadbalancer", "canary")]
    changes = compare(before, after, ignore=["canary"])
    assert [(c.type, c.id, c.change) for c in changes] == [
        ("listener", "l1", "changed"), ("member", "m1", "disappeared"),
        ("l7policy", "x1", "appeared")]
    assert changes[0].describe() == "listener l1: ACTIVE/ONLINE → ACTIVE/OFFLINE"
    assert compare(before, before) == []


def test_the_execution_report_lists_each_changed_object_as_a_deviation() -> None:
    from octavia_upgrade.reports import evidence as ev

    def snap(step, at, objects):
        return {"kind": "lb_objects", "step_id": step, "host": "local", "recorded_at": at,
                "data": {"label": step, "objects": objects, "counts": {}}}

    lb = {"type": "loadbalancer", "id": "lb1", "name": "web",
          "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}
    canary = {**lb, "id": "c1", "name": "octavia-upgrade-canary-20261205-1"}
    cmp = ev.objects([snap("before", "2026-12-05T10:00:00Z", [lb]),
                      snap("after", "2026-12-05T11:00:00Z",
                           [{**lb, "operating_status": "ERROR"}, canary])])
    assert cmp is not None and cmp.before_step == "before" and cmp.after_step == "after"
    assert [c.message for c in cmp.changes] == [
        "loadbalancer web lb1: ACTIVE/ONLINE → ACTIVE/ERROR"]  # the canary is left out
    assert ev.objects([snap("before", "2026-12-05T10:00:00Z", [lb])]) is None

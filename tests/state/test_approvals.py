"""Approvals by identity on real SQLite, PostgreSQL and MariaDB.

A run opens a request; decisions come from other processes; refusals
record nothing; two processes racing with one identity count once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from octavia_upgrade.errors import ApprovalRefused, InvalidInput
from octavia_upgrade.state import Store

from test_store import new_run, peers, store  # noqa: F401  (fixtures)


def open_gate(store: Store, run_id: str, **kw: Any) -> Any:
    args = dict(message="Stop the control plane?", data_plane_impact=None, required=1,
                four_eyes=False, outage_gate=True, operator="alice@ops1", expires_at=None,
                on_expiry=None)
    args.update(kw)
    return store.open_request(run_id, "approve-outage", **args)


def test_a_waiting_step_is_listed_and_decisions_are_recorded_with_identity(
        store: Store) -> None:
    run = new_run(store)
    req = open_gate(store, run.id, required=2, four_eyes=True)
    (waiting,) = store.approval_requests()
    assert (waiting.step_id, waiting.required, waiting.four_eyes, waiting.status) == (
        "approve-outage", 2, True, "waiting")
    assert waiting.who_may_approve() == "2 more of anyone but alice@ops1"

    store.decide(run.id, "approve-outage", decision="approved", identity="bob@ops2",
                 origin="ops2", comment="checked the LB list")
    (waiting,) = store.approval_requests(run.id)
    assert waiting.approved_by == ("bob@ops2",)
    assert waiting.who_may_approve() == ("1 more of anyone but alice@ops1 "
                                         "(approved by bob@ops2)")
    (d,) = store.decisions(req.id)
    assert (d.identity, d.user, d.origin, d.comment, d.how, d.decision) == (
        "bob@ops2", "bob", "ops2", "checked the LB list", "cli", "approved")
    assert [a.as_dict()["identity"] for a in store.approvals(run.id)] == ["bob@ops2"]

    assert store.resolve_request(req.id, "approved")
    assert not store.resolve_request(req.id, "abandoned")  # already resolved
    assert store.approval_requests() == []
    (done,) = store.approval_requests(run.id, waiting_only=False)
    assert done.status == "approved" and done.resolved_at is not None


@pytest.mark.parametrize("case", ["not-waiting", "four-eyes", "twice", "other-run"])
def test_a_decision_that_cannot_count_is_refused_and_records_nothing(
        store: Store, case: str) -> None:
    run = new_run(store)
    req = open_gate(store, run.id, four_eyes=True, required=2)
    store.decide(run.id, "approve-outage", decision="approved", identity="bob@ops2",
                 origin="ops2")
    before = store.approvals(run.id)
    if case == "other-run":
        with pytest.raises(InvalidInput, match="no run 'nope'"):
            store.decide("nope", "approve-outage", decision="approved", identity="carol@x",
                         origin="x")
    else:
        step, who, match = {
            "not-waiting": ("db-upgrade", "carol@x", "is not waiting .*approve-outage"),
            "four-eyes": ("approve-outage", "alice@ops1", "requires four eyes: alice@ops1"),
            "twice": ("approve-outage", "bob@ops2", "already approved"),
        }[case]
        with pytest.raises(ApprovalRefused, match=match) as err:
            store.decide(run.id, step, decision="approved", identity=who, origin="x")
        assert "nothing was recorded" in str(err.value)
        assert err.value.exit_code == 3
    assert store.approvals(run.id) == before
    assert len(store.decisions(req.id)) == 1


def test_two_processes_racing_with_one_identity_count_once(
        store: Store, peers: Any) -> None:  # noqa: F811
    run = new_run(store)
    req = open_gate(store, run.id, required=2)
    racers = peers(4)
    for p in racers:
        p.ready()
    # Every peer sends before any answers: the inserts race in the database.
    for p in racers:
        p.send(f"approve {run.id} approve-outage dave@ops3")
    answers = [p.answer() for p in racers]
    assert sum(1 for a in answers if a.get("won")) == 1, answers
    lost = [a for a in answers if not a.get("won")]
    assert all(a["type"] == "ApprovalRefused" and "dave@ops3" in a["error"] for a in lost)
    assert [d.identity for d in store.decisions(req.id)] == ["dave@ops3"]
    (waiting,) = store.approval_requests(run.id)
    assert waiting.approved_by == ("dave@ops3",)


def test_expiry_is_recorded_as_a_decision_of_nobody(store: Store) -> None:
    run = new_run(store)
    req = open_gate(store, run.id, expires_at=store.clock() + timedelta(seconds=1),
                    on_expiry="reject")
    exp = store.record_expiry(req, "reject")
    assert store.resolve_request(req.id, "expired")
    (a,) = store.approvals(run.id)
    assert (a.decision, a.how, a.identity, a.user) == ("expired", "timeout", None, "timeout")
    assert "declared outcome: reject" in (exp.comment or "")


def test_reopening_a_step_abandons_the_older_request(store: Store) -> None:
    run = new_run(store)
    old = open_gate(store, run.id)
    new = open_gate(store, run.id)
    states = {r.id: r.status for r in store.approval_requests(run.id, waiting_only=False)}
    assert states == {old.id: "abandoned", new.id: "waiting"}


def test_pause_and_continue_are_recorded_with_who(store: Store) -> None:
    run = new_run(store)
    assert store.paused_by(run.id) is None
    store.request_pause(run.id, "carol@noc")
    assert store.paused_by(run.id) == "carol@noc"
    assert store.get_run(run.id).as_dict()["paused"]["by"] == "carol@noc"
    with pytest.raises(ApprovalRefused, match="already paused by carol@noc"):
        store.request_pause(run.id, "dave@noc")
    assert store.request_continue(run.id, "dave@noc") == "carol@noc"
    assert store.paused_by(run.id) is None
    with pytest.raises(ApprovalRefused, match="is not paused"):
        store.request_continue(run.id, "dave@noc")
    kinds = [(e.kind, e.data.get("by")) for e in store.events(run.id)]
    assert kinds == [("pause-requested", "carol@noc"), ("continued", "dave@noc")]
    store.set_run_status(run.id, "succeeded")
    with pytest.raises(ApprovalRefused, match="is succeeded, not running"):
        store.request_pause(run.id, "carol@noc")


def test_the_change_record_is_kept_with_the_run(store: Store) -> None:
    run = new_run(store, change_id="CHG0012345", change_url="https://itsm.example/CHG0012345")
    again = store.get_run(run.id)
    assert (again.change_id, again.change_url) == ("CHG0012345",
                                                   "https://itsm.example/CHG0012345")
    assert again.as_dict()["change"] == {"id": "CHG0012345",
                                         "url": "https://itsm.example/CHG0012345"}


def test_a_finished_run_waits_for_nothing(store: Store) -> None:
    run = new_run(store)
    open_gate(store, run.id)
    assert store.abandon_requests(run.id) == 1
    assert store.approval_requests(run.id) == []
    store.set_run_status(run.id, "failed")
    with pytest.raises(ApprovalRefused, match="is failed: it waits for nothing"):
        store.decide(run.id, "approve-outage", decision="approved", identity="bob@x",
                     origin="x")
    assert store.approvals(run.id) == []

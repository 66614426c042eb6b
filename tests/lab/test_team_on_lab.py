"""A team runs an outage on the real lab: the run waits at its outage gate, another
identity approves it from a second process (or rejects it), events reach a local
receiver that checks their HMAC, the metrics file is kept current, and the live page
follows it in a real browser.

The runbook stops and starts the real Octavia API on every lab node, so the
outage is real and measured by the API probes; a finalizer starts the API again
should a test fail half-way, as the next tests need it.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.lab.api import OctaviaApi
from teamkit import (GATE, LabTeam, finish, gate_step, headless_browser, identity_conf,
                     killed_if_left, live_page_of, shown, wait_for_approval, wait_until)
from webhookrecv import Receiver

pytestmark = pytest.mark.lab

SECRET = "whsec-lab-5f2a9c0d"


@pytest.fixture
def team(lab, tmp_path: Path) -> Iterator[LabTeam]:
    yield LabTeam(state_dir=tmp_path / "state", inventory=lab.inventory_file, tmp=tmp_path)
    for node in _api_nodes(lab):  # whatever happened: the API runs again for the next tests
        lab.shell(node).run("systemctl start octavia-api")
    api = OctaviaApi(lab.state()["apis"][0])
    wait_until(api.loadbalancers, timeout=120, what="the lab's API answering again")


def _api_nodes(lab) -> list[str]:  # type: ignore[no-untyped-def]
    inv = yaml.safe_load(lab.inventory_file.read_text())
    return [n for n, h in inv["hosts"].items() if "api" in h["roles"]]


def _outage_runbook(lab, team: LabTeam, **gate: Any) -> Path:  # type: ignore[no-untyped-def]
    port = urlsplit(lab.state()["apis"][0]).port
    release = lab.state()["release"]
    names = load_catalog().names()
    doc = {"apiVersion": "octavia-upgrade/v1", "kind": "Runbook",
           "metadata": {"name": "team-outage", "from": release,
                        "to": names[names.index(release) + 1], "revision": 1,
                        "description": "the outage gate on the lab"},
           "steps": [
               {"id": "check-api", "name": "The API answers before the gate", "kind": "wait",
                "targets": {"roles": ["api"]},
                "with": {"http": f"http://{{{{ host.address }}}}:{port}/", "timeout": "30s"}},
               gate_step(**gate),
               {"id": "stop-api", "name": "Stop the API", "kind": "service",
                "targets": {"roles": ["api"]}, "with": {"action": "stop", "services": ["api"]}},
               # The real runbooks migrate the database here: a moment with the API
               # down, so that the probes (every 0.2 s) sample it down whatever the load.
               {"id": "hold", "name": "Keep the API down for a moment", "kind": "sleep",
                "with": {"duration": "2s"}},
               {"id": "start-api", "name": "Start the API", "kind": "service",
                "targets": {"roles": ["api"]}, "with": {"action": "start", "services": ["api"]}},
               {"id": "wait-api", "name": "Wait until every API answers", "kind": "wait",
                "targets": {"roles": ["api"]},
                "with": {"http": f"http://{{{{ host.address }}}}:{port}/", "timeout": "120s",
                         "interval": "250ms"}},
               # The API probes sample every 0.2 s beside the run: a moment after
               # wait-api lets them see every host answer before the run (and they) end,
               # as the real runbooks' later steps do.
               {"id": "settle", "name": "Let the probes see the API", "kind": "sleep",
                "with": {"duration": "2s"}},
           ]}
    path = team.tmp / "team-outage.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _dep(team: LabTeam) -> str:
    return str(yaml.safe_load(team.inventory.read_text())["deployment"])


def test_an_outage_on_the_lab_approved_by_another_identity_events_metrics_and_live_page(
        lab, team: LabTeam) -> None:
    from selenium.webdriver.common.by import By

    rb = _outage_runbook(lab, team, four_eyes=True)
    hooks = f"[webhooks]\nurl = {{url}}\nsecret = {SECRET}\nattempts = 2\nbackoff = 0.1\n"
    with Receiver(SECRET) as rx, live_page_of(team.state_dir) as page, \
            headless_browser() as browser:
        conf = team.tmp / "operator.conf"
        conf.write_text(hooks.format(url=rx.url))
        proc = team.popen("--config-file", str(conf), "run", str(rb), "-i", str(team.inventory),
                          "--change", "CHG-LAB-21", "--change-url",
                          "https://itsm.example/CHG-LAB-21")
        with killed_if_left(proc):
            waiting = wait_for_approval(team, proc, timeout=120)
            run_id = waiting["run_id"]
            assert waiting["step_id"] == GATE and waiting["four_eyes"] is True
            # nothing is stopped while the run waits: the API answers
            assert OctaviaApi(lab.state()["apis"][0]).loadbalancers()
            # the metrics textfile says so, kept current by the waiting run
            prom = team.state_dir / "octavia_upgrade.prom"
            waiting_line = (f'octavia_upgrade_approvals_waiting{{deployment="{_dep(team)}",'
                            f'run_id="{run_id}",step_id="{GATE}"}} 1.0')
            wait_until(lambda: prom.exists() and waiting_line in prom.read_text(), timeout=15,
                       what="the waiting approval in the metrics file")
            # the live page shows the run waiting, with the command that approves it
            browser.get(page)
            wait_until(lambda: browser.find_element(
                By.CSS_SELECTOR, f'#waiting tr[data-step="{GATE}"]').is_displayed(),
                what="the waiting approval on the live page")
            assert f"octavia-upgrade approve {run_id} {GATE}" in browser.find_element(
                By.ID, "approve-hint").text
            assert "CHG-LAB-21" in browser.find_element(By.ID, "d-summary").text
            browser.execute_script("window.__sameDocument = 21;")

            own = team.cli("approve", run_id, GATE)  # four eyes: not the operator
            assert own.returncode == 3 and "requires four eyes" in own.stderr
            bob = team.cli("--config-file", identity_conf(team, "bob@example.org"), "approve",
                           run_id, GATE, "--comment", "on-call informed")
            assert bob.returncode == 0, bob.stderr
            rc, out = finish(proc, timeout=300)
        assert rc == 0, out
        wait_until(lambda: browser.find_element(By.ID, "d-status").text == "succeeded",
                   what="the run to show as succeeded on the live page")
        wait_until(lambda: "bob@example.org" in browser.find_element(By.ID, "decisions").text,
                   what="bob's approval on the live page")
        assert browser.execute_script("return window.__sameDocument;") == 21  # never reloaded
        assert "stop-api" in browser.find_element(By.ID, "steps").text
        live = json.loads(urllib.request.urlopen(f"{page}api/runs/{run_id}").read())
        assert SECRET not in json.dumps(live)

    # the receiver checked every signature and saw the outage begin and end
    assert rx.bad_signatures == 0 and rx.events
    kinds = rx.kinds()
    assert kinds[0] == "run-started" and kinds[-1] == "run-finished", kinds
    for kind in ("approval-waiting", "approved", "outage-started", "outage-ended"):
        assert kind in kinds, kinds
    assert kinds.index("approved") < kinds.index("outage-started") < kinds.index("outage-ended")
    ended = next(e for e in rx.events if e["event"] == "outage-ended")
    assert ended["data"]["seconds"] > 0
    assert all(e["run"]["change"]["id"] == "CHG-LAB-21" for e in rx.events)
    secrets = yaml.safe_load(team.inventory.read_text())["secrets"].values()
    assert not any(s in raw.decode() for raw in rx.raw for s in (SECRET, *secrets))

    # the state database, the report and the metrics agree
    doc = shown(team, run_id)
    (a,) = doc["approvals"]
    assert (a["decision"], a["identity"], a["comment"]) == (
        "approved", "bob@example.org", "on-call informed")
    report = json.loads(team.cli("report", run_id, "-f", "json").stdout)
    assert report["outcome"]["status"] == "succeeded"
    assert report["outage"]["status"] == "measured", report["outage"]
    assert report["outage"]["api_hosts"] == _api_nodes(lab)
    api_probes = [p for p in report["probes"] if p["kind"] == "api"]
    assert api_probes and all(p["failures"] > 0 for p in api_probes)  # it really was down
    text = prom.read_text()
    assert (f'octavia_upgrade_run_running{{deployment="{_dep(team)}",run_id="{run_id}"}} 0.0'
            in text)
    assert "octavia_upgrade_outage_seconds{" in text
    md = team.cli("report", run_id, "-f", "markdown").stdout
    assert "| Change record | CHG-LAB-21 (https://itsm.example/CHG-LAB-21) |" in md
    assert "| approved | bob@example.org |" in md


def test_a_rejection_on_the_lab_stops_nothing(lab, team: LabTeam) -> None:
    rb = _outage_runbook(lab, team)
    with Receiver(SECRET) as rx:
        conf = team.tmp / "operator.conf"
        conf.write_text(f"[webhooks]\nurl = {rx.url}\nsecret = {SECRET}\n")
        proc = team.popen("--config-file", str(conf), "run", str(rb), "-i", str(team.inventory))
        with killed_if_left(proc):
            run_id = wait_for_approval(team, proc, timeout=120)["run_id"]
            res = team.cli("--config-file", identity_conf(team, "carol@noc"), "reject", run_id,
                           GATE, "--reason", "a P1 incident is open")
            assert res.returncode == 0, res.stderr
            rc, out = finish(proc, timeout=120)
    assert rc == 1, out
    assert "rejected by carol@noc: a P1 incident is open" in out
    doc = shown(team, run_id)
    assert "stop-api" not in {r["step_id"] for r in doc["results"]}
    (a,) = doc["approvals"]
    assert (a["decision"], a["identity"], a["comment"]) == (
        "rejected", "carol@noc", "a P1 incident is open")
    # the API never went down: every probe sample answered
    report = json.loads(team.cli("report", run_id, "-f", "json").stdout)
    api_probes = [p for p in report["probes"] if p["kind"] == "api"]
    assert api_probes and all(p["failures"] == 0 for p in api_probes), api_probes
    assert rx.bad_signatures == 0
    kinds = rx.kinds()
    assert "rejected" in kinds and "outage-started" not in kinds, kinds

"""The live page in a real browser (Debian's chromium through chromedriver and selenium),
against a real run that waits at its outage gate and is approved from another process.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from simlab import Sim
from teamkit import (GATE, finish, headless_browser, identity_conf, killed_if_left,
                     live_page_of, wait_for_approval, wait_until)
from test_team_e2e import outage_runbook

pytestmark = pytest.mark.lab


@pytest.fixture
def browser() -> Iterator[Any]:
    with headless_browser() as driver:
        yield driver


@pytest.fixture
def live_page(sim: Sim) -> Iterator[str]:
    with live_page_of(sim.state_dir) as url:
        yield url


def test_the_live_page_follows_a_run_through_its_approval_without_reloading(
        sim: Sim, live_page: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    rb = outage_runbook(sim)
    proc = sim.popen("run", str(rb), "-i", str(sim.inventory), "--change", "CHG0099")
    with killed_if_left(proc):
        run_id = wait_for_approval(sim, proc)["run_id"]
        browser.get(live_page)
        wait_until(lambda: browser.find_element(By.CSS_SELECTOR, f'tr.run[data-run="{run_id}"]'),
                   what="the run in the list")
        wait_until(lambda: browser.find_element(
            By.CSS_SELECTOR, f'#waiting tr[data-step="{GATE}"]').is_displayed(),
            what="the waiting approval")
        assert browser.find_element(By.ID, "d-status").text == "running"
        assert "waiting for approval" in browser.find_element(By.ID, "d-current").text
        assert f"octavia-upgrade approve {run_id} {GATE}" in browser.find_element(
            By.ID, "approve-hint").text
        assert "CHG0099" in browser.find_element(By.ID, "d-summary").text
        browser.execute_script("window.__sameDocument = 42;")

        res = sim.cli("--config-file", identity_conf(sim, "erin@example.org"), "approve",
                      run_id, GATE, "--comment", "go")
        assert res.returncode == 0, res.stderr
        rc, out = finish(proc)
        assert rc == 0, out
        wait_until(lambda: browser.find_element(By.ID, "d-status").text == "succeeded",
                   what="the run to show as succeeded")
        wait_until(lambda: "erin@example.org" in browser.find_element(By.ID, "decisions").text,
                   what="the decision")
    # updated in place: the same document, never reloaded
    assert browser.execute_script("return window.__sameDocument;") == 42
    assert not browser.find_element(By.ID, "waiting-box").is_displayed()
    steps = browser.find_element(By.ID, "steps").text
    assert "stop-api" in steps and "start-api" in steps and "succeeded" in steps
    assert browser.find_element(By.ID, "d-api").text.startswith("up")
    # read-only, and nothing that could hold a secret
    doc = json.loads(urllib.request.urlopen(f"{live_page}api/runs/{run_id}").read())
    assert not {"params", "plan", "commands"} & set(doc["run"])
    req = urllib.request.Request(f"{live_page}api/runs/{run_id}", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 405

"""The live page in a real browser (Debian's chromium through chromedriver and selenium),
against a real run that waits at its outage gate and is approved from another process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from simlab import Sim
from test_team_e2e import GATE, finish, identity_conf, outage_runbook, wait_for_approval

pytestmark = pytest.mark.lab

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[test]')"
    if not CHROMIUM or not DRIVER:
        return "chromium and chromium-driver are not installed (scripts/bootstrap installs them)"
    return None


@pytest.fixture
def browser() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {missing}")
        pytest.skip(missing)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=opts)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def live_page(sim: Sim) -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "octavia_upgrade", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(sim.state_dir)})
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert "serving the live page on http://127.0.0.1:" in line, line + proc.stderr.read()  # type: ignore[union-attr]
        yield line.split(" on ", 1)[1].split()[0]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def wait_until(check: Any, timeout: float = 30, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # noqa: BLE001 - the page may be between two updates
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_live_page_follows_a_run_through_its_approval_without_reloading(
        sim: Sim, live_page: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    rb = outage_runbook(sim)
    proc = sim.popen("run", str(rb), "-i", str(sim.inventory), "--change", "CHG0099")
    try:
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
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
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

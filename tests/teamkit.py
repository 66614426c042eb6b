"""What the team tests share, on the simulated control plane and on the lab: the
outage gate, identities, waiting for an approval, and the live page in a real
browser (Debian's chromium through chromedriver and selenium).

A *team* is anything with ``cli(*args)`` (the real CLI on one state
database) and ``tmp`` (a folder for configuration files): the ``sim``
fixture, or :class:`LabTeam` for the lab.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

GATE = "approve-control-plane-outage"

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


@dataclass
class LabTeam:
    """The real CLI on its own state database, for runs on the rehearsal lab."""

    state_dir: Path
    inventory: Path
    tmp: Path

    def _env(self) -> dict[str, str]:
        return {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(self.state_dir)}

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args],
                              capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              timeout=timeout, env=self._env())

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "octavia_upgrade", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True, env=self._env())


def gate_step(**gate: Any) -> dict[str, Any]:
    """The outage approval (``gate``: its extra settings, e.g. ``four_eyes=True``)."""
    return {"id": GATE, "name": "Approve the outage", "kind": "approval",
            "with": {"message": "Stop the Octavia API on every node?", "outage_gate": True,
                     "data_plane_impact": "none: amphorae keep serving", **gate}}


def identity_conf(team: Any, name: str, extra: str = "") -> str:
    """A configuration file that makes the CLI act as ``name``."""
    path = team.tmp / f"{name.split('@')[0]}.conf"
    path.write_text(f"[approvals]\nidentity = {name}\npoll_interval = 0.2\n{extra}")
    return str(path)


def wait_for_approval(team: Any, proc: Any, timeout: float = 60) -> dict[str, Any]:
    """The first waiting approval, as ``approvals -f json`` lists it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read() + proc.stderr.read()
        res = team.cli("approvals", "-f", "json")
        assert res.returncode == 0, res.stderr
        waiting = json.loads(res.stdout)
        if waiting:
            return dict(waiting[0])
        time.sleep(0.3)
    raise AssertionError("the run never waited for its approval")


@contextmanager
def killed_if_left(proc: Any) -> Iterator[Any]:
    """``proc``, killed by its PID on the way out if it is still running (a failed test)."""
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def finish(proc: Any, timeout: float = 60) -> tuple[int, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out + err


def shown(team: Any, run_id: str) -> dict[str, Any]:
    res = team.cli("show", run_id, "-f", "json")
    assert res.returncode == 0, res.stderr
    return dict(json.loads(res.stdout))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))


def wait_until(check: Any, timeout: float = 30, what: str = "") -> Any:
    """Poll ``check`` until it returns something true (page elements may be between updates)."""
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


def _browser_missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install '.[test]')"
    if not CHROMIUM or not DRIVER:
        return "chromium and chromium-driver are not installed (scripts/bootstrap installs them)"
    return None


@contextmanager
def headless_browser() -> Iterator[Any]:
    """A headless chromium; skipped where it is missing, but never in CI."""
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


@contextmanager
def live_page_of(state_dir: Path) -> Iterator[str]:
    """``octavia-upgrade serve`` on a free loopback port; yields its URL, stops it by PID."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "octavia_upgrade", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state_dir)})
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert "serving the live page on http://127.0.0.1:" in line, \
            line + proc.stderr.read()  # type: ignore[union-attr]
        yield line.split(" on ", 1)[1].split()[0]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)

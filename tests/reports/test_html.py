"""HTML reports: self-contained, rendered by headless Chromium with the SVG timeline."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from octavia_upgrade.reports import execution_report, plan_report, render
from reports import scenarios

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Chromium to completion in its own session; kill its process group on timeout."""
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            import os
            import signal

            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _distinct_rows(path: Path) -> int:
    """Distinct (filtered) pixel rows of a PNG: a blank page has one or two."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, channels = 8, b"", 0, 4
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, _h, _depth, ctype = struct.unpack(">IIBB", chunk[:10])
            channels = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels + 1
    return len({raw[i:i + stride] for i in range(0, len(raw), stride)})


def test_html_is_self_contained(stored) -> None:  # type: ignore[no-untyped-def]
    html = render(execution_report(**stored("rolled_back")), "html")
    assert html.startswith("<!DOCTYPE html>")
    assert "@media print" in html and '<svg id="timeline"' in html
    # No external fetch of any kind: no src=, no stylesheet links, no url() or @import.
    assert not re.search(r"""\bsrc\s*=|<link\b|@import|url\(|<script\b""", html)
    assert re.findall(r"https?://[^\s\"'<]+", html) == ["http://www.w3.org/2000/svg"]


def test_html_escapes_recorded_text() -> None:
    recs = scenarios.failed()
    from dataclasses import replace

    recs["results"][-1] = replace(recs["results"][-1], stdout_tail="<script>alert(1)</script>")
    html = render(execution_report(**recs), "html")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
def test_chromium_renders_timeline(stored, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = tmp_path / "report.html"
    page.write_text(render(execution_report(**stored("rolled_back")), "html"), encoding="utf-8")
    png = tmp_path / "report.png"
    shot = _chromium(tmp_path, f"--screenshot={png}", "--window-size=1280,2000",
                     page.as_uri())
    assert png.exists() and png.stat().st_size > 10_000, shot.stderr[-2000:]
    assert _distinct_rows(png) > 200  # text, tables, bars: far from a blank page
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    svg = dom[dom.index('<svg id="timeline"'):dom.index("</svg>")]
    bars = re.findall(r'<rect class="bar s-(\w+)"', svg)
    assert bars.count("failed") == 2 and "succeeded" in bars  # two failed attempts on ctl2
    assert 'class="downtime"' in svg


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed")
def test_chromium_renders_plan_report(tmp_path: Path) -> None:
    page = tmp_path / "plan.html"
    page.write_text(render(plan_report(scenarios.plan(), runbook=scenarios.runbook()), "html"),
                    encoding="utf-8")
    dom = _chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert "Expected impact" in dom and 'class="impact"' in dom

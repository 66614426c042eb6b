"""Finding a stopped run's commands: the search command on this machine's /proc, and its parsing.

The refusal of ``resume`` itself is tested end to end in
tests/engine/test_run_e2e.py (a SIGKILLed engine, its command still running
on a node).
"""

from __future__ import annotations

import os
import subprocess

from octavia_upgrade import inflight

RUN = "20261206-141505-3dd8"


def _search(run_id: str, host: str | None = None) -> list[inflight.Running]:
    out = subprocess.run(["sh", "-c", inflight.search_command(run_id, host)],
                         capture_output=True, text=True, check=True).stdout
    return inflight.parse(out, run_id, host)


def test_the_processes_of_a_run_are_found_by_their_environment_only() -> None:
    env = {**os.environ, inflight.ENV: inflight.marker(RUN, "control01", "db-upgrade", 2)}
    other_run = RUN.replace("3dd8", "3dd9")
    other = {**os.environ, inflight.ENV: inflight.marker(other_run, "control01", "x", 1)}
    mine = subprocess.Popen(["sleep", "30"], env=env)
    theirs = subprocess.Popen(["sleep", "31"], env=other)
    # the marker on a command line is not in an environment: not a process of the run
    named = subprocess.Popen(["sh", "-c", f"sleep 32 # {inflight.ENV}={RUN}:control01:x:1"])
    try:
        found = _search(RUN, "control01")
        assert [(p.pid, p.host, p.step, p.attempt, p.command) for p in found] == [
            (mine.pid, "control01", "db-upgrade", 2, "sleep 30")]
        # hosts that share this machine's processes (the lab's nodes) find their own only
        assert _search(RUN, "control02") == [] and _search(RUN) == found
    finally:
        for proc in (mine, theirs, named):
            proc.kill()
            proc.wait()
    assert _search(RUN) == []


def test_a_run_id_is_matched_literally() -> None:
    env = {**os.environ, inflight.ENV: inflight.marker("2026x1206", "fd00::1", "s", 1)}
    proc = subprocess.Popen(["sleep", "30"], env=env)
    try:
        assert _search("2026.1206") == [] and _search("2026x1206", "fd00::.") == []
        assert [(p.pid, p.host) for p in _search("2026x1206", "fd00::1")] == [
            (proc.pid, "fd00::1")]
    finally:
        proc.kill()
        proc.wait()


def test_output_that_does_not_parse_is_skipped_and_steps_are_grouped() -> None:
    out = (f"12\t{RUN}:c1:stop-api:1\ttimeout -k 5 600 sh -c x\n"
           f"15\t{RUN}:c1:stop-api:1\tsystemctl stop octavia-api\n"
           "garbage\n"
           f"x1\t{RUN}:c1:a:1\tz\n"
           f"16\tother:c1:a:1\tz\n"
           f"17\t{RUN}:c1:a:notanumber\tz\n"
           f"18\t{RUN}:c2:a:1\tz\n"
           f"19\t{RUN}:a:1\tz\n"
           f"20\t{RUN}:c1:db-upgrade:3\toctavia-db-manage upgrade head\n")
    found = inflight.parse(out, RUN, "c1")
    assert [(p.pid, p.step, p.attempt) for p in found] == [
        (12, "stop-api", 1), (15, "stop-api", 1), (20, "db-upgrade", 3)]
    assert inflight.describe("c1", found) == (
        "step stop-api (attempt 1) on c1: PID 12, 15, `systemctl stop octavia-api`; "
        "step db-upgrade (attempt 3) on c1: PID 20, `octavia-db-manage upgrade head`")


def test_a_search_that_does_not_end_well_is_an_error_not_an_all_clear() -> None:
    import pytest

    from octavia_upgrade.errors import TransportError
    from octavia_upgrade.transport import LocalTransport

    assert inflight.still_running(LocalTransport(), RUN, "control01") == []
    with pytest.raises(TransportError, match="the search for its processes timed out"):
        inflight.still_running(LocalTransport(), RUN, "control01", timeout=0.001)

"""Crash trials on the real lab, at a reduced count (``benchmarks/lab-crash-trials``
runs 20 on three nodes): the real dalmatian→epoxy run killed with SIGKILL at
random points, resumed by the documented rules, and the lab checked as an
operator would (see ``labtrials.py`` for the checks).

They run when ``OCTAVIA_UPGRADE_LAB_CRASH_TRIALS`` is set (the number of trials, on
two nodes): at about five minutes for one trial they do not fit the suite's hour
beside the kolla and osa labs, and ``benchmarks/lab-crash-trials`` runs 20; the
engine's crash trials (``test_crash_trials.py``) run in every suite. Each trial starts from
``lab reset``, and the random seed is in the failure message: set
``OCTAVIA_UPGRADE_LAB_CRASH_SEED`` to it to draw the same kill points again
(where they land still depends on the machine's timing).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from labtrials import run_trials

from octavia_upgrade.lab.core import Lab

pytestmark = [pytest.mark.lab, pytest.mark.slow]

NET = os.environ.get("OCTAVIA_UPGRADE_TEST_CRASH_LAB_NET", "127.42.77")
TRIALS = int(os.environ.get("OCTAVIA_UPGRADE_LAB_CRASH_TRIALS") or 0)

pytestmark.append(pytest.mark.skipif(
    TRIALS < 1, reason="lab crash trials run when OCTAVIA_UPGRADE_LAB_CRASH_TRIALS is set "
                       "(benchmarks/lab-crash-trials runs 20)"))


@pytest.fixture(scope="module")
def crash_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    from fixtures.lab import own_lab

    with own_lab(tmp_path_factory, "crash", NET, nodes=2, audit_commands=True) as lab:
        yield lab


@pytest.mark.timeout(1800)
def test_every_lab_crash_trial_is_correct(crash_lab: Lab, tmp_path: Path) -> None:
    seed = int(os.environ.get("OCTAVIA_UPGRADE_LAB_CRASH_SEED") or
               int.from_bytes(os.urandom(4), "big"))
    trials, cal = run_trials(crash_lab, TRIALS, tmp_path, seed=seed, reset_after=False)
    # the calibration found the real runbook's shape, and what to count on the nodes
    assert cal.attempts >= 40 and "db-upgrade" in cal.steps, cal.steps
    assert ("db-upgrade", "node1") in cal.signatures and \
        ("stage-packages", "node2") in cal.signatures, sorted(cal.signatures)
    bad = {t.number: (t.kills, t.problems) for t in trials if not t.correct}
    assert not bad, (seed, bad)
    assert sum(len(t.kills) for t in trials) >= 1, seed
    assert all(t.migrations_completed >= 1 for t in trials)

"""Running the plan's preflight: every prerequisite on every host, in parallel, at once.

The checks are the plan's (``Plan.preflight()``), sent byte for byte; each
host's run one after the other on its connection, the hosts in parallel.
A check that exits non-zero, times out, or whose host cannot be reached is
missing; all missing items are reported together (:class:`PreflightFailed`,
exit 3) before any step has run.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from octavia_upgrade.errors import ConnectionFailure, PreflightFailed, TransportError
from octavia_upgrade.plan import LOCAL, Plan
from octavia_upgrade.preflight import PreflightCheck, failures_message

#: Seconds one check may take.
CHECK_TIMEOUT = 60.0
#: Hosts checked at once.
MAX_PARALLEL = 16


@dataclass(frozen=True)
class CheckResult:
    check: PreflightCheck
    ok: bool
    why: str = ""
    #: The command as sent (always the planned ``check.check``).
    sent: str = ""


def _why(res: Any) -> str:
    if res.timed_out:
        return f"check timed out after {CHECK_TIMEOUT:g}s"
    detail = (res.stderr or res.stdout or "").strip().splitlines()
    return f"rc {res.rc}" + (f": {detail[-1][:200]}" if detail else "")


def _host_checks(runner: Callable[[], Any], checks: list[PreflightCheck]) -> list[CheckResult]:
    out: list[CheckResult] = []
    try:
        r = runner()
    except (ConnectionFailure, TransportError) as exc:
        return [CheckResult(c, False, f"host unreachable: {exc}") for c in checks]
    for c in checks:
        try:
            res = r.run(c.check, timeout=CHECK_TIMEOUT)
        except (ConnectionFailure, TransportError) as exc:
            out.append(CheckResult(c, False, f"host unreachable: {exc}", c.check))
            continue
        ok = res.rc == 0 and not res.timed_out
        out.append(CheckResult(c, ok, "" if ok else _why(res), c.check))
    return out


def run_checks(plan: Plan, runners: Callable[[str], Any], local: Any) -> list[CheckResult]:
    """Send every preflight check of ``plan``; the results in plan order."""
    checks = plan.preflight()
    by_host: dict[str, list[PreflightCheck]] = {}
    for c in checks:
        by_host.setdefault(c.host, []).append(c)
    if not by_host:
        return []

    def work(host: str) -> list[CheckResult]:
        get = (lambda: local) if host == LOCAL else (lambda: runners(host))
        return _host_checks(get, by_host[host])

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(by_host)),
                            thread_name_prefix="preflight") as pool:
        done = dict(zip(by_host, pool.map(work, list(by_host))))
    results = {(r.check.host, r.check.check): r for rs in done.values() for r in rs}
    return [results[(c.host, c.check)] for c in checks]


def require(plan: Plan, runners: Callable[[str], Any], local: Any) -> list[CheckResult]:
    """Run the preflight; raise when anything unconditionally needed is missing.

    Items needed only under a run-time condition (``check.when``) may be
    missing: they come back with ``ok`` False for the caller to warn about.

    Raises:
        PreflightFailed: every missing item, with its host and the steps that need it.
    """
    results = run_checks(plan, runners, local)
    missing = [r for r in results if not r.ok and r.check.when is None]
    if missing:
        raise PreflightFailed(failures_message((r.check, r.why) for r in missing),
                              [(r.check.host, r.check.description, r.check.steps, r.why)
                               for r in missing])
    return results

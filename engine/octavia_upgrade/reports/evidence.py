"""Turn recorded evidence, results and probe samples into report sections.

Pure functions over the state store's typed records (attribute access only;
plain mappings with the same keys work too, which keeps tests and tools simple).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from octavia_upgrade.reports.model import (
    AmphoraState,
    BackupResult,
    ConfigCheck,
    ConfigFinding,
    DbRevision,
    DowntimeWindow,
    Failover,
    FailoverResult,
    FailoverStep,
    ObjectChange,
    ObjectComparison,
    HostVersions,
    LoadBalancers,
    LoadBalancerState,
    ProbeStats,
    RestoreResult,
    UpgradeCheckResult,
    iso,
    seconds,
    to_datetime,
)
from octavia_upgrade.statuses import ResultStatus

#: Lines of command output a report keeps per (step, host).
OUTPUT_LINES = 12


def field(record: Any, name: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def trim(text: str | None, lines: int = OUTPUT_LINES, width: int = 400) -> str:
    """The last ``lines`` lines of ``text``, each cut at ``width`` characters."""
    if not text:
        return ""
    rows = text.rstrip().splitlines()
    kept = rows[-lines:]
    out = [r if len(r) <= width else r[:width] + " …" for r in kept]
    if len(rows) > lines:
        out.insert(0, f"… ({len(rows) - lines} earlier line(s) not shown)")
    return "\n".join(out)


def _of_kind(evidence: Iterable[Any], kind: str) -> list[Any]:
    found = [e for e in evidence if field(e, "kind") == kind]
    return sorted(found, key=lambda e: to_datetime(field(e, "recorded_at")) or 0)  # type: ignore[arg-type, return-value]


def _data(e: Any) -> Mapping[str, Any]:
    d = field(e, "data")
    return d if isinstance(d, Mapping) else {}


def upgrade_checks(evidence: Iterable[Any]) -> tuple[UpgradeCheckResult, ...]:
    return tuple(UpgradeCheckResult(
        step_id=field(e, "step_id"), host=field(e, "host") or "", rc=_data(e).get("rc"),
        outcome=str(_data(e).get("outcome") or "unknown"),
        output=trim(_data(e).get("output"), 20)) for e in _of_kind(evidence, "upgrade_check"))


def backups(evidence: Iterable[Any]) -> tuple[BackupResult, ...]:
    return tuple(BackupResult(
        step_id=field(e, "step_id"), host=_data(e).get("host") or field(e, "host") or "",
        path=_data(e).get("path"), size=_data(e).get("size"), sha256=_data(e).get("sha256"))
        for e in _of_kind(evidence, "backup"))


def restores(evidence: Iterable[Any]) -> tuple[RestoreResult, ...]:
    out = []
    for e in _of_kind(evidence, "restore"):
        d = _data(e)
        out.append(RestoreResult(
            step_id=field(e, "step_id"), host=d.get("host") or field(e, "host") or "",
            path=d.get("path"), recorded_sha256=d.get("recorded_sha256"),
            sha256=d.get("sha256"), verified=bool(d.get("verified")),
            restored=bool(d.get("restored")), revision=d.get("revision"),
            expected=d.get("expected")))
    return tuple(out)


def db_revisions(evidence: Iterable[Any]) -> tuple[DbRevision, ...]:
    out = []
    for e in _of_kind(evidence, "db_revision"):
        d = _data(e)
        after = d.get("after", d.get("revision"))
        expected = d.get("expected")
        out.append(DbRevision(step_id=field(e, "step_id"), host=field(e, "host") or "",
                              before=d.get("before"), after=after, expected=expected,
                              at_expected=None if after is None or expected is None
                              else after == expected))
    return tuple(out)


def versions(evidence: Iterable[Any]) -> tuple[HostVersions, ...]:
    out = []
    for e in _of_kind(evidence, "versions"):
        d = _data(e)
        before, after = d.get("before") or {}, d.get("after") or {}
        out.append(HostVersions(
            host=field(e, "host") or "", step_id=field(e, "step_id"), target=d.get("target"),
            octavia_before=before.get("octavia"), octavia_after=after.get("octavia"),
            octavia_lib_before=before.get("octavia-lib", before.get("octavia_lib")),
            octavia_lib_after=after.get("octavia-lib", after.get("octavia_lib"))))
    return tuple(sorted(out, key=lambda v: (v.host, v.step_id)))


def config_checks(evidence: Iterable[Any]) -> tuple[ConfigCheck, ...]:
    out = []
    for e in _of_kind(evidence, "config_check"):
        d = _data(e)
        findings = tuple(ConfigFinding(
            host=str(f.get("host") or field(e, "host") or ""), path=str(f.get("path") or ""),
            line=f.get("line"), group=f.get("group"), option=f.get("option"),
            severity=str(f.get("severity") or "info"), code=f.get("code"),
            message=str(f.get("message") or ""), replacement=f.get("replacement"))
            for f in d.get("findings") or ())
        counts = dict(d.get("counts") or {})
        for sev in ("error", "warning", "info"):
            counts.setdefault(sev, sum(1 for f in findings if f.severity == sev))
        out.append(ConfigCheck(step_id=field(e, "step_id"), host=field(e, "host") or "",
                               target=d.get("target"), files=tuple(d.get("files") or ()),
                               counts=counts, findings=findings))
    return tuple(out)


def failovers(evidence: Iterable[Any]) -> tuple[FailoverStep, ...]:
    """Each ``amphora_failover`` attempt's selection and per load balancer results."""
    out = []
    for e in _of_kind(evidence, "amphora_failover"):
        d = _data(e)
        results = []
        for r in d.get("results") or ():
            vip = r.get("vip") or {}
            results.append(FailoverResult(
                id=str(r.get("id")), name=r.get("name") or None, status=str(r.get("status")),
                canary=bool(r.get("canary")), old_amphorae=tuple(r.get("old_amphorae") or ()),
                new_amphorae=tuple(r.get("new_amphorae") or ()), started_at=r.get("started_at"),
                duration=r.get("duration"), vip_probed=bool(vip.get("probed")),
                vip_target=vip.get("target"), vip_samples=vip.get("samples"),
                vip_availability=vip.get("availability"), vip_longest_gap=vip.get("longest_gap"),
                vip_note=vip.get("note"), error=r.get("error") or None,
                resumed=bool(r.get("resumed"))))
        out.append(FailoverStep(
            step_id=str(field(e, "step_id")), host=field(e, "host") or "", api=d.get("api"),
            filter=tuple(d.get("filter") or ()), rate=dict(d.get("rate") or {}),
            refused=d.get("refused"), results=tuple(results), totals=dict(d.get("totals") or {})))
    return tuple(out)


#: Objects of the ``canary`` step: created and deleted on purpose, never a deviation.
CANARY_PREFIX = "octavia-upgrade-canary-"


def objects(evidence: Iterable[Any]) -> ObjectComparison | None:
    """The first and last ``lb_snapshot`` compared (None without two snapshots)."""
    from octavia_upgrade.lbapi.snapshot import compare

    snaps = _of_kind(evidence, "lb_objects")
    if len(snaps) < 2:
        return None
    first, last = snaps[0], snaps[-1]
    b, a = _data(first).get("objects") or [], _data(last).get("objects") or []
    ignore = [str(o.get("id")) for o in [*b, *a]
              if str(o.get("name") or "").startswith(CANARY_PREFIX)]
    changes = tuple(ObjectChange(type=c.type, id=c.id, name=c.name, change=c.change,
                                 before=c.before, after=c.after, message=c.describe())
                    for c in compare(b, a, ignore))
    return ObjectComparison(
        before_step=field(first, "step_id"), before_at=iso(field(first, "recorded_at")),
        after_step=field(last, "step_id"), after_at=iso(field(last, "recorded_at")),
        before_counts=dict(_data(first).get("counts") or {}),
        after_counts=dict(_data(last).get("counts") or {}), changes=changes)


# --------------------------------------------------------------------------- load balancers


def _split_snapshot(data: Any) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """(load balancers, amphorae) from ``{"loadbalancers": [...], "amphorae": [...]}`` or a list."""
    if isinstance(data, Mapping):
        lbs = data.get("loadbalancers") or data.get("load_balancers") or []
        amps = data.get("amphorae") or []
        return [x for x in lbs if isinstance(x, Mapping)], [x for x in amps if isinstance(x, Mapping)]
    lbs, amps = [], []
    for item in data or ():
        if not isinstance(item, Mapping):
            continue
        if any(k in item for k in ("loadbalancer_id", "lb_network_ip", "compute_id")):
            amps.append(item)
        else:
            lbs.append(item)
    return lbs, amps


def loadbalancers(evidence: Iterable[Any]) -> LoadBalancers | None:
    """Compare the first and last load balancer snapshots of a run."""
    snaps = _of_kind(evidence, "loadbalancers")
    if not snaps:
        return None
    first, last = snaps[0], snaps[-1] if len(snaps) > 1 else None
    lb0, amp0 = _split_snapshot(field(first, "data"))
    lb1, amp1 = _split_snapshot(field(last, "data")) if last is not None else ([], [])
    by_id1 = {str(x.get("id")): x for x in lb1}
    lb_ids = [str(x.get("id")) for x in lb0] + [i for i in by_id1 if i not in
                                                 {str(x.get("id")) for x in lb0}]
    by_id0 = {str(x.get("id")): x for x in lb0}
    lbs = tuple(LoadBalancerState(
        id=i, name=(by_id0.get(i) or by_id1.get(i) or {}).get("name"),
        before_provisioning=by_id0.get(i, {}).get("provisioning_status"),
        before_operating=by_id0.get(i, {}).get("operating_status"),
        after_provisioning=by_id1.get(i, {}).get("provisioning_status"),
        after_operating=by_id1.get(i, {}).get("operating_status")) for i in lb_ids)
    a0 = {str(x.get("id")): x for x in amp0}
    a1 = {str(x.get("id")): x for x in amp1}
    amps = tuple(AmphoraState(
        id=i, loadbalancer_id=(a0.get(i) or a1.get(i) or {}).get("loadbalancer_id"),
        role=(a0.get(i) or a1.get(i) or {}).get("role"),
        before=a0.get(i, {}).get("status"), after=a1.get(i, {}).get("status"))
        for i in list(a0) + [j for j in a1 if j not in a0])
    failovers: list[Failover] = []
    failed_over: bool | None = None
    if last is not None:
        lb_of = {i: (a0.get(i) or a1.get(i) or {}).get("loadbalancer_id") for i in {*a0, *a1}}
        groups = sorted({lb_of[i] for i in {*a0, *a1}}, key=str)
        for lb in groups:
            gone = tuple(sorted(i for i in a0 if i not in a1 and lb_of[i] == lb))
            new = tuple(sorted(i for i in a1 if i not in a0 and lb_of[i] == lb))
            if gone:
                failovers.append(Failover(loadbalancer_id=lb, replaced=gone, new=new))
        failed_over = bool(failovers)
    return LoadBalancers(
        before_step=field(first, "step_id"), before_at=iso(field(first, "recorded_at")),
        after_step=field(last, "step_id") if last is not None else None,
        after_at=iso(field(last, "recorded_at")) if last is not None else None,
        loadbalancers=lbs, amphorae=amps, failovers=tuple(failovers), failed_over=failed_over)


# --------------------------------------------------------------------------- probes


def probe_stats(samples: Iterable[Any]) -> tuple[ProbeStats, ...]:
    by_probe: dict[str, list[Any]] = {}
    for s in samples:
        by_probe.setdefault(str(field(s, "probe")), []).append(s)
    out = []
    for name in sorted(by_probe):
        rows = sorted(by_probe[name], key=lambda s: to_datetime(field(s, "at")))  # type: ignore[arg-type, return-value]
        n = len(rows)
        fails = [s for s in rows if not field(s, "ok")]
        gap, gap_start = 0.0, None
        i = 0
        while i < n:
            if field(rows[i], "ok"):
                i += 1
                continue
            j = i
            while j < n and not field(rows[j], "ok"):
                j += 1
            # A failing stretch lasts until the next good sample (or the last bad one).
            end = rows[j] if j < n else rows[j - 1]
            length = seconds(field(rows[i], "at"), field(end, "at")) or 0.0
            if length > gap or (gap_start is None and length >= gap):
                gap, gap_start = length, iso(field(rows[i], "at"))
            i = j
        lat = [float(field(s, "latency_ms")) for s in rows
               if field(s, "ok") and field(s, "latency_ms") is not None]
        errors: dict[str, int] = {}
        for s in fails:
            err = str(field(s, "error") or "failed")
            errors[err] = errors.get(err, 0) + 1
        out.append(ProbeStats(
            probe=name, kind="vip", samples=n, failures=len(fails),
            availability=round(100.0 * (n - len(fails)) / n, 3) if n else None,
            longest_gap=round(gap, 3), longest_gap_ms=round(gap * 1000, 1),
            longest_gap_start=gap_start,
            first_at=iso(field(rows[0], "at")) if rows else None,
            last_at=iso(field(rows[-1], "at")) if rows else None,
            latency_avg_ms=round(sum(lat) / len(lat), 1) if lat else None,
            latency_max_ms=round(max(lat), 1) if lat else None,
            errors=tuple(f"{k} (×{v})" for k, v in sorted(errors.items(), key=lambda kv: -kv[1])[:5]),
        ))
    return tuple(out)


# --------------------------------------------------------------------------- downtime


def _result_for(results: Sequence[Any], step_id: str, host: str) -> Any:
    """The latest succeeded attempt of (step, host)."""
    found = [r for r in results if field(r, "step_id") == step_id and field(r, "host") == host
             and field(r, "status") == ResultStatus.SUCCEEDED]
    return max(found, key=lambda r: field(r, "attempt") or 0) if found else None


def downtime(evidence: Iterable[Any], results: Sequence[Any]) -> DowntimeWindow | None:
    """Control-plane downtime: first service stop → last service seen healthy after it.

    A stop takes effect when its command starts, so the window opens at the
    stop attempt's start; a start is only known healthy once verified, so the
    window closes at the start attempt's end.
    """
    stops: list[tuple[Any, str]] = []
    starts: list[tuple[Any, str]] = []
    for e in _of_kind(evidence, "services"):
        d = _data(e)
        step, host = field(e, "step_id"), field(e, "host") or ""
        res = _result_for(results, step, host)
        where = f"{step} on {host}" if host else str(step)
        if d.get("action") == "stop":
            at = to_datetime(field(res, "started_at")) if res is not None else None
            stops.append((at or to_datetime(field(e, "recorded_at")), where))
        elif d.get("action") in ("start", "restart"):
            states = d.get("states") or {}
            if states and not all(v == "active" for v in states.values()):
                continue
            at = to_datetime(field(res, "ended_at")) if res is not None else None
            starts.append((at or to_datetime(field(e, "recorded_at")), where))
    stops = [s for s in stops if s[0] is not None]
    if not stops:
        return None
    first = min(stops, key=lambda s: s[0])
    later = [s for s in starts if s[0] is not None and s[0] >= first[0]]
    last_stop = max(stops, key=lambda s: s[0])
    healthy = [s for s in later if s[0] >= last_stop[0]]
    if not healthy:
        return DowntimeWindow(start=iso(first[0]), end=None, duration=None,
                              first_stop=first[1], last_healthy=None, open=True)
    last = max(healthy, key=lambda s: s[0])
    return DowntimeWindow(start=iso(first[0]), end=iso(last[0]),
                          duration=seconds(first[0], last[0]), first_stop=first[1],
                          last_healthy=last[1], open=False)

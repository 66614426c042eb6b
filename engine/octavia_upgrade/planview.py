"""Plain-text views of a plan: the table ``plan`` prints and ``run --dry-run`` shows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from octavia_upgrade import hostaccess as access
from octavia_upgrade.plan import Plan, PlannedStep
from octavia_upgrade.wording import plural


def _hosts(ps: PlannedStep) -> str:
    if ps.placement == "local":
        return "operator"
    if not ps.hosts:
        return "(no host matches)"
    if len(ps.batches) > 1:
        return " | ".join(",".join(b.hosts) for b in ps.batches)
    return ",".join(ps.hosts)


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]


def _estimate(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def render_table(plan: Plan, *, verbose: int = 0,
                 redact: Callable[[Any], Any] = lambda v: v) -> str:
    fr, to = plan.from_release, plan.to_release

    def label(r: Any) -> str:
        return f"{r['version_id']} {r['series'].capitalize()}" if r["version_id"] else \
            r["series"].capitalize()

    lines = [
        f"Plan: {plan.runbook} (revision {plan.revision}) — {label(fr)} → {label(to)}",
        f"Deployment: {plan.deployment} ({plural(len(plan.hosts), 'host')}, flavor {plan.flavor}); "
        f"runbook sha256 {plan.runbook_sha256[:12]}",
    ]
    if plan.params:
        lines.append("Parameters: " + ", ".join(f"{k}={redact(v)}"
                                                for k, v in plan.params.items()))
    if verbose and plan.hosts:
        lines += ["", "Hosts (how each is reached, and as whom its commands run):",
                  *("  " + line for line in _columns(
                      [("host", "login", "privileges", "route", "roles")]
                      + [(str(h.get("name")), access.login(h), access.privileges(h),
                          access.route(h), ",".join(h.get("roles") or ()))
                         for h in plan.hosts]))]
    checks = plan.preflight() if verbose else ()
    if checks:
        lines += ["", "Preflight (checked on every host before the first step; "
                      "any missing item refuses the run):",
                  *(f"  {c.host}: {redact(c.description)}"
                    + (f"  [only if {c.when}]" if c.when else "")
                    + (f"\n      $ {redact(c.check)}" if verbose > 1 else "")
                    for c in checks)]
    for phase in ("main", "rollback", "finally"):
        steps = plan.phase(phase)
        if not steps:
            continue
        title = {"main": "Steps", "rollback": "Rollback (runs in this order on failure)",
                 "finally": "Finally (always runs)"}[phase]
        lines.append(f"\n{title}:")
        rows = []
        for i, ps in enumerate(steps, 1):
            flags = []
            if ps.when:
                flags.append(f"when {ps.when}")
            if ps.kind == "approval":
                human = ps.phase == "rollback" or getattr(ps.args, "requires_human", False)
                flags.append("APPROVAL at a terminal (not --yes)" if human else "APPROVAL")
            if ps.data_plane_impact:
                flags.append("DATA-PLANE IMPACT")
            if ps.attempts > 1:
                flags.append(f"retry x{ps.attempts}")
            if ps.on_failure != "abort":
                flags.append(f"on_failure={ps.on_failure}")
            rows.append((str(i), ps.id, ps.kind, _hosts(ps), _estimate(ps.estimate),
                         "; ".join(flags)))
        widths = [max(len(r[c]) for r in rows + [("#", "step", "kind", "hosts (batches)", "est.", "")])
                  for c in range(6)]
        head = ("#", "step", "kind", "hosts (batches)", "est.", "notes")
        lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(head, widths)).rstrip())
        for ps, r in zip(steps, rows):
            lines.append("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
            if verbose:
                for host in ps.commands:
                    for c in ps.lines(host):
                        lines.append(f"      {host}: {redact(c)}")
            if ps.data_plane_impact:
                lines.append(f"      data-plane impact: {ps.data_plane_impact}")
    total = plan.estimated_total
    known = [ps.estimate for ps in plan.phase("main") if ps.estimate is not None]
    if total is not None:
        lines.append(f"\nEstimated duration: {_estimate(total)}")
    elif known:
        missing = len(plan.phase("main")) - len(known)
        lines.append(f"\nEstimated duration: at least {_estimate(sum(known))} "
                     f"({plural(missing, 'step')} without a recorded duration)")
    else:
        lines.append("\nEstimated duration: unknown (no earlier run of this runbook in the "
                     "state DB)")
    if not verbose:
        lines.append("Use -v to see the exact command each host will run.")
    return "\n".join(lines)

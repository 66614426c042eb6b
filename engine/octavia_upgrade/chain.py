"""Plan a multi-release upgrade as a chain of sequential runbooks.

The upstream upgrade guide supports sequential upgrades only ("upgrading from
Pike to Queens is supported while from Pike to Rocky is not"), so a longer
upgrade is a list of adjacent hops, each with its own reviewed runbook. For
every hop this module gathers the facts an operator plans around: the
runbook, the steps with stated data-plane impact, how many database
migrations run, and whether a new amphora image is required or recommended.

Pure: it reads packaged data and the runbook files, nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from octavia_upgrade.errors import Refused
from octavia_upgrade.wording import plural

#: Why skip-level (SLURP) jumps are refused, for messages and docs.
SEQUENTIAL_ONLY = (
    "the Octavia upgrade guide supports sequential upgrades only (e.g. Pike to Queens, "
    "not Pike to Rocky); skip-level (SLURP) upgrades are not part of it, so every "
    "release in between is upgraded to in turn"
)


@dataclass(frozen=True)
class ImpactStep:
    """A runbook step whose author stated a data-plane impact."""

    step_id: str
    name: str
    impact: str


@dataclass(frozen=True)
class AmphoraFacts:
    image: str  # required | recommended | none
    failover: bool
    ordering: str | None = None
    reasons: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    inferred: bool = False


@dataclass(frozen=True)
class Hop:
    """One sequential upgrade ``src`` → ``dst`` and its runbook."""

    src: str
    dst: str
    runbook: Path
    migrations: tuple[str, ...]
    data_plane: tuple[ImpactStep, ...]
    amphora: AmphoraFacts
    dst_slurp: bool = False
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def name(self) -> str:
        return f"{self.src}-to-{self.dst}"

    @property
    def migration_count(self) -> int:
        return len(self.migrations)

    def as_dict(self) -> dict[str, Any]:
        return {
            "hop": self.name, "from": self.src, "to": self.dst, "runbook": str(self.runbook),
            "runbook_name": self.name,
            "migrations": self.migration_count, "migration_revisions": list(self.migrations),
            "data_plane_impact": [{"step": s.step_id, "name": s.name, "impact": s.impact}
                                  for s in self.data_plane],
            "amphora_image": self.amphora.image, "amphora_failover": self.amphora.failover,
            "ordering": self.amphora.ordering, "amphora_reasons": list(self.amphora.reasons),
            "release_notes": list(self.amphora.notes), "to_is_slurp": self.dst_slurp,
            "notes": list(self.notes),
        }


@cache
def amphora_facts() -> dict[str, AmphoraFacts]:
    """Per release upgraded into: image/failover/ordering facts (``amphora_facts.yaml``)."""
    import yaml

    from octavia_upgrade.resources import data_path

    raw = yaml.safe_load(data_path("amphora_facts.yaml").read_text(encoding="utf-8"))
    return {series: AmphoraFacts(image=f["image"], failover=bool(f["failover"]),
                                 ordering=f.get("ordering"),
                                 reasons=tuple(f.get("reasons") or ()),
                                 notes=tuple(f.get("notes") or ()),
                                 inferred=bool(f.get("inferred", False)))
            for series, f in raw["releases"].items()}


def skip_level_message(src: str, dst: str) -> str:
    """The refusal for a direct ``src`` → ``dst`` jump, naming the chain to use."""
    from octavia_upgrade.catalog import load_catalog

    cat = load_catalog()
    a, b = cat.get(src), cat.get(dst)
    names = cat.chain_names(a.series, b.series)
    slurp = " (both are SLURP releases)" if a.slurp and b.slurp else ""
    return (f"{a.series}-to-{b.series}{slurp} is not a sequential upgrade: {SEQUENTIAL_ONLY}. "
            f"Use the chain: {', '.join(names)}")


def plan_chain(src: str, dst: str, runbooks_dir: str | Path | None = None) -> list[Hop]:
    """The sequential hops from ``src`` to ``dst`` with the facts of each.

    Args:
        src: deployed release (series or version id).
        dst: wanted release.
        runbooks_dir: where ``<from>-to-<to>.yaml`` files are; default: the shipped ones.

    Raises:
        Refused: a downgrade, or a hop without a runbook.
        InvalidInput: an unknown release (:class:`~octavia_upgrade.errors.UnknownRelease`),
            or a hop's runbook does not load (it is reported with its position).
    """
    from octavia_upgrade.catalog import load_catalog, migrations_between
    from octavia_upgrade.loader import load_runbook

    cat = load_catalog()
    pairs = cat.chain(src, dst)
    if runbooks_dir is None:
        from octavia_upgrade.resources import runbooks_dir as shipped

        runbooks_dir = shipped()
    root = Path(runbooks_dir)
    missing = [f"{a.series}-to-{b.series}" for a, b in pairs
               if not (root / f"{a.series}-to-{b.series}.yaml").is_file()]
    if missing:
        raise Refused(f"no runbook for {', '.join(missing)} in {root}: the chain "
                      f"{src} → {dst} cannot be planned ({SEQUENTIAL_ONLY})")
    facts = amphora_facts()
    hops: list[Hop] = []
    for a, b in pairs:
        path = root / f"{a.series}-to-{b.series}.yaml"
        rb = load_runbook(path, catalog=cat)
        impact = tuple(ImpactStep(s.id, s.name, s.data_plane_impact)
                       for s in rb.steps if s.data_plane_impact)
        migs = tuple(m["revision"] for m in migrations_between(a.series, b.series))
        notes: list[str] = []
        if b.unverified:
            notes.append(f"{b.label} facts are not confirmed by an upstream release tag")
        hops.append(Hop(src=a.series, dst=b.series, runbook=path, migrations=migs,
                        data_plane=impact,
                        amphora=facts.get(b.series, AmphoraFacts(image="none", failover=False)),
                        dst_slurp=b.slurp, notes=tuple(notes)))
    return hops


def image_text(h: Hop) -> str:
    """The amphora image facts of a hop as the chain table shows them."""
    a = h.amphora
    text = a.image
    if a.failover:
        text += ", failover"
    if a.ordering == "images-before-controllers":
        text += ", images BEFORE controllers"
    elif a.ordering == "controllers-before-images":
        text += ", controllers before images"
    return text


def impact_text(h: Hop) -> str:
    """The stated data-plane impact of a hop as the chain table shows it."""
    return "; ".join(f"{s.step_id}: {s.impact}" for s in h.data_plane) or "none stated"


#: What :func:`render_chain` writes.
CHAIN_FORMATS = ("table", "json", "yaml", "markdown", "html")


def chain_document(hops: list[Hop]) -> dict[str, Any]:
    """The chain as data (``-f json`` and ``-f yaml``)."""
    return {"sequential_only": SEQUENTIAL_ONLY, "hops": [h.as_dict() for h in hops],
            "database_migrations": sum(h.migration_count for h in hops)}


def render_chain(hops: list[Hop], fmt: str = "table") -> str:
    """The chain as ``table`` (console), ``markdown``, ``json``, ``yaml`` or ``html`` text
    (one complete HTML document)."""
    if fmt not in CHAIN_FORMATS:
        raise ValueError(fmt)
    if fmt == "json":
        import json

        return json.dumps(chain_document(hops), indent=2)
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(chain_document(hops), sort_keys=False, width=100)
    if fmt == "html":
        return _html(hops)
    if not hops:
        return "nothing to do: the source and target releases are the same"
    header = ["#", "runbook", "migrations", "amphora image", "data-plane impact"]
    rows = [[str(i), h.name, str(h.migration_count), image_text(h), impact_text(h)]
            for i, h in enumerate(hops, 1)]
    total = sum(h.migration_count for h in hops)
    foot = (f"{plural(len(hops), 'sequential hop')}, {plural(total, 'database migration')}; "
            "each hop is a "
            f"separate run of its runbook. Upgrades are sequential only: {SEQUENTIAL_ONLY}.")
    notes = [f"{h.name}: {n}" for h in hops for n in h.notes]
    if fmt == "markdown":
        def cell(v: str) -> str:
            return v.replace("|", "\\|").replace("\n", " ")
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
        lines += ["", foot] + [f"- {n}" for n in notes]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    out = ["  ".join(c.ljust(w) for c, w in zip(header, widths)) + "  " + header[-1]]
    for r in rows:
        out.append("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    out += ["", foot] + notes
    return "\n".join(out)


_CSS = ("body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
        "th,td{border:1px solid #bbb;padding:.3em .6em;text-align:left;vertical-align:top}"
        "th{background:#eee}code{font-size:90%}")


def _html(hops: list[Hop]) -> str:
    """One self-contained HTML document: a row per hop with its runbook and facts."""
    from html import escape

    title = (f"Upgrade chain {hops[0].src} → {hops[-1].dst}" if hops
             else "Upgrade chain: nothing to do")
    out = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
           f"<title>{escape(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
           f"<h1>{escape(title)}</h1>"]
    if not hops:
        out.append("<p>nothing to do: the source and target releases are the same</p>")
    else:
        out += ["<table>", "<thead><tr><th>#</th><th>runbook</th><th>from</th><th>to</th>"
                "<th>database migrations</th><th>amphora image</th><th>data-plane impact</th>"
                "<th>notes</th></tr></thead>", "<tbody>"]
        for i, h in enumerate(hops, 1):
            migs = "".join(f"<br><code>{escape(m)}</code>" for m in h.migrations)
            impact = ("<ul>" + "".join(f"<li><code>{escape(s.step_id)}</code>: "
                                       f"{escape(s.impact)}</li>" for s in h.data_plane)
                      + "</ul>") if h.data_plane else "none stated"
            notes = "<br>".join(escape(n) for n in (*h.amphora.reasons, *h.notes))
            out.append(f"<tr><td>{i}</td><td><strong>{escape(h.name)}</strong><br>"
                       f"<code>{escape(str(h.runbook))}</code></td><td>{escape(h.src)}</td>"
                       f"<td>{escape(h.dst)}</td><td>{h.migration_count}{migs}</td>"
                       f"<td>{escape(image_text(h))}</td><td>{impact}</td><td>{notes}</td></tr>")
        out += ["</tbody>", "</table>"]
        total = sum(h.migration_count for h in hops)
        out.append(f"<p>{escape(plural(len(hops), 'sequential hop'))}, "
                   f"{escape(plural(total, 'database migration'))}; each hop is a separate run "
                   "of its runbook.</p>")
    out += [f"<p>Upgrades are sequential only: {escape(SEQUENTIAL_ONLY)}.</p>", "</body>",
            "</html>"]
    return "\n".join(out) + "\n"

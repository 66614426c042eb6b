"""Detect the release actually deployed: per-host Octavia version and DB revision.

The engine never assumes what runs on the nodes. Before ``plan`` (with an
inventory) and ``run``, it reads the installed Octavia and octavia-lib
versions on every host through the flavor, and ``octavia-db-manage current``
on a ``db-migrate`` host, and maps both to catalog releases.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from octavia_upgrade.catalog import Catalog
from octavia_upgrade.errors import Refused, UpgradeError
from octavia_upgrade.model import Flavor, Host, Inventory
from octavia_upgrade.plan import host_context
from octavia_upgrade.steps.base import Runner, action
from octavia_upgrade.steps.db_migrate import parse_revision


@dataclass(frozen=True)
class HostDetection:
    host: str
    address: str
    octavia: str | None = None
    octavia_lib: str | None = None
    release: str | None = None
    error: str | None = None
    #: False when the host could not be reached (SSH), True when commands ran on it.
    reachable: bool = True


@dataclass(frozen=True)
class Detection:
    deployment: str
    hosts: tuple[HostDetection, ...]
    db_host: str | None = None
    db_revision: str | None = None
    #: Releases whose alembic head is the DB revision (several can share one).
    db_releases: tuple[str, ...] = ()
    db_error: str | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def releases(self) -> set[str]:
        return {h.release for h in self.hosts if h.release}

    @property
    def release(self) -> str | None:
        """The one release every host runs, or None when unknown or mixed."""
        rel = self.releases
        if len(rel) == 1 and all(h.release for h in self.hosts):
            return next(iter(rel))
        return None

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["release"] = self.release
        return d


def _version(runner: Runner, flavor: Flavor, name: str, ctx: dict[str, Any]) -> str | None:
    return _read_version(runner, flavor, name, ctx)[0]


def _read_version(runner: Runner, flavor: Flavor, name: str,
                  ctx: dict[str, Any]) -> tuple[str | None, str]:
    """(version, why not) from the flavor's ``name`` action; why not is "" when read."""
    res = runner.run(action(flavor, name, ctx), timeout=60)
    text = res.stdout.strip().splitlines()
    if res.rc == 0 and text:
        return text[-1].strip(), ""
    last = (res.stderr.strip().splitlines() or ["no output"])[-1].strip()
    return None, f"rc {res.rc}: {last}"


NOT_INSTALLED = "Octavia is not installed"

#: What a version command prints when the package (or its interpreter) is absent.
_NOT_INSTALLED = ("PackageNotFoundError", "No package metadata", "No module named",
                  "command not found", "No such file or directory", "No such container",
                  "no such object")


def detect(inventory: Inventory, flavor: Flavor, catalog: Catalog,
           runners: Callable[[str], Runner]) -> Detection:
    base = {"params": {}, "release": {}, "deployment": inventory.deployment,
            "run": {"id": "detect"}, "outputs": {}}

    def one(host: Host) -> HostDetection:
        ctx = host_context(base, flavor, inventory, host)
        try:
            runner = runners(host.name)
            octavia, why = _read_version(runner, flavor, "octavia_version", ctx)
            lib = _version(runner, flavor, "octavia_lib_version", ctx)
        except UpgradeError as exc:
            return HostDetection(host.name, host.address, error=str(exc), reachable=False)
        if not octavia:
            if any(marker in why for marker in _NOT_INSTALLED):
                error = NOT_INSTALLED
            else:
                error = f"cannot read the Octavia version ({why})"
            return HostDetection(host.name, host.address, octavia_lib=lib, error=error)
        rel = catalog.by_octavia_version(octavia)
        return HostDetection(host.name, host.address, octavia, lib, rel.series if rel else None,
                             None if rel else f"Octavia {octavia} is not in the release catalog")

    with ThreadPoolExecutor(max_workers=max(1, min(32, len(inventory.hosts)))) as pool:
        hosts = tuple(pool.map(one, inventory.hosts))

    db_hosts = inventory.with_role("db-migrate")
    by_name = {d.host: d for d in hosts}
    db_host = next((h for h in db_hosts if not by_name[h.name].error), None)
    revision = db_error = None
    releases: tuple[str, ...] = ()
    reachable = [h for h in db_hosts if by_name[h.name].reachable]
    if not db_hosts:
        db_error = "no host has the db-migrate role"
    elif not reachable:
        db_error = (f"no db-migrate host is reachable "
                    f"({', '.join(h.name for h in db_hosts)}); the revision was not read")
    elif db_host is None:
        # Reachable, but octavia-db-manage cannot run there: say what was found.
        first = reachable[0].name
        found = by_name[first].error
        db_error = (f"revision not read: {found} on {first}, the db-migrate host"
                    if found == NOT_INSTALLED else
                    f"revision not read on {first}, the db-migrate host: {found}")
    else:
        # The revision is read with the deployed code: for a flavor that names the
        # code by release (kolla's images), the host's release is both "from" and "to".
        deployed = by_name[db_host.name].release
        db_base = {**base, "release": dict.fromkeys(
            ("from", "to"), catalog.get(deployed).as_dict())} if deployed else base
        ctx = host_context(db_base, flavor, inventory, db_host)
        try:
            res = runners(db_host.name).run(action(flavor, "db_manage", ctx, args="current"),
                                            timeout=120)
            revision = parse_revision(res.stdout + "\n" + res.stderr) if res.rc == 0 else None
            if revision is None:
                db_error = f"octavia-db-manage current failed (rc {res.rc}): " + \
                    (res.stderr.strip().splitlines() or ["no revision printed"])[-1]
            else:
                releases = tuple(r.series for r in catalog.by_alembic_head(revision))
        except UpgradeError as exc:
            db_error = str(exc)
    det = Detection(inventory.deployment, hosts, db_host.name if db_host else None, revision,
                    releases, db_error)
    return Detection(**{**asdict(det), "hosts": hosts, "problems": tuple(problems(det))})


def problems(det: Detection) -> list[str]:
    out = [f"{h.host} ({h.address}): {h.error}" for h in det.hosts if h.error]
    if len(det.releases) > 1:
        by = ", ".join(f"{h.host}={h.release} ({h.octavia})" for h in det.hosts if h.release)
        out.append(f"hosts run mixed releases: {by}; finish or repair the previous upgrade first")
    if det.db_error:
        out.append(f"database: {det.db_error}")
    elif det.release and det.db_revision and det.release not in det.db_releases:
        out.append(f"database revision {det.db_revision} is not {det.release}'s head "
                   f"(it matches: {', '.join(det.db_releases) or 'no catalog release'})")
    return out


def require_release(det: Detection, expected: str, catalog: Catalog, runbook: str) -> None:
    """Refuse (exit 3) unless every host and the DB are at ``expected``."""
    if det.problems:
        raise Refused(f"cannot run {runbook}: the deployment's state is not clear:\n  "
                      + "\n  ".join(det.problems))
    exp = catalog.get(expected).series
    if det.release != exp:
        found = det.release or "unknown"
        hint = ""
        if det.release and catalog.index(det.release) > catalog.index(exp):
            hint = " (already upgraded?)"
        elif det.release:
            hint = f"; use the chain {' → '.join(catalog.chain_names(det.release, exp))} first" \
                if catalog.index(det.release) < catalog.index(exp) else ""
        raise Refused(f"{runbook} upgrades from {exp}, but {det.deployment} runs {found}{hint}")


def detect_release(inventory: Inventory, flavor: Flavor, catalog: Catalog, expected: str,
                   what: str, runners: Callable[[str], Runner] | None = None) -> Detection:
    """Detect the deployed release and refuse unless it is ``expected``.

    ``runners``: connections to use (a pool's ``get``, left open); by default
    the hosts are connected to here and disconnected after. ``what`` names
    the upgrade in the refusal (a runbook, or a chain).

    Raises:
        Refused: the deployment is not (clearly) at ``expected``.
    """
    if runners is not None:
        det = detect(inventory, flavor, catalog, runners)
    else:
        from octavia_upgrade.transport import TransportPool

        with TransportPool(inventory) as own:
            det = detect(inventory, flavor, catalog, own.get)
    require_release(det, expected, catalog, what)
    return det

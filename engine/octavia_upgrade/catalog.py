"""The release catalog: OpenStack series Pike → newest, with Octavia facts.

Pure data and graph logic; the only I/O is reading the packaged YAML once.
The upgrade guide supports sequential upgrades only, so the catalog's single
graph operation is adjacency; a longer upgrade is a chain of adjacent hops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

# UnknownRelease lives with every other error; importable from here as before.
from octavia_upgrade.errors import Refused, UnknownRelease


@dataclass(frozen=True)
class Release:
    series: str
    version_id: str | None
    octavia_major: int
    octavia_versions: tuple[str, ...]
    octavia_lib_versions: tuple[str, ...]
    slurp: bool
    octavia_status: bool
    driver_agent: bool
    alembic_head: str
    python_min: str
    python_max: str
    released: str
    status: str
    #: The ref of openstack/octavia (and of openstack/requirements, whose
    #: end-of-life refs differ) this release is checked out from: a
    #: ``<series>-eol`` tag, an ``unmaintained/`` or ``stable/`` branch, ``master``.
    git_ref: str = "master"
    requirements_ref: str = "master"
    #: kolla-ansible ships an ``octavia_driver_agent`` container for this release
    #: (enabled only with OVN: ``enable_octavia_driver_agent``).
    kolla_driver_agent: bool = False
    unverified: bool = False
    sources: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def label(self) -> str:
        """``2024.2 Dalmatian`` or ``Pike``: how operators name a release."""
        name = self.series.capitalize()
        return f"{self.version_id} {name}" if self.version_id else name

    @property
    def octavia_final(self) -> str | None:
        return self.octavia_versions[-1] if self.octavia_versions else None

    @property
    def octavia_lib_final(self) -> str | None:
        return self.octavia_lib_versions[-1] if self.octavia_lib_versions else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "version_id": self.version_id,
            "octavia_major": self.octavia_major,
            "octavia_versions": list(self.octavia_versions),
            "octavia_lib_versions": list(self.octavia_lib_versions),
            "slurp": self.slurp,
            "octavia_status": self.octavia_status,
            "driver_agent": self.driver_agent,
            "alembic_head": self.alembic_head,
            "python": {"min": self.python_min, "max": self.python_max},
            "released": self.released,
            "status": self.status,
            "git_ref": self.git_ref,
            "requirements_ref": self.requirements_ref,
            "kolla_driver_agent": self.kolla_driver_agent,
            "unverified": self.unverified,
            "sources": dict(self.sources),
        }


@dataclass(frozen=True)
class UpstreamRefs:
    """The tags and branches one upstream repository was seen to have, and when."""

    repo: str
    checked: str
    tags: frozenset[str]
    branches: frozenset[str]
    absent: frozenset[str] = frozenset()
    #: refs not yet in the snapshot that was read, with the reason they are expected
    expected: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    def has(self, ref: str) -> bool:
        """``ref`` was seen upstream (a tag or a branch), or is expected with a reason."""
        return ref in self.tags or ref in self.branches or ref in self.expected


@dataclass(frozen=True)
class Catalog:
    version: str
    snapshot: str
    releases: tuple[Release, ...]
    upstream_refs: tuple[UpstreamRefs, ...] = ()

    def refs_of(self, repo: str) -> UpstreamRefs:
        """The verified refs of ``repo`` (``openstack/octavia``, ``openstack/requirements``)."""
        for r in self.upstream_refs:
            if r.repo == repo:
                return r
        raise KeyError(f"the catalog records no refs of {repo}")

    def kolla_driver_agent_releases(self) -> list[str]:
        """Series for which kolla-ansible can run the ``octavia_driver_agent`` container."""
        return [r.series for r in self.releases if r.kolla_driver_agent]

    def names(self) -> list[str]:
        return [r.series for r in self.releases]

    def get(self, name: str) -> Release:
        """The release called ``name`` (series or version id, any case).

        Raises:
            UnknownRelease: no such release (an :class:`InvalidInput`, and a KeyError).
        """
        found = self._find(name)
        if found is None:
            raise UnknownRelease(name, self.names())
        return found

    def __contains__(self, name: object) -> bool:
        return self._find(str(name)) is not None

    def _find(self, name: str) -> Release | None:
        key = name.strip().lower()
        for r in self.releases:
            if key in (r.series, r.version_id):
                return r
        return None

    def index(self, name: str) -> int:
        return self.releases.index(self.get(name))

    def is_adjacent(self, src: str, dst: str) -> bool:
        return self.index(dst) - self.index(src) == 1

    def chain(self, src: str, dst: str) -> list[tuple[Release, Release]]:
        """The sequential hops from ``src`` to ``dst`` (empty when equal)."""
        i, j = self.index(src), self.index(dst)
        if j < i:
            raise Refused(
                f"{self.get(src).series} to {self.get(dst).series} is a downgrade; "
                "Octavia does not support database downgrades"
            )
        return [(self.releases[k], self.releases[k + 1]) for k in range(i, j)]

    def chain_names(self, src: str, dst: str) -> list[str]:
        return [f"{a.series}-to-{b.series}" for a, b in self.chain(src, dst)]

    def by_octavia_version(self, version: str) -> Release | None:
        """The release whose Octavia major version matches ``version`` (e.g. ``15.1.0``)."""
        try:
            major = int(version.strip().split(".")[0].split(":")[-1])
        except ValueError:
            return None
        for r in self.releases:
            if r.octavia_major == major:
                return r
        return None

    def by_alembic_head(self, revision: str) -> list[Release]:
        """Releases whose DB head is ``revision`` (several releases can share one)."""
        return [r for r in self.releases if r.alembic_head == revision]


def _release(raw: dict[str, Any]) -> Release:
    return Release(
        series=raw["series"],
        version_id=raw.get("version_id"),
        octavia_major=int(raw["octavia_major"]),
        octavia_versions=tuple(raw.get("octavia_versions") or ()),
        octavia_lib_versions=tuple(raw.get("octavia_lib_versions") or ()),
        slurp=bool(raw["slurp"]),
        octavia_status=bool(raw["octavia_status"]),
        driver_agent=bool(raw["driver_agent"]),
        alembic_head=raw["alembic_head"],
        python_min=str(raw["python"]["min"]),
        python_max=str(raw["python"]["max"]),
        released=str(raw["released"]),
        status=raw["status"],
        git_ref=str(raw.get("git_ref") or "master"),
        requirements_ref=str(raw.get("requirements_ref") or raw.get("git_ref") or "master"),
        kolla_driver_agent=bool(raw.get("kolla_driver_agent", False)),
        unverified=bool(raw.get("unverified", False)),
        sources=dict(raw.get("sources") or {}),
    )


@cache
def load_catalog() -> Catalog:
    import yaml

    from octavia_upgrade.resources import data_path

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(data_path("releases.yaml"), encoding="utf-8") as f:
        doc = yaml.load(f, Loader=loader)  # noqa: S506 - safe loader
    return Catalog(
        version=str(doc["catalog_version"]),
        snapshot=str(doc["snapshot"]),
        releases=tuple(_release(r) for r in doc["releases"]),
        upstream_refs=tuple(_refs(repo, raw)
                            for repo, raw in (doc.get("upstream_refs") or {}).items()),
    )


def _refs(repo: str, raw: dict[str, Any]) -> UpstreamRefs:
    return UpstreamRefs(repo=repo, checked=str(raw["checked"]),
                        tags=frozenset(map(str, raw.get("tags") or ())),
                        branches=frozenset(map(str, raw.get("branches") or ())),
                        absent=frozenset(map(str, raw.get("absent") or ())),
                        expected={str(k): str(v) for k, v in (raw.get("expected") or {}).items()})


def migrations_between(src: str, dst: str) -> list[dict[str, Any]]:
    """Alembic migrations that an upgrade from ``src`` to ``dst`` applies, in order."""
    import yaml

    from octavia_upgrade.resources import data_path

    cat = load_catalog()
    a, b = cat.get(src).alembic_head, cat.get(dst).alembic_head
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(data_path("alembic_chain.yaml"), encoding="utf-8") as f:
        chain = yaml.load(f, Loader=loader)["migrations"]  # noqa: S506
    revs = [m["revision"] for m in chain]
    return chain[revs.index(a) + 1: revs.index(b) + 1]

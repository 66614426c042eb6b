"""What both reports share: the JSON schema version, time helpers, releases, provenance.

See :mod:`octavia_upgrade.reports.model` for the report model as a whole.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

#: Bumped when the JSON shape changes incompatibly (tools check it).
SCHEMA_VERSION = 2

# --------------------------------------------------------------------------- helpers


def to_datetime(value: Any) -> datetime | None:
    """Accept aware/naive datetimes (naive = UTC), epoch seconds or ISO strings."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(float(value), timezone.utc)
    if isinstance(value, str):
        try:
            return to_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))
        except ValueError:
            return None
    return None


def iso(value: Any) -> str | None:
    dt = to_datetime(value)
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def seconds(a: Any, b: Any) -> float | None:
    """``b - a`` in seconds, or None when either is unknown."""
    da, db = to_datetime(a), to_datetime(b)
    if da is None or db is None:
        return None
    return round((db - da).total_seconds(), 3)


def plain(value: Any) -> Any:
    """Dataclasses, tuples and mappings → JSON-ready dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return iso(value)
    return value


# --------------------------------------------------------------------------- shared parts


@dataclass(frozen=True)
class ReleaseInfo:
    series: str
    #: How operators name it: ``2024.2 Dalmatian``.
    label: str
    version_id: str | None = None
    octavia_major: int | None = None
    #: Newest Octavia / octavia-lib versions the catalog knows for the release.
    octavia: str | None = None
    octavia_lib: str | None = None
    alembic_head: str | None = None
    octavia_status: bool | None = None

    @classmethod
    def from_catalog_entry(cls, entry: Mapping[str, Any] | None, fallback: str = "") -> ReleaseInfo:
        """From ``Release.as_dict()`` (as stored in a plan), or just a series name."""
        if not entry:
            return cls(series=fallback, label=fallback.capitalize())
        series = str(entry.get("series") or fallback)
        vid = entry.get("version_id")
        octavia = list(entry.get("octavia_versions") or [])
        lib = list(entry.get("octavia_lib_versions") or [])
        return cls(series=series,
                   label=f"{vid} {series.capitalize()}" if vid else series.capitalize(),
                   version_id=vid, octavia_major=entry.get("octavia_major"),
                   octavia=octavia[-1] if octavia else None, octavia_lib=lib[-1] if lib else None,
                   alembic_head=entry.get("alembic_head"),
                   octavia_status=entry.get("octavia_status"))


@dataclass(frozen=True)
class BecomeInfo:
    """A host's privilege escalation: ``sudo`` to ``user``; whether a password is
    given (never the password itself)."""

    method: str
    user: str
    password_given: bool


@dataclass(frozen=True)
class HopInfo:
    """A bastion (SSH ``ProxyJump``) on the way to a host."""

    name: str
    address: str
    port: int
    user: str


@dataclass(frozen=True)
class HostAccess:
    """How a host is reached and as whom its commands run, as the plan recorded it
    (:func:`octavia_upgrade.hostaccess.host_entry`). ``user``, ``become`` and
    ``proxy_jump`` are None when the plan (recorded before plan schema 3) did not say."""

    name: str
    address: str | None
    port: int | None
    roles: tuple[str, ...]
    #: The SSH login user.
    user: str | None
    #: None: commands run as the login user (no sudo), or not recorded.
    become: BecomeInfo | None
    #: Bastions, first hop first (empty: a direct connection).
    proxy_jump: tuple[HopInfo, ...] | None
    #: ``ssh``, or ``local``: commands run on the operator machine (``ansible_connection=local``).
    connection: str = "ssh"
    #: The LXC container commands run in, entered with ``lxc-attach`` on the host (OSA).
    container: str | None = None

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> HostAccess:
        """From a plan's host entry (``Plan.hosts``, or the plan stored with a run)."""
        known = entry.get("user") is not None
        become = entry.get("become") if known else None
        return cls(
            name=str(entry.get("name")), address=entry.get("address"), port=entry.get("port"),
            roles=tuple(entry.get("roles") or ()), user=entry.get("user"),
            become=BecomeInfo(str(become.get("method", "sudo")), str(become.get("user", "root")),
                              bool(become.get("password_given"))) if become else None,
            proxy_jump=tuple(HopInfo(str(h.get("name") or h.get("address")),
                                     str(h.get("address")), int(h.get("port", 22)),
                                     str(h.get("user")))
                             for h in entry.get("proxy_jump") or ()) if known else None,
            connection=str(entry.get("connection") or "ssh"),
            container=(entry.get("container") or {}).get("name"))


@dataclass(frozen=True)
class ProvenanceInfo:
    runbook_path: str | None
    runbook_name: str | None
    revision: int | None
    sha256: str | None
    git_commit: str | None
    git_dirty: bool | None
    tool_version: str | None
    catalog_version: str | None

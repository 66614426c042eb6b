"""Where a runbook came from: path, revision, sha256, git commit and dirty flag.

Collected once when a plan is made or a run starts, and stored with the run,
so an execution report shows the provenance recorded *at run time* even if
the file changed since. Git is optional: outside a work tree, or without a
``git`` binary, the commit and dirty flag are simply unknown (``None``).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Provenance:
    runbook_path: str
    runbook_name: str | None
    revision: int | None
    sha256: str | None
    #: ``HEAD`` of the git work tree holding the runbook, when there is one.
    git_commit: str | None
    #: True when the runbook file differs from ``HEAD`` (modified or untracked).
    git_dirty: bool | None
    tool_version: str | None
    catalog_version: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Provenance:
        names = cls.__dataclass_fields__
        return cls(**{k: d.get(k) for k in names})  # type: ignore[arg-type]


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _git(args: list[str], cwd: Path) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        res = subprocess.run([git, "-C", str(cwd), *args], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout if res.returncode == 0 else None


def git_state(path: str | Path) -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the git work tree holding ``path``; ``(None, None)`` outside one."""
    p = Path(path).resolve()
    folder = p.parent
    head = _git(["rev-parse", "HEAD"], folder)
    if head is None:
        return None, None
    status = _git(["status", "--porcelain", "--", p.name], folder)
    return head.strip() or None, None if status is None else bool(status.strip())


def collect(runbook_path: str | Path, *, runbook_name: str | None = None,
            revision: int | None = None, sha256: str | None = None,
            catalog_version: str | None = None, tool_version: str | None = None) -> Provenance:
    """Provenance of a runbook file as it is now on disk.

    ``sha256`` may be passed when the loader already hashed the bytes it
    parsed (that is the hash that matters); otherwise the file is hashed.
    """
    from octavia_upgrade import __version__

    path = Path(runbook_path)
    if sha256 is None and path.is_file():
        sha256 = file_sha256(path)
    commit, dirty = git_state(path) if path.exists() else (None, None)
    return Provenance(
        runbook_path=str(runbook_path), runbook_name=runbook_name, revision=revision,
        sha256=sha256, git_commit=commit, git_dirty=dirty,
        tool_version=tool_version or __version__, catalog_version=catalog_version,
    )

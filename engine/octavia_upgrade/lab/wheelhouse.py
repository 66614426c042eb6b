"""Per-release wheelhouses: Octavia and its dependencies as wheels, built once.

The lab installs each node's Octavia offline from a wheelhouse with
``pip install --no-index --find-links WHEELHOUSE``. A wheelhouse is built once
per release series with ``pip wheel`` (the only step that needs PyPI) and then
reused by every later lab, also after ``lab down``.

Where: ``$OCTAVIA_UPGRADE_CACHE/wheelhouse/<series>``, by default
``$XDG_CACHE_HOME/octavia-upgrade/wheelhouse/<series>`` (that is
``~/.cache/octavia-upgrade/wheelhouse/<series>``). It lives outside the lab
directory on purpose: ``lab down`` removes the lab directory, and the
wheelhouse is what makes the next ``lab up`` fast.

Octavia's wheel metadata leaves its dependencies unpinned, so a plain install
takes the newest SQLAlchemy, alembic, oslo.db and oslo.utils. Upstream
deployments install with the release's ``upper-constraints.txt`` for that
reason; the lab pins just what is needed for each release to work (see
:data:`PINS`), written into a constraints file next to the wheels so that
upgrades inside the lab honour it too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from octavia_upgrade.catalog import Release, load_catalog
from octavia_upgrade.errors import InvalidInput

#: Octavia majors that pip-install and run on this Python (measured: 13.x–19.x).
SUPPORTED_MAJORS = range(13, 20)

#: Python interpreter the nodes' venvs are made with (Debian's own).
NODE_PYTHON = "/usr/bin/python3"

#: Dependency pins per Octavia major, as the release's upper-constraints would.
#: 13/14: migration ``3b199c848b96`` needs SQLAlchemy 1.x. 13–15: the health
#: manager checks heartbeat HMACs with ``oslo_utils.secretutils.
#: constant_time_compare``, removed in oslo.utils 9.0 (16.x uses ``hmac``);
#: with a newer oslo.utils every heartbeat is dropped.
PINS: dict[int, tuple[str, ...]] = {
    13: ("SQLAlchemy<2", "oslo.db==15.0.0", "alembic<1.14", "oslo.utils<9"),
    14: ("SQLAlchemy<2", "oslo.db==15.0.0", "alembic<1.14", "oslo.utils<9"),
    15: ("oslo.utils<9",),
}

_STAMP = ".complete"
_CONSTRAINTS = "constraints.txt"


def cache_root() -> Path:
    """The octavia-upgrade cache folder (``OCTAVIA_UPGRADE_CACHE`` or XDG)."""
    env = os.environ.get("OCTAVIA_UPGRADE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "octavia-upgrade"


def supported_release(name: str) -> Release:
    """The catalog release ``name``, if the lab can install it here.

    Raises:
        InvalidInput: unknown release, or one whose Octavia does not install on
            this Python.
    """
    cat = load_catalog()
    try:
        rel = cat.get(name)
    except KeyError:
        raise InvalidInput(
            f"unknown release {name!r}; known: {', '.join(cat.names())}") from None
    if rel.octavia_major not in SUPPORTED_MAJORS:
        ok = [r.series for r in cat.releases if r.octavia_major in SUPPORTED_MAJORS]
        raise InvalidInput(
            f"the lab cannot install {rel.label} (Octavia {rel.octavia_major}.x) on this "
            f"Python; it supports {ok[0]} … {ok[-1]} (Octavia "
            f"{SUPPORTED_MAJORS.start}.x–{SUPPORTED_MAJORS.stop - 1}.x)")
    return rel


def requirements(rel: Release) -> tuple[str, ...]:
    """pip requirement specifiers for ``rel``: Octavia, its octavia-lib, pins."""
    reqs = [f"octavia=={rel.octavia_major}.*"]
    libs = rel.octavia_lib_versions
    if libs:
        reqs.append(f"octavia-lib>={libs[0]},<={libs[-1]}")
    else:
        reqs.append("octavia-lib")
    return (*reqs, *PINS.get(rel.octavia_major, ()))


@dataclass(frozen=True)
class Wheelhouse:
    """One release's wheelhouse folder."""

    series: str
    path: Path
    requirements: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return (self.path / _STAMP).is_file()

    @property
    def constraints_file(self) -> Path:
        """Pins for this release (may be empty); pass as ``pip -c``."""
        return self.path / _CONSTRAINTS

    def pip_args(self) -> str:
        """Arguments for an offline ``pip install`` from this wheelhouse."""
        return (f"--no-index --find-links {self.path} "
                f"--constraint {self.constraints_file}")


def wheelhouse_for(name: str, root: Path | None = None) -> Wheelhouse:
    rel = supported_release(name)
    base = (root or cache_root()) / "wheelhouse" / rel.series
    return Wheelhouse(rel.series, base, requirements(rel))


def _builder_python(root: Path, log) -> str:
    """A venv with pip made from :data:`NODE_PYTHON`, so wheel tags match the nodes."""
    venv = root / "builder-venv"
    py = venv / "bin" / "python"
    if not py.exists():
        log(f"creating the wheel builder venv {venv}")
        subprocess.run([NODE_PYTHON, "-m", "venv", str(venv)], check=True,
                       capture_output=True, text=True)
    if subprocess.run([str(py), "-c", "import wheel"], capture_output=True).returncode != 0:
        # Debian's pip (23.0) builds sdists without a pyproject.toml (some of
        # Octavia's older dependencies) with `setup.py bdist_wheel`, which
        # needs the wheel package in the builder's own environment.
        log("installing the wheel package into the wheel builder venv")
        proc = subprocess.run([str(py), "-m", "pip", "install", "-q",
                               "--disable-pip-version-check", "wheel"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise RuntimeError(f"pip install wheel (wheel builder venv) failed:\n{tail}")
    return str(py)


def ensure(name: str, root: Path | None = None, log=print) -> Wheelhouse:
    """Build the wheelhouse for release ``name`` unless it is already complete.

    Args:
        name: a catalog release (series or version id).
        root: cache folder (default :func:`cache_root`).
        log: progress callback taking one line of text.

    Raises:
        InvalidInput: the release is not supported by the lab.
        RuntimeError: ``pip wheel`` failed (its last output lines are included).
    """
    root = root or cache_root()
    wh = wheelhouse_for(name, root)
    if wh.ready:
        return wh
    partial = wh.path.with_name(wh.path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    py = _builder_python(root, log)
    log(f"building the {wh.series} wheelhouse ({' '.join(wh.requirements)}) "
        f"in {wh.path}: needs PyPI, about a minute")
    proc = subprocess.run(
        [py, "-m", "pip", "wheel", "--disable-pip-version-check", "-q",
         "-w", str(partial), *wh.requirements],
        capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        shutil.rmtree(partial, ignore_errors=True)
        raise RuntimeError(f"pip wheel for {wh.series} failed:\n{tail}")
    pins = PINS.get(supported_release(name).octavia_major, ())
    (partial / _CONSTRAINTS).write_text("".join(p + "\n" for p in pins))
    (partial / _STAMP).write_text(" ".join(wh.requirements) + "\n")
    shutil.rmtree(wh.path, ignore_errors=True)
    partial.rename(wh.path)
    return wh

"""Octavia on the lab nodes: the venv, the database schema, the five services.

Everything here happens over SSH on the node (:class:`NodeShell`), with the
commands an operator of a venv deployment would type: ``python3 -m venv``,
``pip install``, ``octavia-db-manage upgrade head``, ``systemctl start``.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from octavia_upgrade.lab.api import OctaviaApi
from octavia_upgrade.lab.octaviaconf import CONFIG_FILE, VENV
from octavia_upgrade.lab.shell import NodeShell
from octavia_upgrade.lab.units import UNITS

NODE_PYTHON = "/usr/bin/python3"


def install_venv(shell: NodeShell, pip_args: str, requirements: Sequence[str],
                 venv: str = VENV) -> str:
    """Create ``venv`` on the node and install Octavia offline; return the version."""
    reqs = " ".join(shlex.quote(r) for r in requirements)
    shell.check(f"mkdir -p {shlex.quote(str(Path(venv).parent))} && "
                f"{NODE_PYTHON} -m venv {venv}", timeout=120, what="python3 -m venv")
    shell.check(f"{venv}/bin/pip install --disable-pip-version-check -q {pip_args} {reqs}",
                timeout=900, what="pip install octavia")
    return installed_version(shell, venv=venv)


def installed_version(shell: NodeShell, package: str = "octavia", venv: str = VENV) -> str:
    out = shell.check(f"{venv}/bin/python -c 'import importlib.metadata as m; "
                      f"print(m.version(\"{package}\"))'", timeout=60)
    return out.strip()


def clone_venv(source: Path, dest: Path) -> None:
    """Copy a node's venv folder to another node's (host paths of their private folders).

    Every node sees its venv at the same path (``/opt/octavia/venv``), so a
    copy is byte for byte what ``pip`` would have written there: the
    shebangs and ``pyvenv.cfg`` name that path, not the host folder. Each node
    still owns its copy and upgrades it independently.
    """
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(dest)], check=True)


def db_upgrade(shell: NodeShell, venv: str = VENV) -> str:
    """``octavia-db-manage upgrade head`` on the node; return ``current`` afterwards."""
    base = f"{venv}/bin/octavia-db-manage --config-file {CONFIG_FILE}"
    shell.check(f"{base} upgrade head", timeout=300, what="octavia-db-manage upgrade head")
    out = shell.check(f"{base} current", timeout=120)
    # oslo.log writes INFO lines to stdout too; the revision line is the last one.
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def start_units(shell: NodeShell, units: Sequence[str] = UNITS) -> None:
    shell.check("systemctl start " + " ".join(units), timeout=120,
                what=f"systemctl start {' '.join(units)}")


#: Prints ``octavia VERSION`` of the code the API unit runs: the venv its unit file's
#: ExecStart names (the osa style), else the venv style's; ``octavia -`` when none reads.
_RUNNING_VERSION = (
    f"u=/etc/systemd/system/octavia-api.service; b={VENV}/bin; "
    "if [ -f $u ]; then b=$(sed -n 's|^ExecStart=\\(/[^ ]*\\)/[^/ ]*.*|\\1|p' $u | tail -n1); "
    "fi; \"$b/python\" -c 'import importlib.metadata as m; print(\"octavia\", "
    "m.version(\"octavia\"))' 2>/dev/null || echo 'octavia -'")


def node_software(shell: NodeShell, units: Sequence[str] = UNITS
                  ) -> tuple[dict[str, str], str | None]:
    """Each unit's ``systemctl is-active`` and the Octavia version its API unit runs
    (None: not read), in one command (every unit ``unreachable`` if SSH fails)."""
    script = "; ".join([*(f"printf '%s ' {u}; systemctl is-active {u}" for u in units),
                        _RUNNING_VERSION])
    return read_software(shell, script, units, timeout=30)


def read_software(shell: NodeShell, script: str, units: Sequence[str], timeout: float
                  ) -> tuple[dict[str, str], str | None]:
    """Run ``script`` on the node and read its ``UNIT STATE`` lines and its ``octavia
    VERSION`` line (``octavia -``: not read); every unit ``unreachable`` if SSH fails."""
    try:
        res = shell.run(script, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {u: "unreachable" for u in units}, None
    if res.rc == 255:
        return {u: "unreachable" for u in units}, None
    states = dict.fromkeys(units, "unknown")
    version = None
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in states:
            states[parts[0]] = parts[1]
        elif len(parts) == 2 and parts[0] == "octavia" and parts[1] != "-":
            version = parts[1]
    return states, version


def wait_apis(apis: Sequence[OctaviaApi], timeout: float = 180.0,
              log: Callable[[str], None] = print) -> None:
    """Poll ``GET /`` of every API until all answer (on 2 cores: 10–50 s).

    Raises:
        RuntimeError: an API still does not answer after ``timeout`` seconds.
    """
    pending = list(apis)
    deadline = time.monotonic() + timeout
    while pending:
        pending = [a for a in pending if not a.ready()]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise RuntimeError("Octavia API not answering after "
                               f"{timeout:.0f}s: {', '.join(a.base_url for a in pending)}")
        time.sleep(1.0)
    log("all Octavia APIs answer")

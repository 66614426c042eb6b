#!/usr/bin/python3
"""The lab's service-manager stand-in, bind-mounted over ``/usr/bin/systemctl`` in each node.

Lab nodes have no systemd, yet the ``venv`` flavor manages services with the
real commands (``systemctl stop octavia-api``). This script answers those
commands for the five Octavia units the way systemd would for
``Type=simple`` units with ``KillMode=mixed``:

* ``start``: launches the ``ExecStart`` of ``/etc/systemd/system/<unit>.service``
  when that file exists (the ``osa`` style), else ``/opt/octavia/venv/bin/<unit>
  --config-file /etc/octavia/octavia.conf`` (plus ``--config-dir
  /etc/octavia/conf.d`` when that folder exists), detached in its own session
  with the environment systemd would give it (the caller's own exports, such as
  the run's ``OCTAVIA_UPGRADE_ATTEMPT``, are dropped); PID file
  ``/run/octavia/<unit>.pid`` (``PID STARTTIME``), output appended to
  ``/var/log/octavia/<unit>.log``.
* ``stop``: SIGTERM to the unit's main process, then waits up to
  ``OCTAVIA_LAB_STOP_TIMEOUT`` seconds (default 30, systemd's TimeoutStopSec).
  A unit that does not exit is reported and the command exits 1 — the process
  is *not* killed, so a stuck service stays visible until someone runs
  ``systemctl kill -s KILL UNIT``. Once the main process is gone, children
  it left behind get SIGKILL after 5 s.
* ``restart``, ``is-active`` (prints active/inactive/failed; exit 0 or 3),
  ``status`` (exit 0 running, 3 not running, 4 unknown unit), ``kill [-s SIG]``,
  ``daemon-reload`` (no-op), ``is-enabled`` / ``enable`` / ``disable``.

It runs with Debian's ``/usr/bin/python3`` and imports only the standard
library, so it works on a node whatever is installed in the node's venv.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time

UNITS = {
    "octavia-api": "Octavia API",
    "octavia-worker": "Octavia worker",
    "octavia-health-manager": "Octavia health manager",
    "octavia-housekeeping": "Octavia housekeeping",
    "octavia-driver-agent": "Octavia provider driver agent",
}

VENV = "/opt/octavia/venv"
CONFIG_FILE = "/etc/octavia/octavia.conf"
CONFIG_DIR = "/etc/octavia/conf.d"
RUN_DIR = "/run/octavia"
LOG_DIR = "/var/log/octavia"
UNITS_DIR = "/etc/systemd/system"

# systemd's exit codes (LSB): 3 = not running, 4 = unknown unit, 5 = not loaded.
EXIT_NOT_RUNNING = 3
EXIT_UNKNOWN = 4
EXIT_NOT_LOADED = 5


def _unit(name: str) -> str:
    return name[:-len(".service")] if name.endswith(".service") else name


def _pidfile(unit: str) -> str:
    return os.path.join(RUN_DIR, f"{unit}.pid")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(")") + 2:].split()


def _read_pid(unit: str) -> tuple[int, int | None] | None:
    try:
        with open(_pidfile(unit), encoding="utf-8") as f:
            parts = f.read().split()
    except OSError:
        return None
    if not parts:
        return None
    return int(parts[0]), (int(parts[1]) if len(parts) > 1 else None)


def main_pid(unit: str) -> int | None:
    """The unit's running main PID, or None (a recycled PID does not count)."""
    rec = _read_pid(unit)
    if rec is None:
        return None
    pid, started = rec
    fields = _stat(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    if started is not None and int(fields[19]) != started:
        return None
    return pid


def state(unit: str) -> str:
    """``active`` | ``inactive`` | ``failed`` (a PID file whose process died)."""
    if main_pid(unit) is not None:
        return "active"
    return "failed" if os.path.exists(_pidfile(unit)) else "inactive"


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Members that are only zombies do not count.
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields and int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
    return False


def command(unit: str) -> list[str]:
    """What starting ``unit`` runs: its unit file's ``ExecStart`` when there is one.

    A unit file ``/etc/systemd/system/UNIT.service`` (the lab's ``osa`` style
    writes them, as OpenStack-Ansible does) is read at every start, so an edit
    takes effect at the next start (systemd would want ``daemon-reload``
    first; the flavors run it). Its last ``ExecStart=`` line wins, split as a
    shell would (no variables). Without one: the venv's console script with
    the node's configuration file (and ``conf.d`` when it exists).

    Raises:
        ValueError: the unit file has no usable ``ExecStart=``.
    """
    path = os.path.join(UNITS_DIR, f"{unit}.service")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        argv = [os.path.join(VENV, "bin", unit), "--config-file", CONFIG_FILE]
        if os.path.isdir(CONFIG_DIR):
            argv += ["--config-dir", CONFIG_DIR]
        return argv
    execs = [ln.split("=", 1)[1].strip() for ln in lines
             if ln.strip().startswith("ExecStart=")]
    argv = shlex.split(execs[-1]) if execs else []
    if not argv or not argv[0].startswith("/"):
        raise ValueError(f"{path} has no ExecStart= with an absolute path")
    return argv


def start(unit: str) -> int:
    if main_pid(unit) is not None:
        return 0
    _forget_pending_stop(unit)
    os.makedirs(RUN_DIR, exist_ok=True)
    os.makedirs(LOG_DIR, exist_ok=True)
    try:
        argv = command(unit)
    except ValueError as exc:
        print(f"Failed to start {unit}.service: {exc}", file=sys.stderr)
        return 1
    exe = argv[0]
    if not os.access(exe, os.X_OK):
        print(f"Failed to start {unit}.service: {exe} is not installed.", file=sys.stderr)
        return 1
    with open(os.path.join(LOG_DIR, f"{unit}.log"), "ab") as log, \
            open(os.devnull, "rb") as null:
        log.write(f"-- {time.strftime('%Y-%m-%d %H:%M:%S')} systemctl start {unit}\n".encode())
        log.flush()
        proc = subprocess.Popen(argv, stdin=null, stdout=log, stderr=log, env=_service_env(),
                                start_new_session=True, close_fds=True, cwd="/")
    fields = _stat(proc.pid)
    with open(_pidfile(unit) + ".tmp", "w", encoding="utf-8") as f:
        f.write(f"{proc.pid} {fields[19] if fields else ''}\n")
    os.replace(_pidfile(unit) + ".tmp", _pidfile(unit))
    # Type=simple: systemd reports success once the process exists. A unit
    # that dies at once (bad config, missing module) is reported here instead
    # of leaving the operator to find out from is-active.
    time.sleep(0.5)
    if proc.poll() is not None:
        print(f"Job for {unit}.service failed because the control process exited with "
              f"error code (status={proc.returncode}).\nSee {LOG_DIR}/{unit}.log for details.",
              file=sys.stderr)
        return 1
    return 0


def _service_env() -> dict[str, str]:
    """The environment a started unit gets: the node's, without the caller's run marker.

    systemd starts a unit from PID 1 with the manager's environment, never the
    environment of the ``systemctl`` that asked. The node's session environment
    stands in for the manager's here; what a caller exported for itself is
    dropped, above all ``OCTAVIA_UPGRADE_ATTEMPT``: a service carrying it would
    look like a command of a stopped run still going, and ``resume`` would wait
    for it for as long as the service runs.
    """
    return {k: v for k, v in os.environ.items() if not k.startswith("OCTAVIA_UPGRADE_")}


def stop(unit: str, timeout: float) -> int:
    """``KillMode=mixed``: SIGTERM to the main process, SIGKILL to what it leaves behind.

    Only the main process gets SIGTERM: it stops its own children (the driver
    agent joins its listeners, cotyledon masters their workers). Signalling
    the children too can kill one while it holds a lock the main process
    needs to shut down, and the stop then hangs (the health manager of
    13.x-15.x deadlocks in its own signal handler when its children die first).
    """
    pid = main_pid(unit)
    if pid is None:
        if os.path.exists(_pidfile(unit)):
            os.unlink(_pidfile(unit))
        return 0
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and main_pid(unit) is not None:
        time.sleep(0.1)
    if main_pid(unit) is not None:
        # Remembered so that whoever unfreezes a stuck unit can repeat the request.
        with open(_pidfile(unit)[:-4] + ".stop-pending", "w", encoding="utf-8") as f:
            f.write(f"{pid}\n")
        print(f"Failed to stop {unit}.service: main process {pid} did not exit within "
              f"{timeout:g}s of SIGTERM and is still running.\n"
              f"Use 'systemctl kill -s KILL {unit}' to kill it.", file=sys.stderr)
        return 1
    grace = time.monotonic() + 5
    while time.monotonic() < grace and _group_alive(pid):
        time.sleep(0.1)
    if _group_alive(pid):
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    os.unlink(_pidfile(unit))
    _forget_pending_stop(unit)
    return 0


def _forget_pending_stop(unit: str) -> None:
    try:
        os.unlink(_pidfile(unit)[:-4] + ".stop-pending")
    except FileNotFoundError:
        pass


def kill(unit: str, sig: int) -> int:
    pid = main_pid(unit)
    if pid is None:
        print(f"Failed to kill unit {unit}.service: no process to kill", file=sys.stderr)
        return 1
    try:
        os.killpg(pid, sig)
        if sig == signal.SIGKILL:
            os.killpg(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
    return 0


def status(unit: str) -> int:
    st = state(unit)
    pid = main_pid(unit)
    print(f"● {unit}.service - {UNITS[unit]} (lab service manager)")
    print(f"     Loaded: loaded ({VENV}/bin/{unit}; enabled)")
    if pid is not None:
        fields = _stat(pid) or ["?"]
        sub = "stopped (SIGSTOP)" if fields[0] == "T" else "running"
        print(f"     Active: active ({sub})")
        print(f"   Main PID: {pid} ({unit})")
    else:
        print(f"     Active: {st} (dead)")
    print(f"       Logs: {LOG_DIR}/{unit}.log")
    return 0 if pid is not None else EXIT_NOT_RUNNING


def _signal(name: str) -> int:
    name = name.upper()
    if name.isdigit():
        return int(name)
    return int(getattr(signal, name if name.startswith("SIG") else "SIG" + name))


USAGE = ("usage: systemctl [--quiet] {start|stop|restart|is-active|status|kill [-s SIG]|"
         "daemon-reload|is-enabled|enable|disable} UNIT...")


def main(argv: list[str]) -> int:
    quiet = False
    sig = signal.SIGTERM
    words: list[str] = []
    args = iter(argv)
    for a in args:
        if a in ("-q", "--quiet"):
            quiet = True
        elif a in ("-s", "--signal"):
            sig = _signal(next(args, "TERM"))
        elif a.startswith("--signal="):
            sig = _signal(a.split("=", 1)[1])
        elif a.startswith("-"):
            continue  # --no-pager, --no-block, ... change nothing here
        else:
            words.append(a)
    if not words:
        print(USAGE, file=sys.stderr)
        return 1
    verb, units = words[0], [_unit(u) for u in words[1:]]
    if verb == "daemon-reload":
        return 0
    if not units:
        print(f"Too few arguments.\n{USAGE}", file=sys.stderr)
        return 1
    timeout = float(os.environ.get("OCTAVIA_LAB_STOP_TIMEOUT", "30"))
    rc = 0
    for unit in units:
        if unit not in UNITS:
            if verb == "is-active":
                if not quiet:
                    print("inactive")
                rc = rc or EXIT_NOT_RUNNING
                continue
            print(f"Unit {unit}.service could not be found.", file=sys.stderr)
            rc = rc or (EXIT_UNKNOWN if verb == "status" else EXIT_NOT_LOADED)
            continue
        if verb == "start":
            rc = start(unit) or rc
        elif verb == "stop":
            rc = stop(unit, timeout) or rc
        elif verb == "restart":
            rc = stop(unit, timeout) or start(unit) or rc
        elif verb == "is-active":
            st = state(unit)
            if not quiet:
                print(st)
            rc = rc or (0 if st == "active" else EXIT_NOT_RUNNING)
        elif verb == "status":
            rc = status(unit) or rc
        elif verb == "kill":
            rc = kill(unit, sig) or rc
        elif verb in ("is-enabled", "enable", "disable"):
            if verb == "is-enabled" and not quiet:
                print("enabled")
        else:
            print(f"Unknown command verb {verb}.", file=sys.stderr)
            return 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

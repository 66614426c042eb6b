"""A non-root login with sudo behind a password, as production control planes are reached.

``lab up --login USER`` creates USER on this machine (the nodes share its
``/etc/passwd``), with the sudo password taken once from the environment
variable :data:`PASSWORD_ENV`: it goes to ``chpasswd`` on standard input and
nowhere else. Each node gets its own ``/etc/sudoers.d`` (bind-mounted from
``DIR/sudoers.d``) with the single rule ``USER ALL=(ALL:ALL) ALL``, so sudo
asks for the password on every node and the machine's own sudoers are not
touched. The user logs in with the lab's client key, installed as
``~USER/.ssh/octavia-lab-authorized_keys`` (a name only the nodes' sshd reads).

The inventory the lab writes then logs in as USER and runs every command
through ``sudo -S`` with ``become: {password_env: OCTAVIA_UPGRADE_LAB_SUDO_PASSWORD}``:
the password is in no file the lab or the tool writes, only in the
operator's environment. ``lab down`` removes the user (and its home) again,
and only a user this lab created (recorded in ``lab.json`` with its home).
"""

from __future__ import annotations

import os
import pwd
import re
import subprocess
from pathlib import Path
from typing import Any

from octavia_upgrade.errors import InvalidInput, LabError, Refused

#: Where the sudo password comes from, at ``lab up`` and when the tool runs.
PASSWORD_ENV = "OCTAVIA_UPGRADE_LAB_SUDO_PASSWORD"
#: The key file name the nodes' sshd reads in a user's ``~/.ssh``.
KEYS_NAME = "octavia-lab-authorized_keys"
SUDOERS_DIR = "sudoers.d"

_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,30}$")


def check(user: str, environ: dict[str, str] | None = None) -> str:
    """Validate ``--login USER`` before anything starts; return the password.

    Raises:
        InvalidInput: a bad user name, or no password in :data:`PASSWORD_ENV`.
        Refused: USER already exists here (the lab never takes over a real account).
    """
    env = os.environ if environ is None else environ
    if not _NAME.match(user) or user == "root":
        raise InvalidInput(f"--login {user!r}: a new user name is needed (lowercase letters, "
                           "digits, '_' and '-', not root)")
    password = env.get(PASSWORD_ENV, "")
    if not password or "\n" in password or ":" in password:
        raise InvalidInput(f"--login needs the sudo password in the environment variable "
                           f"{PASSWORD_ENV} (one line, no ':'); it is never written to a file")
    try:
        pwd.getpwnam(user)
    except KeyError:
        return password
    raise Refused(f"--login {user}: the user already exists on this machine; the lab creates "
                  "its own login user (and removes it at `lab down`): choose another name")


def planned(user: str) -> dict[str, Any]:
    """The record saved in ``lab.json`` before the user is created (so a crash in
    between still lets ``lab down`` remove it)."""
    return {"user": user, "home": str(Path("/home") / user), "uid": None}


def create(lab_dir: Path, record: dict[str, Any], password: str) -> dict[str, Any]:
    """Create the user and the nodes' sudoers; return the record with the user's uid.

    Raises:
        LabError: ``useradd`` or ``chpasswd`` failed.
    """
    user, home = record["user"], Path(record["home"])
    # '*': no password login (sshd, UsePAM no, refuses a locked '!' account).
    _run(["useradd", "-m", "-d", str(home), "-s", "/bin/sh", "-p", "*", user], what="useradd")
    record = {**record, "uid": pwd.getpwnam(user).pw_uid}
    _run(["chpasswd"], what="chpasswd", stdin=f"{user}:{password}\n")
    sudoers = lab_dir / SUDOERS_DIR
    sudoers.mkdir(mode=0o750, exist_ok=True)
    rule = sudoers / "octavia-lab"
    rule.write_text(f"{user} ALL=(ALL:ALL) ALL\n", encoding="utf-8")
    rule.chmod(0o440)
    return record


def authorize(record: dict[str, Any], public_key: str) -> None:
    """Let the lab's client key log in as the user (``~/.ssh/`` :data:`KEYS_NAME`)."""
    entry = pwd.getpwnam(record["user"])
    ssh = Path(record["home"]) / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    keys = ssh / KEYS_NAME
    keys.write_text(public_key + "\n", encoding="utf-8")
    for path in (ssh, keys):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    keys.chmod(0o600)


def remove(record: dict[str, Any]) -> None:
    """Remove the user ``create`` made (only if it is still that user, with that home)."""
    try:
        entry = pwd.getpwnam(record["user"])
    except KeyError:
        return
    if entry.pw_dir != record["home"] or (record.get("uid") is not None
                                          and entry.pw_uid != record["uid"]):
        return
    subprocess.run(["userdel", "-r", "-f", record["user"]], capture_output=True, check=False)


def inventory_fields(user: str) -> dict[str, Any]:
    """What the lab's inventory says about the login (no password: its variable's name)."""
    return {"user": user, "become": {"user": "root", "password_env": PASSWORD_ENV}}


def _run(argv: list[str], what: str, stdin: str | None = None) -> None:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # never the input: it holds the password
        raise LabError(f"{what} failed (exit {done.returncode}): {done.stderr.strip()}")

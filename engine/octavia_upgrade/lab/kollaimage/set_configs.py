#!/usr/bin/python3
"""kolla_set_configs for the lab's kolla-style images (standard library only).

Reads ``$KOLLA_CONFIG_FILE`` (default ``/var/lib/kolla/config_files/config.json``),
the document kolla-ansible writes for a service::

    {"command": "...",
     "config_files": [{"source": ..., "dest": ..., "owner": "user[:group]",
                       "perm": "0600", "optional": false}],
     "permissions": [{"path": ..., "owner": "user[:group]", "perm": ..., "recurse": true}]}

and applies it as kolla's images do: with ``KOLLA_CONFIG_STRATEGY=COPY_ALWAYS`` at
every start, with ``COPY_ONCE`` only while ``/configured`` is absent. Exits 1 with
one line on stderr when the document or a non-optional source is missing.
"""

import glob
import grp
import json
import os
import pwd
import shutil
import sys

CONFIG = os.environ.get("KOLLA_CONFIG_FILE", "/var/lib/kolla/config_files/config.json")
STAMP = "/configured"


def ids(owner):
    user, _, group = owner.partition(":")
    uid = pwd.getpwnam(user).pw_uid
    gid = grp.getgrnam(group).gr_gid if group else pwd.getpwnam(user).pw_gid
    return uid, gid


def copy(entry):
    sources = sorted(glob.glob(entry["source"]))
    if not sources:
        if entry.get("optional"):
            return
        raise SystemExit(f"kolla_set_configs: {entry['source']} does not exist")
    dest = entry["dest"]
    for src in sources:
        target = dest
        if dest.endswith("/") or len(sources) > 1 or os.path.isdir(dest):
            target = os.path.join(dest, os.path.basename(src))
        os.makedirs(os.path.dirname(target) or "/", exist_ok=True)
        if os.path.isdir(src):
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(src, target)
        else:
            shutil.copyfile(src, target)
        apply(target, entry.get("owner"), entry.get("perm"), recurse=True)


def apply(path, owner, perm, recurse=False):
    paths = [path]
    if recurse and os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            paths += [os.path.join(root, n) for n in dirs + files]
    uid_gid = ids(owner) if owner else None
    for p in paths:
        if uid_gid:
            os.chown(p, *uid_gid)
        if perm:
            os.chmod(p, int(perm, 8))


def main():
    strategy = os.environ.get("KOLLA_CONFIG_STRATEGY", "COPY_ALWAYS")
    if strategy not in ("COPY_ALWAYS", "COPY_ONCE"):
        raise SystemExit(f"kolla_set_configs: unknown KOLLA_CONFIG_STRATEGY {strategy}")
    try:
        with open(CONFIG, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as exc:
        raise SystemExit(f"kolla_set_configs: {CONFIG}: {exc}") from None
    if strategy == "COPY_ALWAYS" or not os.path.exists(STAMP):
        for entry in doc.get("config_files", []):
            copy(entry)
        for entry in doc.get("permissions", []):
            if os.path.exists(entry["path"]):
                apply(entry["path"], entry.get("owner"), entry.get("perm"),
                      recurse=entry.get("recurse", False))
        if strategy == "COPY_ONCE":
            open(STAMP, "w").close()
    with open("/run_command", "w", encoding="utf-8") as f:
        f.write(doc["command"])
    return 0


if __name__ == "__main__":
    sys.exit(main())

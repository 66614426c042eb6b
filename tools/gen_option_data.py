#!/usr/bin/env python3
"""Regenerate the packaged option data: ``engine/octavia_upgrade/data/options/<series>.json``.

For every release whose Octavia installs on this machine the data comes from
the real package: a venv per release with ``octavia==N.*``, then
``oslo-config-generator --format json`` over the 14 namespaces of Octavia's
own ``etc/config/octavia-config-generator.conf`` (those the venv has).
Library option defaults depend on the installed oslo versions, which is why
each release gets its own venv:

* Bobcat 13.x … Hibiscus 19.x (``INSTALLABLE``): current libraries, plus the
  pins a release needs;
* older releases (``CONSTRAINED``): installed under that release's own
  ``upper-constraints.txt`` from openstack/requirements at the catalog's
  ``requirements_ref`` (``--requirements`` names a clone), so every library
  is the version the release was tested with.

Releases neither list names hold only the option changes INTO that release
from ``engine/octavia_upgrade/data/config_changes.yaml`` (release notes and
``octavia/common/config.py`` diffs, each entry with its source) and are
marked ``"complete": false``: the checker then reports renamed/removed/
deprecated options but cannot call a name unknown.

Usage::

    python3 tools/gen_option_data.py [--venvs /tmp/octavia-option-venvs] [--only SERIES ...]
        [--requirements ~/src/requirements] [--changes-only]

Venvs are created under ``--venvs`` when missing (30–45 s each) and reused
otherwise. Options Octavia registers at import time outside its generator
list (keystoneauth options of ``[neutron]``/``[service_auth]``) are read from
the live ``cfg.CONF`` and added. The output is trimmed to what ``configcheck``
needs: per group and option the type, default, deprecated names, deprecation
flags and ``secret``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "engine" / "octavia_upgrade" / "data"
OUT = DATA / "options"

#: Octavia's generator namespaces (etc/config/octavia-config-generator.conf).
NAMESPACES = (
    "octavia", "oslo.db", "oslo.log", "oslo.messaging", "oslo.middleware.cors",
    "oslo.middleware.http_proxy_to_wsgi", "oslo.middleware.healthcheck",
    "oslo.middleware.sizelimit", "oslo.policy", "oslo.reports", "keystonemiddleware.audit",
    "keystonemiddleware.auth_token", "cotyledon", "castellan.config",
)

#: Releases that pip-install on Python 3.11, with the pins they need
#: (migration 3b199c848b96 uses autoload=True, rejected by SQLAlchemy 2).
INSTALLABLE = {
    "bobcat": ("13", ("SQLAlchemy<2", "oslo.db==15.0.0", "alembic<1.14")),
    "caracal": ("14", ("SQLAlchemy<2", "oslo.db==15.0.0", "alembic<1.14")),
    "dalmatian": ("15", ()),
    "epoxy": ("16", ()),
    "flamingo": ("17", ()),
    "gazpacho": ("18", ()),
    "hibiscus": ("19", ()),
}

#: Releases installed under their own upper-constraints, newest first. Victoria
#: is not generated yet: its oslo.policy pin (an option library) does not import
#: on Python 3.11; Ussuri and older have Python 3.6-era pins.
CONSTRAINED = {
    "antelope": "12",
    "zed": "11",
    "yoga": "10",
    "xena": "9",
    "wallaby": "8",
}

KEEP = ("type", "default", "deprecated_opts", "deprecated_for_removal", "deprecated_since",
        "deprecated_reason", "secret")

_IDENT = re.compile(r"^[A-Za-z0-9_\-]+$")

#: Options Octavia registers at import time outside its generator list (e.g.
#: keystoneauth session/adapter/auth options of [neutron] and [service_auth]
#: from ``register_ks_options``): read from the live ``cfg.CONF``.
RUNTIME_SCRIPT = """
import json, warnings
warnings.simplefilter("ignore")
from oslo_config import cfg
import octavia.common.config  # noqa: F401 - registers options on import
try:  # the API's audit middleware; no generator entry point before keystonemiddleware 10
    import keystonemiddleware.audit  # noqa: F401
except ImportError:
    pass

def describe(opt):
    item = {"type": getattr(opt.type, "type_name", type(opt).__name__),
            "default": None if opt.secret else opt.default}
    deps = [[d.group or None, (d.name or opt.dest).replace("-", "_")]
            for d in (opt.deprecated_opts or [])]
    if deps:
        item["deprecated_opts"] = deps
    for k in ("deprecated_for_removal", "deprecated_since", "deprecated_reason", "secret"):
        v = getattr(opt, k, None)
        if v:
            item[k] = v
    return item

out = {"DEFAULT": {i["opt"].dest: describe(i["opt"]) for i in cfg.CONF._opts.values()}}
for name, group in cfg.CONF._groups.items():
    out[name] = {i["opt"].dest: describe(i["opt"]) for i in group._opts.values()}
print(json.dumps(out, default=str))
"""

AUTH_PLUGIN_SCRIPT = """
import json
from keystoneauth1 import loading
names = set()
for plugin in loading.get_available_plugin_names():
    try:
        opts = loading.get_plugin_options(plugin)
    except Exception:
        continue
    names.update(o.dest for o in opts)
print(json.dumps(sorted(names)))
"""


def _series_of(release: str, catalog: list[dict]) -> str | None:
    """``2023.1`` / ``pike`` / ``2026.2 (unreleased, master)`` → catalog series."""
    key = release.split()[0].strip().lower()
    for r in catalog:
        if key in (r["series"], str(r.get("version_id"))):
            return r["series"]
    return None


def _load_yaml(path: Path):
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def changes_by_series(catalog: list[dict]) -> dict[str, list[dict]]:
    doc = _load_yaml(DATA / "config_changes.yaml")
    out: dict[str, list[dict]] = {}
    for c in doc["config_changes"]:
        series = _series_of(str(c["release"]), catalog)
        if series is None:
            raise SystemExit(f"config_changes.yaml: unknown release {c['release']!r}")
        entry = {k: c.get(k) for k in ("group", "option", "value", "change", "replacement",
                                        "note_file", "detail") if c.get(k) is not None}
        entry["matchable"] = bool(_IDENT.match(str(c["group"])) and _IDENT.match(str(c["option"])))
        if c.get("unverified"):
            entry["unverified"] = True
        out.setdefault(series, []).append(entry)
    return out


_NO_BUILD = re.compile(r"Failed building wheel for ([A-Za-z0-9_.\-]+)"
                       r"|pip-install-[^/]+/([A-Za-z0-9_.\-]+?)_[0-9a-f]{32}/")


_COLLECTING = re.compile(r"^Collecting ([A-Za-z0-9_.\-]+?)(?:[=<>!~ ;\[]|$)", re.M)


def ensure_venv(root: Path, major: str, pins: tuple[str, ...],
                constraints: Path | None = None) -> Path:
    """The venv of Octavia ``major`` (created when missing).

    Under ``constraints``, a pinned library that does not build on this Python
    (e.g. yappi 1.3.6, wrapt 1.12) is unpinned and the install
    retried; the names are kept in ``<venv>/unpinned.txt`` for the source line.
    """
    venv = root / major
    if (venv / "bin" / "oslo-config-generator").exists():
        return venv
    print(f"creating {venv} (octavia=={major}.*)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    early = constraints.with_suffix(".unpinned") if constraints else None
    unpinned: list[str] = early.read_text().split() if early and early.exists() else []
    for _attempt in range(8):
        extra = ["-c", str(constraints)] if constraints else []
        quiet = [] if constraints else ["-q"]  # under constraints: name what failed
        run = subprocess.run([str(venv / "bin" / "pip"), "install", *quiet, f"octavia=={major}.*",
                              *pins, *extra], capture_output=True, text=True)
        if run.returncode == 0:
            (venv / "unpinned.txt").write_text("".join(f"{n}\n" for n in unpinned))
            return venv
        failed = sorted({(a or b).lower()
                         for a, b in _NO_BUILD.findall(run.stdout + run.stderr)} - set(unpinned))
        if not failed and constraints is not None:  # e.g. metadata of an sdist failed
            collected = _COLLECTING.findall(run.stdout)
            failed = [collected[-1].lower()] if collected else []
        if constraints is None or not failed:
            raise SystemExit(f"{venv}: pip install failed:\n{run.stderr[-3000:]}")
        unpinned += failed
        keep = [line for line in constraints.read_text(encoding="utf-8").splitlines()
                if line.split("===")[0].strip().lower().replace("_", "-")
                not in {f.replace("_", "-") for f in failed}]
        constraints.write_text("\n".join(keep) + "\n", encoding="utf-8")
        print(f"  unpinned (no build on this Python): {', '.join(failed)}", flush=True)
    raise SystemExit(f"{venv}: still failing after unpinning {', '.join(unpinned)}")


def _unpinned(venv: Path) -> list[str]:
    path = venv / "unpinned.txt"
    return path.read_text().split() if path.exists() else []


#: Pins older than these do not import on Python 3.11 (wrapt < 1.14 imports
#: inspect.formatargspec, eventlet < 0.33 patches TimeoutError, dnspython 1.x
#: uses collections.MutableMapping): replaced by the range given, and named in
#: the source line. None of them registers configuration options.
PY311_MINIMUM = {
    "wrapt": ((1, 14), "wrapt>=1.14,<1.17"),
    "eventlet": ((0, 33), "eventlet>=0.33.3,<0.36"),
    "dnspython": ((2, 0), "dnspython>=2.2,<2.7"),
}


def _too_old(line: str) -> str | None:
    name, _, version = line.partition("===")
    key = name.strip().lower()
    rule = PY311_MINIMUM.get(key)
    if rule is None or not version:
        return None
    have = tuple(int(p) for p in re.findall(r"\d+", version.split(";")[0])[:2])
    return key if have < rule[0] else None


def upper_constraints(requirements: Path, ref: str, dest: Path) -> Path:
    """openstack/requirements' ``upper-constraints.txt`` at ``ref``, written to ``dest``
    with the pins :data:`PY311_MINIMUM` rejects replaced (listed in ``<dest>.unpinned``)."""
    text = subprocess.run(["git", "-C", str(requirements), "show", f"{ref}:upper-constraints.txt"],
                          check=True, capture_output=True, text=True).stdout
    lines = text.splitlines()
    dropped = [n for n in map(_too_old, lines) if n]
    kept = [x for x in lines if not _too_old(x)] + [PY311_MINIMUM[n][1] for n in dropped]
    dest.write_text("\n".join(kept) + "\n", encoding="utf-8")
    dest.with_suffix(".unpinned").write_text("".join(f"{n}\n" for n in dropped))
    return dest


NAMESPACES_SCRIPT = """
import json
from importlib.metadata import entry_points
print(json.dumps(sorted(e.name for e in entry_points(group="oslo.config.opts"))))
"""


def _trim_default(value, secret: bool, venv: Path):
    if secret:
        return None
    if isinstance(value, str) and str(venv) in value:
        # A default computed from the install location: not a release fact.
        return value.replace(str(venv), "<prefix>")
    return value


def generate(venv: Path) -> tuple[str, dict, list[str], list[str]]:
    have = set(json.loads(subprocess.run([str(venv / "bin" / "python"), "-c", NAMESPACES_SCRIPT],
                                         check=True, capture_output=True, text=True).stdout))
    namespaces = [ns for ns in NAMESPACES if ns in have]
    cmd = [str(venv / "bin" / "oslo-config-generator"), "--format", "json"]
    for ns in namespaces:
        cmd += ["--namespace", ns]
    raw = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    version = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import importlib.metadata as m; print(m.version('octavia'), m.version('oslo.config'))"],
        check=True, capture_output=True, text=True).stdout.split()
    auth = json.loads(subprocess.run([str(venv / "bin" / "python"), "-c", AUTH_PLUGIN_SCRIPT],
                                     check=True, capture_output=True, text=True).stdout)
    groups: dict[str, dict] = {}
    for gname, group in sorted(raw["options"].items()):
        opts = {}
        for o in group["opts"]:
            secret = bool(o.get("secret"))
            default = o.get("sample_default") if o.get("sample_default") is not None else o.get("default")
            item = {"type": o.get("type"), "default": _trim_default(default, secret, venv)}
            if o.get("deprecated_opts"):
                item["deprecated_opts"] = [[d.get("group") or gname, d["name"].replace("-", "_")]
                                           for d in o["deprecated_opts"] if d.get("name")]
            for k in ("deprecated_for_removal", "deprecated_since", "deprecated_reason", "secret"):
                if o.get(k):
                    item[k] = o[k]
            opts[o["dest"]] = item
        groups[gname] = opts
    runtime = json.loads(subprocess.run([str(venv / "bin" / "python"), "-c", RUNTIME_SCRIPT],
                                        check=True, capture_output=True, text=True).stdout)
    for gname, opts in runtime.items():
        for dest, item in opts.items():
            if dest not in groups.setdefault(gname, {}):
                item = {**item, "registered_at_runtime": True}
                if isinstance(item.get("default"), (list, dict)) or item.get("default") is None:
                    pass
                elif not isinstance(item["default"], (str, int, float, bool)):
                    item["default"] = str(item["default"])
                item["default"] = _trim_default(item.get("default"), bool(item.get("secret")), venv)
                item["deprecated_opts"] = [[g or gname, n] for g, n in item.get("deprecated_opts", [])]
                if not item["deprecated_opts"]:
                    del item["deprecated_opts"]
                groups[gname][dest] = item
    return f"octavia {version[0]}, oslo.config {version[1]}", groups, auth, namespaces


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--venvs", default="/tmp/octavia-option-venvs", type=Path,
                   help="where the per-release venvs live (created when missing)")
    p.add_argument("--only", nargs="*", help="series to regenerate (default: all)")
    p.add_argument("--requirements", type=Path,
                   help="a clone of openstack/requirements: the upper-constraints of the "
                        "releases in CONSTRAINED (without it they are skipped unless their "
                        "venv exists)")
    p.add_argument("--changes-only", action="store_true",
                   help="rewrite only the 'changes' of the existing files from "
                        "config_changes.yaml (no venv, no generator)")
    args = p.parse_args(argv)
    catalog = _load_yaml(DATA / "releases.yaml")["releases"]
    changes = changes_by_series(catalog)
    OUT.mkdir(parents=True, exist_ok=True)
    args.venvs.mkdir(parents=True, exist_ok=True)
    for rel in catalog:
        series = rel["series"]
        if (series not in changes and series not in INSTALLABLE and series not in CONSTRAINED
                and rel.get("octavia_major") is None):
            continue  # future series: nothing is known yet
        if args.only and series not in args.only:
            continue
        path = OUT / f"{series}.json"
        if args.changes_only:
            doc = json.loads(path.read_text(encoding="utf-8"))
            doc["changes"] = changes.get(series, [])
            _write(path, doc)
            continue
        generated = series in INSTALLABLE or series in CONSTRAINED
        constraints = None
        if series in CONSTRAINED:
            major, pins = CONSTRAINED[series], ()
            ref = rel.get("requirements_ref") or rel.get("git_ref")
            if not (args.venvs / major / "bin" / "oslo-config-generator").exists():
                if args.requirements is None:
                    print(f"{series}: skipped (no venv {args.venvs / major}; pass --requirements)",
                          flush=True)
                    continue
                constraints = upper_constraints(args.requirements, ref,
                                                args.venvs / f"{series}-constraints.txt")
        elif series in INSTALLABLE:
            major, pins = INSTALLABLE[series]
        doc: dict = {"format": 1, "series": series, "complete": generated}
        if generated:
            venv = ensure_venv(args.venvs, major, pins, constraints)
            source, groups, auth, namespaces = generate(venv)
            doc["source"] = (f"oslo-config-generator --format json over {len(namespaces)} "
                             f"namespaces in a venv with {source}"
                             + (f" (pins: {', '.join(pins)})" if pins else "")
                             + (f" (openstack/requirements {ref} upper-constraints"
                                + (f"; unpinned, does not build or import on Python 3.11: "
                                   f"{', '.join(_unpinned(venv))}" if _unpinned(venv) else "")
                                + ")" if series in CONSTRAINED else ""))
            doc["namespaces"] = namespaces
            doc["libraries"] = "upper-constraints" if series in CONSTRAINED else "current"
            doc["groups"] = groups
            doc["auth_plugin_options"] = auth
        else:
            doc["source"] = ("config_changes.yaml (release notes and octavia/common/config.py "
                             "diffs); no complete option list for this release")
            doc["groups"] = {}
        doc["changes"] = changes.get(series, [])
        _write(path, doc)
    return 0


def _write(path: Path, doc: dict) -> None:
    path.write_text(json.dumps(doc, indent=0, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    n = sum(len(g) for g in doc["groups"].values())
    print(f"{path.relative_to(ROOT)}: {n} options, {len(doc['changes'])} changes", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())

"""Deployment flavors: how a deployment style names services and performs actions.

A flavor file (``inventory/flavors/NAME.yaml``, schema ``flavor``) maps every
abstract service (:data:`~octavia_upgrade.model.SERVICES`) to a unit or
container name and every action in :data:`ACTIONS` to a command template.

Semantic rules after the schema's (which already reports ``missing-service``,
``unknown-service``, ``missing-action`` and ``unknown-action``):

================  =========================================================
rule              meaning
================  =========================================================
``jinja-syntax``  an action that Jinja cannot parse (or an unknown filter)
``name-mismatch`` ``name`` differs from the file name
================  =========================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from octavia_upgrade import model
from octavia_upgrade.errors import Diagnostic, InvalidInput
from octavia_upgrade.yamlpos import Document

#: Every action a flavor must define, with the extra variables it sees.
ACTIONS: dict[str, tuple[str, ...]] = {
    "service_stop": ("unit", "service"),
    "service_start": ("unit", "service"),
    "service_restart": ("unit", "service"),
    "service_is_active": ("unit", "service"),
    "packages_upgrade": ("target", "packages"),
    "octavia_version": (),
    "octavia_lib_version": (),
    "db_manage": ("args",),
    "octavia_status": ("code",),
    "db_backup": ("dest", "database"),
    "read_config": (),
}

#: Actions of the prepare phase (``packages`` steps with ``action: record``,
#: ``stage``, ``verify``, ``activate``, ``revert``), with their extra variables.
#: Optional in a flavor file: a runbook step that needs one its flavor lacks is
#: refused when the plan is built (every shipped flavor has them all).
#: ``recorded`` is the ``record`` step's output (one word per line it printed),
#: known only at run time: write it ``{{ recorded | shell_join }}``.
PREPARE_ACTIONS: dict[str, tuple[str, ...]] = {
    "packages_record": ("packages",),
    "packages_free_mb": ("target", "packages"),
    "packages_stage": ("target", "packages"),
    "packages_verify": ("target", "packages"),
    "packages_activate": ("target", "packages"),
    "packages_revert": ("target", "packages", "recorded"),
}

#: Actions a flavor may define, with their extra variables; a step that needs
#: one the flavor lacks is refused when the plan is built.
OPTIONAL_ACTIONS: dict[str, tuple[str, ...]] = {
    "db_restore": ("src", "database"),
}

#: Every action a flavor file may define.
ALL_ACTIONS: dict[str, tuple[str, ...]] = {**ACTIONS, **OPTIONAL_ACTIONS,
                                          **PREPARE_ACTIONS}

#: Names every action template may use, besides its own extras.
COMMON_NAMES = frozenset({"params", "release", "host", "vars", "deployment", "run", "outputs",
                          "secrets", "kolla"})

#: Names a preflight check may use, besides its kind's extras: no run-time values.
PREFLIGHT_NAMES = COMMON_NAMES - {"outputs", "run"}


def flavor_path(name_or_path: str | Path) -> Path:
    """A bare name such as ``deb`` → the shipped flavor file; anything else is a path."""
    text = str(name_or_path)
    if "/" in text or text.endswith((".yaml", ".yml")):
        return Path(text)
    from octavia_upgrade.resources import flavors_dir

    return flavors_dir() / f"{text}.yaml"


def check_flavor(name_or_path: str | Path) -> list[Diagnostic]:
    """Every diagnostic for a flavor (by name or path), sorted."""
    from octavia_upgrade.schemas import load_and_validate

    path = flavor_path(name_or_path)
    doc, diags = load_and_validate(str(path), "flavor")
    if doc is not None:
        diags += _semantics(doc)
    return sorted(set(diags))


def check_document(doc: Document) -> list[Diagnostic]:
    """Schema and semantic diagnostics for an already loaded flavor document."""
    from octavia_upgrade.schemas import validate

    return sorted(set(validate(doc, "flavor") + _semantics(doc)))


def load_flavor(name_or_path: str | Path) -> model.Flavor:
    """Load a flavor by name (``deb``) or path.

    Raises:
        InvalidInput: the flavor does not exist or is invalid (all diagnostics).
    """
    from octavia_upgrade import yamlpos

    path = flavor_path(name_or_path)
    if not path.is_file():
        raise InvalidInput(f"unknown flavor {str(name_or_path)!r}: {path} does not exist")
    doc = yamlpos.load(str(path))
    diags = check_document(doc)
    if any(d.severity == "error" for d in diags):
        raise InvalidInput(f"flavor {path} is invalid", diags)
    data = doc.data
    return model.Flavor(
        name=data["name"],
        path=str(path),
        description=str(data.get("description") or ""),
        services=dict(data["services"]),
        actions=dict(data["actions"]),
        vars=dict(data.get("vars") or {}),
        preflight={k: tuple(dict(e) for e in v)
                   for k, v in (data.get("preflight") or {}).items()},
    )


def render_action(flavor: model.Flavor, action: str, context: dict[str, Any]) -> str:
    """Render one of the flavor's actions into a shell command.

    Every ``{{ }}`` value is shell-quoted (see :mod:`octavia_upgrade.templating`).

    Args:
        flavor: the loaded flavor.
        action: one of :data:`ACTIONS`.
        context: the template variables. Always available to actions:
            ``vars`` (flavor vars < inventory vars < host vars), ``host``
            (``name``, ``address``, ``port``, ``user``, ``roles``, ``vars``),
            ``release`` (``{"from": ..., "to": ...}`` catalog entries),
            ``params``, ``deployment``, ``run``, ``outputs``. Action-specific:
            ``unit`` and ``service`` (``service_*``), ``target`` and
            ``packages`` (``packages_upgrade``), ``args`` (``db_manage``, a
            trusted fragment such as ``upgrade head``), ``dest`` and
            ``database`` (``db_backup``), ``src`` and ``database``
            (``db_restore``, optional), ``code`` (``octavia_status``:
            ``installed`` or ``staged``), and the prepare actions' in
            :data:`PREPARE_ACTIONS`. ``unit`` defaults to the flavor's
            mapping of ``service`` when only ``service`` is given.

    Raises:
        InvalidInput: the flavor has no such action.
    """
    from octavia_upgrade.templating import render_command

    try:
        template = flavor.actions[action]
    except KeyError:
        raise InvalidInput(f"flavor {flavor.name!r} ({flavor.path}) has no action {action!r}; "
                           f"actions: {', '.join(sorted(flavor.actions))}") from None
    ctx = {"vars": dict(flavor.vars), **context}
    if "service" in ctx and "unit" not in ctx and ctx["service"] in flavor.services:
        ctx["unit"] = flavor.services[ctx["service"]]
    return render_command(template, ctx)


def _semantics(doc: Document) -> list[Diagnostic]:
    from octavia_upgrade.loader import check_template

    out: list[Diagnostic] = []
    data = doc.data
    name = data.get("name")
    stem = Path(doc.path).name.removesuffix(".yaml").removesuffix(".yml")
    if isinstance(name, str) and name != stem:
        pos = doc.pos(("name",))
        out.append(Diagnostic(doc.path, pos.line, pos.col, "name-mismatch",
                              f"name {name!r} does not match the file name "
                              f"{Path(doc.path).name!r} (expected {stem!r})"))
    actions = data.get("actions")
    if isinstance(actions, dict):
        for action, template in actions.items():
            if not isinstance(template, str) or action not in ALL_ACTIONS:
                continue
            names = COMMON_NAMES | set(ALL_ACTIONS[action])
            _refs, diags = check_template(doc, ("actions", action), template, names=names)
            out.extend(diags)
    from octavia_upgrade.preflight import EXTRAS

    checks = data.get("preflight")
    if isinstance(checks, dict):
        for kind, entries in checks.items():
            if not isinstance(entries, list) or kind not in EXTRAS:
                continue
            names = PREFLIGHT_NAMES | set(EXTRAS[kind])
            for i, entry in enumerate(entries):
                for key in ("check", "description"):
                    if isinstance(entry, dict) and isinstance(entry.get(key), str):
                        _refs, diags = check_template(doc, ("preflight", kind, i, key),
                                                      entry[key], names=names)
                        out.extend(diags)
    return out

"""Sphinx extension: reference pages generated at build time, so they never drift.

On ``builder-inited`` it writes into ``<srcdir>/_generated/`` (not in git):

``runbook-reference.md`` (and ``inventory-reference.md``, ``rolemap-reference.md``)
    every field of the published JSON Schemas, with its type, default and
    description, read from ``schemas/*.schema.json`` (the files ``lint`` uses).
``cli.md``
    ``--help`` of the tool and of every subcommand, from the real parser.
``octavia-upgrade.conf.sample``
    the sample configuration, produced by ``oslo-config-generator`` from the
    ``octavia_upgrade.config:list_opts`` entry point.
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

SCHEMAS = {"runbook": "Runbook", "inventory": "Inventory", "rolemap": "Role map"}


def _type(node: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _type({**defs.get(name, {}), **{k: v for k, v in node.items() if k != "$ref"}},
                     defs)
    if "const" in node:
        return f"`{json.dumps(node['const'])}`"
    if "enum" in node:
        return " | ".join(f"`{v}`" for v in node["enum"])
    t = node.get("type")
    if isinstance(t, list):
        return " or ".join(t)
    if t == "array":
        items = node.get("items", {})
        return f"list of {_type(items, defs)}" if items else "list"
    if t:
        return str(t)
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " or ".join(_type(n, defs) for n in node[key])
    return "any"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _rows(node: dict[str, Any], defs: dict[str, Any], prefix: str,
          out: list[tuple[str, str, str, str]], depth: int = 0) -> None:
    if "$ref" in node and depth < 6:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = {**defs.get(name, {}), **{k: v for k, v in node.items() if k != "$ref"}}
    required = set(node.get("required", ()))
    for key, sub in (node.get("properties") or {}).items():
        path = f"{prefix}{key}"
        desc = sub.get("description") or defs.get(sub.get("$ref", "").rsplit("/", 1)[-1],
                                                     {}).get("description", "")
        out.append((path, _type(sub, defs), "yes" if key in required else "", desc))
        target = sub
        if "$ref" in sub:
            target = {**defs.get(sub["$ref"].rsplit("/", 1)[-1], {}), **sub}
        if target.get("type") == "array" and isinstance(target.get("items"), dict):
            _rows(target["items"], defs, f"{path}[].", out, depth + 1)
        elif isinstance(target.get("additionalProperties"), dict) and \
                target["additionalProperties"].get("properties"):
            _rows(target["additionalProperties"], defs, f"{path}.NAME.", out, depth + 1)
        elif target.get("properties"):
            _rows(target, defs, f"{path}.", out, depth + 1)


def schema_markdown(name: str, schema: dict[str, Any]) -> str:
    defs = schema.get("$defs", {})
    rows: list[tuple[str, str, str, str]] = []
    _rows(schema, defs, "", rows)
    lines = [f"# {SCHEMAS[name]} reference", "",
             f"Generated from `schemas/{name}.schema.json` ({schema.get('$id')}) when the "
             "documentation is built; `octavia-upgrade lint` validates against the same file.",
             "", _cell(schema.get("description", "")), "",
             "| field | type | required | description |", "|---|---|---|---|"]
    lines += [f"| `{p}` | {_cell(t)} | {r} | {_cell(d)} |" for p, t, r, d in rows]
    # Step kinds: the with: of each kind (runbook schema only).
    kinds = [(k, v) for k, v in defs.items() if k.startswith("with_")]
    if kinds:
        lines += ["", "## `with:` by step kind", ""]
        for key, sub in sorted(kinds):
            kind = key[len("with_"):]
            rows = []
            _rows(sub, defs, "", rows)
            lines += [f"### `{kind}`", "", _cell(sub.get("description", "")), "",
                      "| field | type | required | description |", "|---|---|---|---|"]
            lines += [f"| `{p}` | {_cell(t)} | {r} | {_cell(d)} |" for p, t, r, d in rows]
            lines.append("")
    return "\n".join(lines) + "\n"


def cli_markdown() -> str:
    from octavia_upgrade.cli import COMMANDS, build_parser

    parser = build_parser()
    os.environ.setdefault("COLUMNS", "100")
    lines = ["# Command-line reference", "",
             "Generated from the tool's own parser when the documentation is built "
             "(the same text as `octavia-upgrade [COMMAND] --help`).", "",
             "```text", parser.format_help().rstrip(), "```", ""]
    subs = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name in COMMANDS:
        sub = subs.choices[name]
        lines += [f"## {name}", "", "```text", sub.format_help().rstrip(), "```", ""]
        nested = [a for a in sub._actions if a.__class__.__name__ == "_SubParsersAction"]
        for action in nested[:1]:
            for child, p in action.choices.items():
                lines += [f"### {name} {child}", "", "```text", p.format_help().rstrip(),
                          "```", ""]
    return "\n".join(lines)


def config_sample() -> str:
    from oslo_config import generator

    buf = io.StringIO()
    conf = generator.cfg.ConfigOpts()
    generator.register_cli_opts(conf)
    conf(["--namespace", "octavia_upgrade"], project="octavia-upgrade")
    with redirect_stdout(buf):
        generator.generate(conf, output_file=buf)
    return buf.getvalue()


def _write(path: Path, text: str) -> None:
    # Rewrite only on change, so incremental builds stay incremental.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)


def generate(app: Any) -> None:
    from octavia_upgrade.schemas import load_schema

    out = Path(app.srcdir) / "_generated"
    out.mkdir(exist_ok=True)
    for name in SCHEMAS:
        _write(out / f"{name}-reference.md", schema_markdown(name, load_schema(name)))
    _write(out / "cli.md", cli_markdown())
    _write(out / "octavia-upgrade.conf.sample", config_sample())


def setup(app: Any) -> dict[str, Any]:
    app.connect("builder-inited", generate)
    return {"version": "1", "parallel_read_safe": True}

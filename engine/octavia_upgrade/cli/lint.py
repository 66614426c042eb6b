"""``octavia-upgrade lint PATH...``: check runbooks, inventories and flavors."""

from __future__ import annotations

import argparse

from octavia_upgrade.cli.output import add_format

HELP = "check runbooks, inventories and flavors (path:line:col: rule: message)"
DESCRIPTION = """\
Check files without touching any host: YAML syntax, the JSON Schema of the
file's `kind:` (Runbook, Inventory, Flavor, RoleMap) and semantic rules
(unique step ids, declared parameters, earlier outputs, Jinja syntax,
sequential from/to, ...). Ansible inventories (kolla-ansible `multinode`
INI, OpenStack-Ansible YAML) are read as `-i` reads them. A PATH that does
not exist but names a shipped runbook (dalmatian-to-epoxy) lints that one.
Directories are searched recursively for *.yaml and *.yml. Without PATH: the
shipped runbooks.

Prints one `path:line:col: rule: message` line per finding, sorted; warnings
are marked and do not fail. Exit 0 when there is no error, 2 otherwise.
See docs/runbook-format.md for every rule.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="files, directories or shipped runbook names (default: every "
                        "shipped runbook)")
    add_format(p, ("text", "json"), "text")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from octavia_upgrade.errors import EXIT_INVALID, EXIT_OK
    from octavia_upgrade.lint import format_text, lint_paths
    from octavia_upgrade.wording import plural

    from octavia_upgrade.resources import is_runbook_name, resolve_runbook, runbooks_dir

    paths = [str(resolve_runbook(p)) if is_runbook_name(p) and not Path(p).exists() else p
             for p in args.paths] or [str(runbooks_dir())]
    result = lint_paths(paths)
    if args.format == "json":
        import json

        print(json.dumps({
            "files": list(result.files),
            "errors": result.errors,
            "warnings": result.warnings,
            "diagnostics": [d.as_dict() for d in result.diagnostics],
        }, indent=2))
    else:
        lines = [format_text(d) for d in result.diagnostics]
        if lines:
            print("\n".join(lines))
        if not result.files and not result.errors:
            print("lint: no YAML files found", file=sys.stderr)
        elif not args.quiet:
            print(f"lint: {plural(len(result.files), 'file')}, {plural(result.errors, 'error')}, "
                  f"{plural(result.warnings, 'warning')}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_INVALID

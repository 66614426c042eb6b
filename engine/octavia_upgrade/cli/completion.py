"""``octavia-upgrade completion bash|zsh|fish``: the shell completion script.

Completion is dynamic (argcomplete): the shell calls ``octavia-upgrade`` with
``_ARGCOMPLETE`` set, and :func:`autocomplete` answers from the real parser,
so subcommands and options can never drift from the code. Runbook arguments
complete to the shipped runbooks' names and to ``*.yaml`` files and folders,
``--from``/``--to``/``--release`` to the catalog's release names,
``--flavor`` to the shipped flavors' names, ``-f`` to the command's formats,
``-c`` to the command's columns, ``-i`` to files, and run ids
(``show``, ``resume``, ``report``) to the runs recorded in the state
database. argcomplete is imported only when completing: ``--help`` and every
other command start without it.
"""

from __future__ import annotations

import argparse
from typing import Any

HELP = "print the shell completion script (bash, zsh or fish)"
DESCRIPTION = """\
Print a completion script for bash, zsh or fish that completes subcommands,
options, shipped runbook names and runbook files, release names (--from,
--to), flavor names (--flavor), output formats (-f) and columns (-c),
inventories and run ids (from the state database). Install it:

  bash:  octavia-upgrade completion bash > /etc/bash_completion.d/octavia-upgrade
         (or: eval "$(octavia-upgrade completion bash)" in ~/.bashrc)
  zsh:   octavia-upgrade completion zsh > "${fpath[1]}/_octavia-upgrade"
         (or: eval "$(octavia-upgrade completion zsh)" in ~/.zshrc, after compinit)
  fish:  octavia-upgrade completion fish > ~/.config/fish/completions/octavia-upgrade.fish
"""

SHELLS = ("bash", "zsh", "fish")

#: Subcommands whose ``run_id`` argument completes to recorded runs.
RUN_ID_COMMANDS = ("show", "resume", "report", "approvals", "approve", "reject", "pause",
                   "continue", "metrics")
#: Subcommands whose ``runbook`` argument completes to shipped runbook names and YAML files.
RUNBOOK_COMMANDS = ("plan", "run")
#: Options (by ``dest``) that take a release name.
RELEASE_DESTS = ("from_", "to", "release")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")


def run(args: argparse.Namespace) -> int:
    import argcomplete

    from octavia_upgrade.cli.output import emit

    emit(argcomplete.shellcode(["octavia-upgrade"], shell=args.shell).rstrip("\n"))
    return 0


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """Answer a completion request (``_ARGCOMPLETE`` is set) and exit; else return."""
    import argcomplete
    from argcomplete.completers import ChoicesCompleter, FilesCompleter

    yaml_files = FilesCompleter(allowednames=("yaml", "yml"), directories=True)

    def runbooks(prefix: str, **kwargs: Any) -> list[str]:
        return runbook_names(prefix) + list(yaml_files(prefix, **kwargs))

    for name, sub in _all_parsers(parser):
        for action in sub._actions:
            if action.dest == "run_id" and name in RUN_ID_COMMANDS:
                action.completer = run_ids  # type: ignore[attr-defined]
            elif (action.dest == "runbook" and name in RUNBOOK_COMMANDS) or \
                    (action.dest == "paths" and name == "lint"):
                action.completer = runbooks  # type: ignore[attr-defined]
            elif action.dest in RELEASE_DESTS:
                action.completer = release_names  # type: ignore[attr-defined]
            elif action.dest == "columns" and hasattr(action, "column_names"):
                action.completer = ChoicesCompleter(  # type: ignore[attr-defined]
                    action.column_names)
            elif action.dest == "flavor":
                action.completer = flavor_names  # type: ignore[attr-defined]
            elif action.dest in ("inventory", "role_map", "ssh_config", "config_file"):
                action.completer = FilesCompleter()  # type: ignore[attr-defined]
    argcomplete.autocomplete(parser)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _all_parsers(parser: argparse.ArgumentParser) -> list[tuple[str, argparse.ArgumentParser]]:
    """(command, parser) for every subcommand and nested action (``lab up``)."""
    out = []
    for name, sub in _subparsers(parser).items():
        out.append((name, sub))
        out.extend((name, nested) for nested in _subparsers(sub).values())
    return out


def runbook_names(prefix: str, **_: Any) -> list[str]:
    """The shipped runbooks' names (``dalmatian-to-epoxy``) that start with ``prefix``."""
    from octavia_upgrade.resources import shipped_runbooks

    try:
        return [p.stem for p in shipped_runbooks() if p.stem.startswith(prefix)]
    except OSError:
        return []


def release_names(prefix: str, **_: Any) -> list[str]:
    """The catalog's release names (``pike`` … newest), in release order."""
    try:
        from octavia_upgrade.catalog import load_catalog

        return [n for n in load_catalog().names() if n.startswith(prefix.lower())]
    except Exception:  # noqa: BLE001 - completion must never print a traceback into the shell
        return []


def flavor_names(prefix: str, **_: Any) -> list[str]:
    """The shipped deployment flavors' names (a flavor file path is typed, not completed)."""
    from octavia_upgrade.inventory import _shipped_flavors

    return [n for n in _shipped_flavors() if n.startswith(prefix)]


def run_ids(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """Run ids in the configured state database, newest first; none if it cannot be read."""
    try:
        from octavia_upgrade.config import load_config
        from octavia_upgrade.state import open_store
        from octavia_upgrade.state.db import exists

        settings = load_config(getattr(parsed_args, "config_file", None) or [])
        if not exists(settings.database_url, settings.state_dir):
            return []
        store = open_store(settings.database_url, settings.state_dir)
        try:
            runs = store.list_runs()
        finally:
            store.close()
    except Exception:  # noqa: BLE001 - completion must never print a traceback into the shell
        return []
    return [r.id for r in runs if r.id.startswith(prefix)]

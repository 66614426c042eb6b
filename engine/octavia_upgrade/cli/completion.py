"""``octavia-upgrade completion bash|zsh``: the shell completion script.

Completion is dynamic (argcomplete): the shell calls ``octavia-upgrade`` with
``_ARGCOMPLETE`` set, and :func:`autocomplete` answers from the real parser,
so subcommands and options can never drift from the code. Runbook arguments
complete to ``*.yaml`` files and folders, ``-i`` to files, and run ids
(``show``, ``resume``, ``report``) to the runs recorded in the state
database. argcomplete is imported only when completing: ``--help`` and every
other command start without it.
"""

from __future__ import annotations

import argparse
from typing import Any

HELP = "print the shell completion script (bash or zsh)"
DESCRIPTION = """\
Print a completion script for bash or zsh that completes subcommands, options,
runbook files, inventories and run ids (from the state database). Install it:

  bash:  octavia-upgrade completion bash > /etc/bash_completion.d/octavia-upgrade
         (or: eval "$(octavia-upgrade completion bash)" in ~/.bashrc)
  zsh:   octavia-upgrade completion zsh > "${fpath[1]}/_octavia-upgrade"
         (or: eval "$(octavia-upgrade completion zsh)" in ~/.zshrc, after compinit)
"""

#: Subcommands whose ``run_id`` argument completes to recorded runs.
RUN_ID_COMMANDS = ("show", "resume", "report")
#: Subcommands whose ``runbook`` argument completes to YAML files.
RUNBOOK_COMMANDS = ("plan", "run")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete in")


def run(args: argparse.Namespace) -> int:
    import argcomplete

    from octavia_upgrade.cli.output import emit

    emit(argcomplete.shellcode(["octavia-upgrade"], shell=args.shell).rstrip("\n"))
    return 0


def autocomplete(parser: argparse.ArgumentParser) -> None:
    """Answer a completion request (``_ARGCOMPLETE`` is set) and exit; else return."""
    import argcomplete
    from argcomplete.completers import FilesCompleter

    yaml_files = FilesCompleter(allowednames=("yaml", "yml"), directories=True)
    for name, sub in _subparsers(parser).items():
        for action in sub._actions:
            if action.dest == "run_id" and name in RUN_ID_COMMANDS:
                action.completer = run_ids  # type: ignore[attr-defined]
            elif action.dest == "runbook" and name in RUNBOOK_COMMANDS:
                action.completer = yaml_files  # type: ignore[attr-defined]
            elif action.dest in ("inventory", "role_map", "ssh_config", "config_file"):
                action.completer = FilesCompleter()  # type: ignore[attr-defined]
    argcomplete.autocomplete(parser)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def run_ids(prefix: str, parsed_args: argparse.Namespace, **_: Any) -> list[str]:
    """Run ids in the configured state database, newest first; none if it cannot be read."""
    try:
        from octavia_upgrade.config import load_config
        from octavia_upgrade.state import open_store

        settings = load_config(getattr(parsed_args, "config_file", None) or [])
        store = open_store(settings.database_url, settings.state_dir)
        try:
            runs = store.list_runs()
        finally:
            store.close()
    except Exception:  # noqa: BLE001 - completion must never print a traceback into the shell
        return []
    return [r.id for r in runs if r.id.startswith(prefix)]

"""How the command line words the errors the core raises with data.

The core speaks of parameters, host limits and approval in advance; the
command line names the options that give them (``--param``, ``--limit``,
``--yes``).
"""

from __future__ import annotations

from octavia_upgrade.errors import (ParamSyntaxError, SecretParamsMissing, UnknownHosts,
                                    UnknownOutcome, UpgradeError)


def describe(exc: UpgradeError) -> str:
    """The one-line (or, with diagnostics or a diff, several-line) message for ``exc``."""
    if isinstance(exc, ParamSyntaxError):
        return f"--param {exc.item!r}: expected NAME=VALUE"
    if isinstance(exc, UnknownHosts):
        return (f"--limit: no host or group named {', '.join(exc.names)} "
                f"(inventory {exc.inventory} has {', '.join(exc.known)})")
    if isinstance(exc, SecretParamsMissing):
        return ("secret parameter(s) are never stored; give them again: "
                + " ".join(f"--param {k}=..." for k in exc.names))
    if isinstance(exc, UnknownOutcome):
        return (f"step {exc.step_id} on {exc.host} has an unknown outcome and is not marked "
                "idempotent: check the host, then resume with --yes to run it again")
    return str(exc)

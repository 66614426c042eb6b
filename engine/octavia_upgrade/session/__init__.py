"""The I/O edge of ``plan``, ``run`` and ``resume``, around the pure core.

One concept per module:

- :mod:`~octavia_upgrade.session.preparation`: load, validate, limit hosts, build the plan
- :mod:`~octavia_upgrade.session.sink`: where a run's events go (store, JSON log, console)
- :mod:`~octavia_upgrade.session.prompts`: confirmations and stop signals
- :mod:`~octavia_upgrade.session.approvals`: approval steps wait on the state database
- :mod:`~octavia_upgrade.session.pausing`: pause before the next step, continue
- :mod:`~octavia_upgrade.session.windowcheck`: the change window at the outage gate
- :mod:`~octavia_upgrade.session.notify`: the run's events for webhooks and metrics
- :mod:`~octavia_upgrade.session.heartbeat`: the deployment lock's heartbeat
- :mod:`~octavia_upgrade.session.execution`: executing a run under the lock
- :mod:`~octavia_upgrade.session.resumption`: resuming a run, its runbook and plan checked

The programmatic entry points are in :mod:`octavia_upgrade.api`.
"""

from __future__ import annotations

from octavia_upgrade.errors import ApprovalDeclined, ApprovalUnavailable
from octavia_upgrade.session.approvals import ApprovalGate
from octavia_upgrade.session.execution import (RunResult, Services, execute_run,
                                               open_connections, open_run_store)
from octavia_upgrade.session.heartbeat import LockHeartbeat
from octavia_upgrade.session.preparation import (Prepared, limit_hosts, masked_params,
                                                 parse_param_args, prepare, replan,
                                                 secret_values)
from octavia_upgrade.session.prompts import SignalState, install_signals, terminal_confirm
from octavia_upgrade.session.resumption import (RERUNNABLE_KINDS, check_plan, check_runbook,
                                                previous_state, resume_run)
from octavia_upgrade.session.sink import RunSink

__all__ = [
    "RERUNNABLE_KINDS", "ApprovalDeclined", "ApprovalGate", "ApprovalUnavailable",
    "LockHeartbeat", "Prepared",
    "RunResult", "RunSink", "Services", "SignalState", "check_plan", "check_runbook",
    "execute_run", "install_signals", "limit_hosts", "masked_params",
    "open_connections", "open_run_store", "parse_param_args", "prepare", "previous_state",
    "replan", "resume_run", "secret_values", "terminal_confirm",
]

"""Planned commands: what one (step, host) will send, fixed when the plan is built."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

#: Stands for the run's id in planned commands: the id exists only once the
#: run is recorded, so the plan holds this token and the executor puts the id
#: in its place when it sends the command (the record keeps both texts).
RUN_ID_TOKEN = "{{ run.id }}"


@dataclass(frozen=True)
class PlannedCommand:
    """One thing a (step, host) will do, exactly as it will be sent.

    ``key`` names its role for the step kind (``stop:api``, ``verify:api``,
    ``dump``, ``upgrade``, ``http``...). ``text`` is the shell command sent
    byte for byte, or for a non-shell action (an HTTP poll, an approval, an
    assertion) the line that describes it. ``render`` says what happens at
    run time: ``""`` nothing but :data:`RUN_ID_TOKEN` replaced by the run id;
    ``"shell"``/``"text"``: ``text`` is a template over values known only
    then (earlier steps' outputs), rendered with shell quoting / as text.
    ``note`` explains to a reader how it is used (never sent).
    """

    key: str
    text: str
    render: str = ""
    note: str = ""
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def display(self) -> str:
        env = " ".join(f"{k}={v}" for k, v in self.env.items())
        line = f"{env} {self.text}" if env else self.text
        return f"{line}  # {self.note}" if self.note else line


@dataclass(frozen=True)
class Prerequisite:
    """Something a step needs on one host, checked before anything changes.

    ``check`` is the shell command sent byte for byte by the preflight
    (exit 0 = present); ``host`` is an inventory host, or ``local`` for the
    operator machine; ``description`` names the item for the operator
    (``container octavia_api exists``). ``when``: the step's condition when it
    depends on earlier steps' outputs (decided only during the run): such an
    item missing is a warning, not a refusal.
    """

    host: str
    description: str
    check: str
    when: str | None = None

"""Typed objects of runbook authoring: the loaded source and the merged runbook.

``SharedSource`` is the cold-upgrade procedure every hop follows
(``runbook-source/cold-upgrade.yaml``); ``HopSource`` is one hop's overlay
(``runbook-source/hops/<from>-to-<to>.yaml``). Merging both gives a
``Composed`` runbook: plain data plus the comments a reviewer reads, in the
order the procedure runs. Only the emitter knows how format v1 writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from octavia_upgrade.model import Pos

#: The parts of a runbook that hold steps, in file order.
PARTS = ("steps", "rollback", "finally")


class Folded(str):
    """A text the source wrote as a folded ``>-`` block, with the author's line breaks.

    It equals its text; ``lines`` joined by single spaces give it back. The
    emitter writes those lines again, so a reviewer sees the author's layout.
    """

    lines: tuple[str, ...]

    def __new__(cls, text: str, lines: tuple[str, ...]) -> Folded:
        obj = super().__new__(cls, text)
        obj.lines = tuple(lines)
        return obj

    def __reduce__(self) -> tuple[type, tuple[str, tuple[str, ...]]]:
        return (Folded, (str(self), self.lines))


@dataclass(frozen=True)
class SourceStep:
    """A step as written in a source: runbook fields plus authoring-only keys.

    ``fields`` are the runbook step fields (``when`` is a bare expression);
    ``comment`` is the text written above the step; ``only_if`` holds
    conditions on the hop (see :mod:`octavia_upgrade.authoring.conditions`).
    """

    id: str
    fields: Mapping[str, Any]
    pos: Pos
    comment: str = ""
    only_if: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    """A named group of steps: a stage of the guide (``stop``) or ``rollback``/``finally``.

    ``title`` is the rule line reviewers see (``stop (guide step 2)``); empty
    for ``rollback``/``finally`` whose comment stands above the key.
    ``defaults`` maps a step kind to the fields its steps get unless they set them.
    """

    name: str
    part: str
    steps: tuple[SourceStep, ...]
    pos: Pos
    title: str = ""
    comment: str = ""
    defaults: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Choice:
    """One alternative of a variable: its value when every condition holds."""

    value: Any
    only_if: tuple[str, ...] = ()


@dataclass(frozen=True)
class SharedSource:
    path: str
    header: str
    vars: Mapping[str, tuple[Choice, ...]]
    parameters: Mapping[str, tuple[Mapping[str, Any], tuple[str, ...], Pos]]
    max_failures: int | None
    defaults: Mapping[str, Mapping[str, Any]]
    sections: tuple[Section, ...]

    def section(self, name: str) -> Section | None:
        return next((s for s in self.sections if s.name == name), None)


@dataclass(frozen=True)
class Insert:
    """Steps a hop adds (or moves) at an anchor: ``before``/``after`` a step id or
    ``start``/``end`` of a section."""

    where: str
    anchor: str
    steps: tuple[SourceStep, ...]
    pos: Pos
    #: Shared steps moved to the anchor (e.g. an image step a hop needs earlier).
    move: tuple[str, ...] = ()


@dataclass(frozen=True)
class Override:
    """Fields a hop changes in a shared step (``None`` removes a field)."""

    step_id: str
    fields: Mapping[str, Any]
    pos: Pos
    comment: str | None = None


@dataclass(frozen=True)
class HopSource:
    path: str
    from_: str
    to: str
    revision: int
    description: str
    references: tuple[str, ...]
    migrations: tuple[str, ...]
    vars: Mapping[str, Any]
    parameters: Mapping[str, Any]
    inserts: tuple[Insert, ...]
    overrides: tuple[Override, ...]
    removals: tuple[tuple[str, Pos], ...]
    pos: Pos
    header: str = ""

    @property
    def name(self) -> str:
        return f"{self.from_}-to-{self.to}"


@dataclass(frozen=True)
class Step:
    """A merged step: final fields (``when`` still bare) and its comment."""

    id: str
    fields: Mapping[str, Any]
    comment: str = ""


@dataclass(frozen=True)
class Stage:
    """A merged section: its title, comment and steps in run order."""

    name: str
    part: str
    title: str
    comment: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Composed:
    """One hop's runbook, merged, format-neutral: what the emitter writes."""

    name: str
    header: str
    metadata: Mapping[str, Any]
    parameters: Mapping[str, Mapping[str, Any]]
    max_failures: int | None
    stages: tuple[Stage, ...]

    def part(self, part: str) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if s.part == part)

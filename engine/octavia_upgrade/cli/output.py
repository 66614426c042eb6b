"""Shared output helpers for subcommands: formats, rows and columns (``-f``/``-c`` as in
OpenStackClient, see "Rows" below), and writing to a file or stdout."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def add_format(parser: Any, choices: tuple[str, ...], default: str) -> None:
    parser.add_argument("-f", "--format", choices=choices, default=default,
                        help=f"output format (default: {default})")


def add_output(parser: Any) -> None:
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE instead of standard output")


def emit(text: str, output: str | None = None) -> None:
    """Write ``text`` to ``output`` (``-o FILE``) or standard output.

    Raises:
        InvalidInput: ``FILE`` cannot be written (a directory, a missing folder,
            no permission): exit 2, one line.
    """
    if output:
        from octavia_upgrade.errors import InvalidInput

        target = Path(output)
        if target.is_dir():
            raise InvalidInput(f"-o {output}: is a directory; give a file name")
        try:
            target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"-o {output}: cannot write: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


def dump(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2, sort_keys=False, default=str)
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(data, sort_keys=False, width=100)
    raise ValueError(fmt)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain aligned text table (no colours: safe to pipe and to paste)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --- Rows: the OpenStackClient output conventions --------------------------------------
#
# Operators script around ``openstack ... -f value -c id``; the listing commands follow
# the same conventions, which are those of cliff (the framework of python-openstackclient,
# ``cliff/formatters`` and ``cliff/display.py``), implemented here so that ``--help``
# keeps starting without cliff's imports (cmd2, stevedore, pyparsing):
#
# * ``-f table|json|yaml|value|csv`` on every command that prints rows;
# * ``-c COLUMN`` (repeatable) selects the columns and their order, for every format;
#   a column that does not exist is an input error (exit 2) naming the ones that do;
# * ``value``: the selected values separated by one space, one row per line, no header
#   (a missing value prints ``-``, as in the table; lists and mappings print as JSON);
# * ``csv``: a header line, then one line per row, written by :mod:`csv` with cliff's
#   default quoting (``nonnumeric``: every text field quoted) and CRLF line ends (RFC 4180);
# * ``json``/``yaml`` with ``-c``: a list of objects holding only the selected keys
#   (cliff's Lister), or one object for a command that shows one thing (cliff's ShowOne).
#
# Without ``-c``, ``table``, ``json`` and ``yaml`` print the command's own document, as
# before (a table with its footer lines; the JSON documents scripts already read).

ROW_FORMATS = ("table", "json", "yaml", "value", "csv")


@dataclass(frozen=True)
class Column:
    """One selectable column: its name, its typed value and how the table shows it."""

    name: str
    value: Callable[[Any], Any]
    #: The table's text of the cell; default: the value (``-`` when there is none).
    text: Callable[[Any], str] | None = None
    #: Printed when ``-c`` is not given.
    default: bool = True

    def cell(self, item: Any) -> str:
        return self.text(item) if self.text is not None else _text(self.value(item))


def add_row_format(parser: Any, columns: Sequence[Column],
                   formats: tuple[str, ...] = ROW_FORMATS, default: str = "table") -> None:
    """``-f FORMAT`` and ``-c COLUMN`` (repeatable), as OpenStackClient's commands take them."""
    add_format(parser, formats, default)
    names = [c.name for c in columns]
    action = parser.add_argument(
        "-c", "--column", dest="columns", action="append", default=[], metavar="COLUMN",
        help="print only this column (repeatable; in the order given): "
             + ", ".join(names))
    action.column_names = names  # read by shell completion


def select(columns: Sequence[Column], wanted: Sequence[str]) -> list[Column]:
    """The columns ``-c`` names, in its order (every default column without ``-c``).

    Raises:
        InvalidInput: a name that is not a column (exit 2), with the available ones.
    """
    if not wanted:
        return [c for c in columns if c.default]
    by_name = {c.name: c for c in columns}
    unknown = [w for w in wanted if w not in by_name]
    if unknown:
        from octavia_upgrade.errors import InvalidInput

        raise InvalidInput(f"-c {unknown[0]}: no such column; available columns: "
                           + ", ".join(by_name))
    return [by_name[w] for w in wanted]


def render_rows(items: Sequence[Any], columns: Sequence[Column], fmt: str,
                wanted: Sequence[str] = (), *, table_text: Callable[[], str] | None = None,
                document: Callable[[], Any] | None = None) -> str:
    """Rows (cliff's Lister) in ``fmt``; ``table_text``/``document``: the command's own
    table and JSON/YAML document, printed when no ``-c`` is given."""
    cols = select(columns, wanted)
    if fmt == "table":
        if table_text is not None and not wanted:
            return table_text()
        return table([c.name for c in cols], [[c.cell(i) for c in cols] for i in items])
    if fmt in ("json", "yaml"):
        if document is not None and not wanted:
            return dump(document(), fmt)
        return dump([{c.name: c.value(i) for c in cols} for i in items], fmt)
    if fmt == "value":
        return "".join(" ".join(_text(c.value(i)) for c in cols) + "\n" for i in items)
    if fmt == "csv":
        return _csv([c.name for c in cols], [[c.value(i) for c in cols] for i in items])
    raise ValueError(fmt)


def render_one(item: Any, columns: Sequence[Column], fmt: str, wanted: Sequence[str] = (),
               *, table_text: Callable[[], str] | None = None,
               document: Callable[[], Any] | None = None) -> str:
    """One thing's fields (cliff's ShowOne): ``value`` prints one value per line, ``csv`` a
    header and one row, ``table`` with ``-c`` a field/value table."""
    cols = select(columns, wanted)
    if fmt == "table":
        if table_text is not None and not wanted:
            return table_text()
        return table(["field", "value"], [[c.name, c.cell(item)] for c in cols])
    if fmt in ("json", "yaml"):
        if document is not None and not wanted:
            return dump(document(), fmt)
        return dump({c.name: c.value(item) for c in cols}, fmt)
    if fmt == "value":
        return "".join(_text(c.value(item)) + "\n" for c in cols)
    if fmt == "csv":
        return _csv([c.name for c in cols], [[c.value(item) for c in cols]])
    raise ValueError(fmt)


def emit_rows(text: str, output: str | None = None) -> None:
    """:func:`emit`, except that no rows print nothing (not an empty line)."""
    if text or output:
        emit(text, output)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v if isinstance(v, (int, float))
                         and not isinstance(v, bool) else _text(v) for v in row])
    return out.getvalue()

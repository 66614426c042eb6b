"""YAML loading that remembers where every value was written.

PyYAML builds plain Python data and forgets positions; it also accepts
duplicate mapping keys silently (the last one wins), which in a reviewed
runbook hides a mistake. This module composes the YAML node tree (with the C
parser when available), refuses what a runbook must not contain, and
converts the nodes itself so that every mapping key, mapping value and
sequence item keeps its 1-based line and column.

Refused, each with a positioned :class:`~octavia_upgrade.errors.InvalidInput`
carrying one :class:`~octavia_upgrade.errors.Diagnostic`:

========================  ==================================================
rule                      meaning
========================  ==================================================
``encoding``              bytes that are not UTF-8 (position of the first)
``yaml-syntax``           anything the YAML parser rejects (tabs, bad
                          indentation, unclosed brackets, control
                          characters, several documents in one file)
``yaml-empty``            no document at all (empty, or only comments)
``yaml-not-mapping``      the top level is a list or a scalar
``yaml-duplicate-key``    a key appears twice in the same mapping
``yaml-alias``            an alias (``*name``): refused outright, so no
                          "billion laughs" expansion is possible; a caller
                          that must read them (``ansible-inventory --yaml``
                          output) passes ``max_alias_nodes``, and more
                          copied nodes than that are refused
                          (``yaml-alias-limit``)
``yaml-merge-key``        ``<<:`` merge keys (they need aliases to be useful)
``yaml-key``              a key that is a list or mapping
``yaml-tag``              a tag other than str/int/float/bool/null
                          (``!!python/object``, ``!!binary``, ``!custom``)
``yaml-too-deep``         nesting deeper than :data:`MAX_DEPTH`
``nul-byte``              a NUL character in a key or value (``"a\\0b"``)
``io``                    the file cannot be read, is not a regular file
                          (a FIFO, a device), or is larger than
                          :data:`MAX_FILE_BYTES`
========================  ==================================================

Timestamps (``2024-01-01``) stay strings: JSON Schema has no date type and a
runbook never needs one.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from octavia_upgrade.errors import Diagnostic, InvalidInput
from octavia_upgrade.model import Pos

#: A location inside the loaded data: mapping keys and sequence indexes.
DataPath = tuple[Any, ...]

#: Deeper nesting than this is refused (no runbook needs it; it protects the
#: converter from pathological input).
MAX_DEPTH = 64

#: Largest input file read (runbooks, inventories, flavors, role maps; 1 MiB):
#: the largest shipped runbook is about 20 KiB.
MAX_FILE_BYTES = 1024 * 1024

_TAG = "tag:yaml.org,2002:"

#: Plain scalar text → resolved YAML tag (the resolver's regexes are slow).
_RESOLVED: dict[tuple[str, Any], str] = {}
_BOM = "\ufeff"


@dataclass(frozen=True)
class Document:
    """A loaded YAML file: its data, its bytes' sha256 and every position.

    Attributes:
        path: the file path as given (used in diagnostics).
        data: the top-level mapping as plain Python data.
        sha256: hex digest of the raw bytes.
        text: the decoded text.
    """

    path: str
    data: dict[str, Any]
    sha256: str
    text: str = field(repr=False, default="")
    _values: Mapping[DataPath, tuple[int, int]] = field(repr=False, default_factory=dict)
    _keys: Mapping[DataPath, tuple[int, int]] = field(repr=False, default_factory=dict)
    _blocks: frozenset[DataPath] = field(repr=False, default=frozenset())

    def pos(self, path: DataPath = ()) -> Pos:
        """Where the value at ``path`` starts (or its nearest known ancestor)."""
        p = tuple(path)
        while p not in self._values and p:
            p = p[:-1]
        line, col = self._values.get(p, (1, 1))
        return Pos(self.path, line, col)

    def key_pos(self, path: DataPath) -> Pos:
        """Where the key of the mapping entry at ``path`` is written.

        Falls back to :meth:`pos` for sequence items and unknown paths.
        """
        p = tuple(path)
        if p in self._keys:
            line, col = self._keys[p]
            return Pos(self.path, line, col)
        return self.pos(p)

    def has(self, path: DataPath) -> bool:
        return tuple(path) in self._values

    def is_block_scalar(self, path: DataPath) -> bool:
        """True for ``|`` and ``>`` scalars, whose text starts on the next line."""
        return tuple(path) in self._blocks

    def get(self, path: DataPath, default: Any = None) -> Any:
        """The value at ``path``, or ``default`` when any part is missing."""
        cur: Any = self.data
        for part in path:
            try:
                cur = cur[part]
            except (KeyError, IndexError, TypeError):
                return default
        return cur


def load(path: str | Path, *, max_alias_nodes: int = 0) -> Document:
    """Read and load ``path`` (``max_alias_nodes``: see :func:`loads`).

    Raises:
        InvalidInput: the file cannot be read or is not acceptable YAML.
    """
    return loads(read_input(path), str(path), max_alias_nodes=max_alias_nodes)


def read_input(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of an input file (runbook, inventory, flavor, role map).

    Only regular files of at most ``max_bytes`` (:data:`MAX_FILE_BYTES`
    unless the caller allows more: generated Ansible inventories) are read: a FIFO or
    a device would block or never end, and a huge file would take minutes and
    gigabytes to check. The file is opened without blocking and checked
    before anything is read.

    Raises:
        InvalidInput: rule ``io``, at position 0:0 (the whole file).
    """
    name = str(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise _fail(name, 0, 0, "io", "is a directory, not a file") from None
    except OSError as exc:
        raise _fail(name, 0, 0, "io", f"cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise _fail(name, 0, 0, "io", "is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise _fail(name, 0, 0, "io", f"is not a regular file ({_file_type(info.st_mode)}); "
                        "give the path of a YAML or INI file")
        if info.st_size > max_bytes:
            raise _fail(name, 0, 0, "io", f"is {info.st_size} bytes; this file may have at "
                        f"most {max_bytes} bytes ({max_bytes // 1048576} MiB)")
        with os.fdopen(fd, "rb", closefd=False) as f:
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise _fail(name, 0, 0, "io", f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if len(raw) > max_bytes:
        raise _fail(name, 0, 0, "io", f"is larger than {max_bytes} bytes "
                    f"({max_bytes // 1048576} MiB), the most this file may have")
    return raw


def _file_type(mode: int) -> str:
    for test, what in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def loads(raw: bytes | str, path: str = "<string>", *, max_alias_nodes: int = 0) -> Document:
    """Load YAML from bytes (must be UTF-8) or text; ``path`` names it in diagnostics.

    Aliases (``*name``) are refused unless ``max_alias_nodes`` is above 0:
    then each alias is a copy of its anchor's value, and the copies together
    may hold at most that many nodes (an alias bomb is refused, not expanded).
    """
    if isinstance(raw, str):
        text, raw_bytes = raw, raw.encode("utf-8", "surrogatepass")
    else:
        raw_bytes = raw
        text = _decode(raw_bytes, path)
    digest = hashlib.sha256(raw_bytes).hexdigest()
    # A UTF-8 byte-order mark is legal and harmless; drop it so that columns
    # on line 1 are counted as an editor shows them.
    body = text[1:] if text.startswith(_BOM) else text
    built = _build(body, path, max_alias_nodes)
    if built.documents == 0 or built.root_kind == "":
        raise _fail(path, 1, 1, "yaml-empty", "the file is empty (no YAML document)")
    data = built.root
    if not isinstance(data, dict):
        what = "a list" if isinstance(data, list) else f"a {type(data).__name__} scalar"
        if data is None:
            what = "null"
        line, col = built.values[()]
        raise _fail(path, line, col, "yaml-not-mapping",
                    f"the top level must be a mapping (key: value), not {what}")
    return Document(path, data, digest, text, built.values, built.keys, frozenset(built.blocks))


# -- internals ---------------------------------------------------------------


def _fail(path: str, line: int, col: int, rule: str, message: str) -> InvalidInput:
    return InvalidInput(message, [Diagnostic(path, line, col, rule, message)])


def _refuse_nul(path: str, text: str, line: int, col: int) -> None:
    if "\0" in text:
        raise _fail(path, line, col, "nul-byte",
                    "a NUL character (\\0) is not allowed in a value: no command or file "
                    "name can hold it")


def _decode(raw: bytes, path: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line_start = raw.rfind(b"\n", 0, start) + 1
        line = raw.count(b"\n", 0, start) + 1
        col = len(raw[line_start:start].decode("utf-8", "replace")) + 1
        hint = ""
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            hint = " (the file looks like UTF-16: save it as UTF-8)"
        msg = f"not valid UTF-8: byte 0x{raw[start]:02x} cannot be decoded{hint}"
        raise _fail(path, line, col, "encoding", msg) from None


def _mark(mark: Any) -> tuple[int, int]:
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _loader_class() -> Any:
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _build(text: str, path: str, max_alias_nodes: int = 0) -> _Builder:
    """Parse ``text`` event by event into a :class:`_Builder` (no recursion).

    Building from parser events rather than from PyYAML's composed node tree
    keeps the position of every alias use and never recurses, so deeply
    nested input cannot overflow the C stack of the YAML composer.
    """
    import yaml

    loader = _loader_class()(text)
    builder = _Builder(path, loader, max_alias_nodes)
    try:
        while True:
            event = loader.get_event()
            if event is None or builder.feed(event):
                break
    except yaml.MarkedYAMLError as exc:
        line, col = _mark(exc.problem_mark or exc.context_mark)
        raise _fail(path, line, col, "yaml-syntax", _yaml_message(exc)) from None
    except yaml.reader.ReaderError as exc:
        line, col = _offset_to_line_col(text, exc.position)
        what = f"#x{exc.character:04x}" if isinstance(exc.character, int) else repr(exc.character)
        raise _fail(path, line, col, "yaml-syntax",
                    f"unacceptable character {what}: {exc.reason}") from None
    except yaml.YAMLError as exc:
        raise _fail(path, 1, 1, "yaml-syntax", str(exc).splitlines()[0]) from None
    finally:
        loader.dispose()
    return builder


def _yaml_message(exc: Any) -> str:
    parts = [p for p in (exc.context, exc.problem) if p]
    msg = "; ".join(parts) or "invalid YAML"
    if "tab" in msg or "cannot start any token" in msg:
        msg += " (YAML does not allow tabs for indentation: use spaces)"
    return msg


def _offset_to_line_col(text: str, offset: int) -> tuple[int, int]:
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    col = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, col


class _Builder:
    """Turns parser events into plain data, recording positions."""

    def __init__(self, path: str, resolver: Any, max_alias_nodes: int = 0) -> None:
        self.path = path
        self.resolver = resolver
        self.max_alias_nodes = max_alias_nodes
        self.alias_nodes = 0
        self.anchors: dict[str, Any] = {}
        self.values: dict[DataPath, tuple[int, int]] = {}
        self.keys: dict[DataPath, tuple[int, int]] = {}
        self.blocks: list[DataPath] = []
        self.root: Any = None
        self.root_kind = ""
        self.documents = 0
        # Open collections: [container, path, pending key (mappings only)].
        self.stack: list[list[Any]] = []
        self._constructor: Any = None

    def feed(self, event: Any) -> bool:
        """Consume one event; True when the document is complete."""
        import yaml

        cls = type(event)
        if cls in (yaml.MappingEndEvent, yaml.SequenceEndEvent):
            self.stack.pop()
            return False
        alias = cls is yaml.AliasEvent and self.max_alias_nodes > 0
        if not alias and cls not in (yaml.ScalarEvent, yaml.MappingStartEvent,
                                     yaml.SequenceStartEvent):
            return self._other(event)
        mark = event.start_mark
        line, col = mark.line + 1, mark.column + 1
        # A node starts: is it a mapping key, a mapping value or a list item?
        path: DataPath = ()
        parent = self.stack[-1] if self.stack else None
        if parent is not None:
            container, ppath, pending = parent
            if type(container) is dict:
                if pending is None:
                    self._key(event, parent, line, col)
                    return False
                path = (*ppath, pending)
                parent[2] = None
            else:
                path = (*ppath, len(container))
        if len(self.stack) >= MAX_DEPTH:
            raise _fail(self.path, line, col, "yaml-too-deep",
                        f"nesting deeper than {MAX_DEPTH} levels")
        self.values[path] = (line, col)
        if alias:
            value: Any = self._alias(event, line, col)
        elif cls is yaml.ScalarEvent:
            value = self._scalar(event, path, line, col)
        else:
            expected = "map" if cls is yaml.MappingStartEvent else "seq"
            self._check_tag(event.tag, expected, line, col)
            value = {} if expected == "map" else []
            self.stack.append([value, path, None])
        if not alias and event.anchor is not None:
            self.anchors[event.anchor] = value
        if parent is None:
            self.root = value
            self.root_kind = cls.__name__
        elif type(parent[0]) is dict:
            parent[0][path[-1]] = value
        else:
            parent[0].append(value)
        return False

    def _other(self, event: Any) -> bool:
        import yaml

        if isinstance(event, yaml.AliasEvent):
            line, col = _mark(event.start_mark)
            raise _fail(self.path, line, col, "yaml-alias",
                        "YAML aliases (*name) are not allowed: write the value out")
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                line, col = _mark(event.start_mark)
                raise _fail(self.path, line, col, "yaml-syntax",
                            "expected a single document in the file, but found another one")
        return isinstance(event, yaml.StreamEndEvent)

    def _alias(self, event: Any, line: int, col: int) -> Any:
        """A copy of the anchored value, counted against :attr:`max_alias_nodes`."""
        if event.anchor not in self.anchors:
            raise _fail(self.path, line, col, "yaml-alias",
                        f"alias *{event.anchor} names no anchor (&{event.anchor}) before it")
        value = self.anchors[event.anchor]
        if any(frame[0] is value for frame in self.stack):
            raise _fail(self.path, line, col, "yaml-alias",
                        f"alias *{event.anchor} is inside its own anchor (a recursive value)")
        limit = self.max_alias_nodes

        def copy(v: Any, depth: int) -> Any:
            self.alias_nodes += 1
            if self.alias_nodes > limit:
                raise _fail(self.path, line, col, "yaml-alias-limit",
                            f"YAML aliases expand to more than {limit} values (an alias "
                            "bomb?): write the values out")
            if depth > MAX_DEPTH:
                raise _fail(self.path, line, col, "yaml-too-deep",
                            f"nesting deeper than {MAX_DEPTH} levels (through aliases)")
            if type(v) is dict:
                return {k: copy(x, depth + 1) for k, x in v.items()}
            if type(v) is list:
                return [copy(x, depth + 1) for x in v]
            return v

        return copy(value, len(self.stack))

    def _key(self, event: Any, frame: list[Any], line: int, col: int) -> None:
        import yaml

        if not isinstance(event, yaml.ScalarEvent):
            raise _fail(self.path, line, col, "yaml-key",
                        "a mapping key must be a plain string, not a list or mapping")
        plain = event.tag is None and not event.style
        if (plain and event.value == "<<") or event.tag == _TAG + "merge":
            raise _fail(self.path, line, col, "yaml-merge-key",
                        "YAML merge keys (<<) are not allowed: write the keys out")
        key = str(event.value)
        _refuse_nul(self.path, key, line, col)
        container, ppath, _ = frame
        if key in container:
            first = self.keys[(*ppath, key)]
            raise _fail(self.path, line, col, "yaml-duplicate-key",
                        f"duplicate key {key!r} (first defined at line {first[0]}, "
                        f"column {first[1]})")
        self.keys[(*ppath, key)] = (line, col)
        # Reserve the slot so the key order is kept even for nested values.
        container[key] = None
        frame[2] = key

    def _resolve(self, event: Any) -> str:
        import yaml

        if event.tag not in (None, "!"):
            return str(event.tag)
        if event.tag == "!":
            return _TAG + "str"
        # Plain scalars repeat a lot (true, 1, names): resolve each text once.
        key = (event.value, event.implicit)
        tag = _RESOLVED.get(key)
        if tag is None:
            tag = str(self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit))
            if len(_RESOLVED) > 8192:
                _RESOLVED.clear()
            _RESOLVED[key] = tag
        return tag

    def _check_tag(self, tag: str | None, expected: str, line: int, col: int) -> None:
        if tag not in (None, "!", _TAG + expected):
            raise _fail(self.path, line, col, "yaml-tag", f"YAML tag {tag!r} is not allowed here")

    def _scalar(self, event: Any, path: DataPath, line: int, col: int) -> Any:
        import yaml

        _refuse_nul(self.path, event.value, line, col)
        style = event.style
        if style in ("|", ">"):
            self.blocks.append(path)
        if event.tag is None and style and style != ":":
            # Quoted and block scalars without a tag are always strings.
            return event.value
        tag = self._resolve(event)
        if tag in (_TAG + "str", _TAG + "timestamp"):
            return str(event.value)
        if tag == _TAG + "null":
            return None
        if tag in (_TAG + "int", _TAG + "float", _TAG + "bool"):
            if self._constructor is None:
                from yaml.constructor import SafeConstructor

                self._constructor = SafeConstructor()
            kind = tag[len(_TAG):]
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark)
            try:
                return getattr(self._constructor, f"construct_yaml_{kind}")(node)
            except (ValueError, TypeError, OverflowError):
                raise _fail(self.path, line, col, "yaml-syntax",
                            f"{event.value!r} is not a valid {kind}") from None
        raise _fail(self.path, line, col, "yaml-tag",
                    f"YAML tag {tag!r} is not allowed (only strings, numbers, booleans, null, "
                    "lists and mappings)")

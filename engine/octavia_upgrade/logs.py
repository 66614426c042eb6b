"""Structured logs: one JSON-lines file per run, a readable console, secrets redacted.

Configured once at the CLI edge with :func:`configure`. Every event goes
through the same processor pipeline (structlog): context variables (``run_id``,
``step_id``, ``host``, ``attempt`` bound with :func:`bind`), level, UTC
timestamp, exception text, then the :class:`Redactor`, and only then to the
sinks: ``<state_dir>/logs/<run_id>.jsonl`` (flushed per line, fsynced at step
and run ends) and the console (rich; ``-v`` shows debug, ``-q`` only warnings
and errors).

The redactor is also what the run-state store and the reports apply to what
they keep (``redact``), so a secret registered once at run start is masked in
every artifact.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, quote_plus, unquote, urlsplit

MASK = "***"
#: Registered values shorter than this are not masked inside text: masking
#: "1" or "ab" everywhere would make every log unreadable, and such values
#: are no secret anyway. Keys that look secret are masked whatever their value.
MIN_SECRET_LENGTH = 4

#: Keys whose values are masked whole (``db_password``, ``heartbeat_key``,
#: ``transport_url``, an inventory's ``secrets`` mapping, …).
SECRET_KEY = re.compile(
    r"(?i)(^|[_.-])(password|passwd|passphrase|secrets?|token|api_key|private_key)$"
    r"|_key$|^key$|^transport_url$|^connection$|_connection$|^authorization$")

_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^:/@\s'\"]*):([^@/\s'\"]+)@")
_ASSIGNMENT = re.compile(
    r"(?i)(\b[\w.\-]*(?:password|passwd|secret|token|_key)[\"']?\s*[=:]\s*)"
    r"(\"[^\"]*\"|'[^']*'|[^\s,;&\"'}\]]+)")
_OPTION = re.compile(r"(--[\w\-]*password[ =])(\S+)")


class Redactor:
    """Masks known secret values and password-like patterns, recursively.

    Also a structlog processor: ``__call__(logger, method, event_dict)``.
    Thread-safe: values can be added while other threads log.
    """

    __slots__ = ("_exact", "_lock", "_pattern", "_values")

    def __init__(self, values: Iterable[Any] = ()) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        # Whole values equal to a secret are masked whatever their length.
        self._exact: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(*values)

    def add(self, *values: Any) -> None:
        """Register secret values (strings or numbers); their quoted forms too.

        A value registered with any redactor is also registered with the
        process-wide :data:`REDACTOR`: a secret anywhere is a secret everywhere.
        """
        glob = globals().get("REDACTOR")
        if glob is not None and glob is not self:
            glob.add(*values)
        with self._lock:
            for value in values:
                if value is None or isinstance(value, bool):
                    continue
                raw = str(value)
                if raw:
                    self._exact.add(raw)
                if len(raw) < MIN_SECRET_LENGTH:
                    continue
                # The forms a value takes when it passes through a URL, a
                # shell command line or a JSON document.
                forms = {raw, quote(raw, safe=""), quote_plus(raw), shlex.quote(raw),
                         json.dumps(raw)[1:-1], repr(raw)[1:-1]}
                self._values.update(f for f in forms if len(f) >= MIN_SECRET_LENGTH)
            alternatives = sorted(self._values, key=len, reverse=True)
            self._pattern = (re.compile("|".join(re.escape(v) for v in alternatives))
                             if alternatives else None)

    def add_url(self, url: str | None) -> None:
        """Register the password of a URL such as a database connection."""
        if not url:
            return
        try:
            password = urlsplit(url).password
        except ValueError:
            return
        if password:
            self.add(password, unquote(password))

    def add_mapping(self, mapping: Mapping[str, Any] | None) -> None:
        """Register every leaf value of a mapping (an inventory's ``secrets``)."""
        for leaf in _leaves(mapping or {}):
            self.add(leaf)

    def __len__(self) -> int:
        return len(self._values)

    def redact_text(self, text: str) -> str:
        if text in self._exact:
            return MASK
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = _URL_CREDENTIALS.sub(rf"\1:{MASK}@", text)
        text = _ASSIGNMENT.sub(lambda m: m.group(1) + _mask_like(m.group(2)), text)
        return _OPTION.sub(rf"\g<1>{MASK}", text)

    def redact(self, value: Any) -> Any:
        """A copy of ``value`` with secrets masked in every string, at any depth."""
        if isinstance(value, str):
            return self.redact_text(value)
        if isinstance(value, Mapping):
            return {k: (_mask_all(v) if isinstance(k, str) and SECRET_KEY.search(k)
                        else self.redact(v)) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.redact(v) for v in value]
        if isinstance(value, (bytes, bytearray)):
            return self.redact_text(bytes(value).decode("utf-8", errors="replace"))
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            return MASK if str(value) in self._exact else value
        return self.redact_text(str(value))

    def __call__(self, logger: Any, method_name: str,
                 event_dict: dict[str, Any]) -> dict[str, Any]:
        return self.redact(event_dict)


def _mask_like(value: str) -> str:
    if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) >= 2:
        return value[0] + MASK + value[0]
    return MASK


def _mask_all(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _mask_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_mask_all(v) for v in value]
    if value is None or value == "":
        return value
    return MASK


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


#: The process-wide redactor: register secrets at run start, use everywhere.
REDACTOR = Redactor()


def redact(value: Any) -> Any:
    """Mask every registered secret and password-like pattern in ``value``."""
    return REDACTOR.redact(value)


def register_secrets(*values: Any) -> None:
    REDACTOR.add(*values)


# -- sinks -----------------------------------------------------------------

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}
#: Events after which the JSON log is fsynced (a crash right after must not lose them).
SYNC_EVENTS = frozenset({"run.start", "run.end", "step.end", "run.interrupted", "run.resumed",
                         "run-started", "run-finished", "attempt-finished", "resumed",
                         "interrupted", "approved"})
#: JSON field order: the identifying fields first, the rest as logged.
_FIRST = ("timestamp", "level", "event", "run_id", "step_id", "host", "attempt", "phase",
          "status", "rc", "duration")
_CONSOLE_HIDDEN = {"timestamp", "level", "event"}
_STYLES = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red",
           "critical": "bold white on red"}


def run_log_path(state_dir: Path, run_id: str) -> Path:
    return Path(state_dir) / "logs" / f"{run_id}.jsonl"


class _Sink:
    """The logger structlog hands finished events to: JSON file + console."""

    def __init__(self, json_file: TextIO | None, console: Any, console_level: int,
                 verbose: bool) -> None:
        self.json_file = json_file
        self.console = console
        self.console_level = console_level
        self.verbose = verbose
        self._lock = threading.Lock()

    def _write(self, **event: Any) -> None:
        level = str(event.get("level", "info"))
        ordered = {k: event[k] for k in _FIRST if k in event}
        ordered.update((k, v) for k, v in event.items() if k not in ordered)
        with self._lock:
            if self.json_file is not None:
                self.json_file.write(json.dumps(ordered, default=str, ensure_ascii=False) + "\n")
                self.json_file.flush()
                if event.get("event") in SYNC_EVENTS or LEVELS.get(level, 20) >= 40:
                    os.fsync(self.json_file.fileno())
            if self.console is not None and LEVELS.get(level, 20) >= self.console_level:
                self.console.print(self._render(ordered, level), soft_wrap=True)

    def _render(self, event: dict[str, Any], level: str) -> Any:
        from rich.text import Text

        line = Text()
        stamp = str(event.get("timestamp", ""))[11:19]
        line.append(f"{stamp} ", style="dim")
        line.append(f"{level.upper():<7} ", style=_STYLES.get(level, ""))
        line.append(str(event.get("event", "")), style="bold" if level != "debug" else "dim")
        for key, value in event.items():
            if key in _CONSOLE_HIDDEN or (key == "run_id" and not self.verbose):
                continue
            if key == "exception":
                line.append("\n" + str(value), style="red")
                continue
            shown = f"{value:.2f}s" if key == "duration" and isinstance(value, float) else value
            line.append(f" {key}=", style="cyan")
            line.append(str(shown))
        return line

    debug = info = warning = warn = error = critical = exception = fatal = msg = _write

    def sync(self) -> None:
        with self._lock:
            if self.json_file is not None:
                self.json_file.flush()
                os.fsync(self.json_file.fileno())

    def close(self) -> None:
        with self._lock:
            if self.json_file is not None:
                self.json_file.flush()
                os.fsync(self.json_file.fileno())
                self.json_file.close()
                self.json_file = None


_SINK: _Sink | None = None


def _processors(redactor: Redactor | None) -> list[Any]:
    import structlog

    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
        structlog.processors.format_exc_info,
        # Last before the sinks, so nothing added later escapes it.
        redactor if redactor is not None else REDACTOR,
        lambda _logger, _name, event_dict: event_dict,
    ]


def _open_json(state_dir: Path, run_id: str) -> tuple[Path, TextIO]:
    path = run_log_path(state_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Appended to: a resumed run continues its own log.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return path, os.fdopen(fd, "a", encoding="utf-8")


def _console(color: str, console_file: TextIO | None) -> Any:
    from rich.console import Console

    return Console(file=console_file, stderr=console_file is None, highlight=False,
                   markup=False, emoji=False, no_color=color == "never",
                   force_terminal=True if color == "always" else None)


def _console_level(verbosity: int, quiet: bool) -> int:
    return LEVELS["warning"] if quiet else LEVELS["debug"] if verbosity > 0 else LEVELS["info"]


def configure(*, state_dir: Path | None = None, run_id: str | None = None, verbosity: int = 0,
              quiet: bool = False, color: str = "auto", redactor: Redactor | None = None,
              console: bool = True, console_file: TextIO | None = None) -> Path | None:
    """Set up process-wide logging (``get_logger``); returns the run's JSON log path.

    Args:
        state_dir: where ``logs/<run_id>.jsonl`` goes (needed with ``run_id``).
        run_id: the run being executed; bound to every event.
        verbosity: ``-v`` count; 1+ shows debug events on the console.
        quiet: only warnings and errors on the console.
        color: ``auto``, ``always`` or ``never`` (``[console] color``).
        redactor: defaults to the process-wide :data:`REDACTOR`.
        console_file: where console lines go (default: standard error).
    """
    import structlog

    global _SINK
    close()
    path = json_file = None
    if run_id is not None:
        if state_dir is None:
            raise ValueError("configure(run_id=...) needs state_dir")
        path, json_file = _open_json(state_dir, run_id)
    _SINK = sink = _Sink(json_file, _console(color, console_file) if console else None,
                         _console_level(verbosity, quiet), verbosity > 0)
    structlog.configure(processors=_processors(redactor), logger_factory=lambda *args: sink,
                        wrapper_class=structlog.BoundLogger, cache_logger_on_first_use=False)
    structlog.contextvars.clear_contextvars()
    if run_id is not None:
        structlog.contextvars.bind_contextvars(run_id=run_id)
    return path


class RunLog:
    """The JSON log of one run, independent of the process-wide configuration.

    ``log.info("attempt-finished", step_id=..., host=..., rc=0)`` writes one
    redacted JSON line to :attr:`path` (and, if asked, the console).
    """

    def __init__(self, path: Path, sink: _Sink, logger: Any) -> None:
        self.path = path
        self._sink = sink
        self._logger = logger

    def bind(self, **values: Any) -> RunLog:
        return RunLog(self.path, self._sink, self._logger.bind(**values))

    def debug(self, event: str, **kw: Any) -> None:
        self._logger.debug(event, **kw)

    def info(self, event: str, **kw: Any) -> None:
        self._logger.info(event, **kw)

    def warning(self, event: str, **kw: Any) -> None:
        self._logger.warning(event, **kw)

    def error(self, event: str, **kw: Any) -> None:
        self._logger.error(event, **kw)

    def exception(self, event: str, **kw: Any) -> None:
        self._logger.error(event, exc_info=True, **kw)

    def sync(self) -> None:
        self._sink.sync()

    def close(self) -> None:
        self._sink.close()


def run_logger(state_dir: Path, run_id: str, *, redactor: Redactor | None = None,
               console: bool = False, verbosity: int = 0, quiet: bool = False,
               color: str = "auto", console_file: TextIO | None = None) -> RunLog:
    """Open ``<state_dir>/logs/<run_id>.jsonl`` for appending; every event carries ``run_id``.

    The console is off by default (the CLI's progress display owns it).
    """
    import structlog

    path, json_file = _open_json(Path(state_dir), run_id)
    sink = _Sink(json_file, _console(color, console_file) if console else None,
                 _console_level(verbosity, quiet), verbosity > 0)
    logger = structlog.wrap_logger(sink, processors=_processors(redactor),
                                   wrapper_class=structlog.BoundLogger, run_id=run_id)
    return RunLog(path, sink, logger)


def get_logger(**initial: Any) -> Any:
    import structlog

    return structlog.get_logger(**initial)


@contextmanager
def bind(**values: Any) -> Iterator[None]:
    """Bind ``step_id``, ``host``, ``attempt``… to every event logged inside (this thread)."""
    import structlog

    with structlog.contextvars.bound_contextvars(**values):
        yield


def sync() -> None:
    """Force the JSON log to disk now."""
    if _SINK is not None:
        _SINK.sync()


def close() -> None:
    """Flush, fsync and close the run's JSON log (safe to call twice)."""
    global _SINK
    if _SINK is not None:
        _SINK.close()
        _SINK = None

"""The tool's own configuration: oslo.config options, like every OpenStack tool.

Options are registered on a private ``ConfigOpts`` (never the global ``CONF``)
and exposed through the ``oslo.config.opts`` entry point, so
``oslo-config-generator --namespace octavia_upgrade`` writes
``etc/octavia-upgrade.conf.sample``. :func:`load_config` turns files into a
frozen :class:`Settings`; a broken file is :class:`InvalidInput` naming
``path:line:col``.

Where state lives (``[DEFAULT] state_dir``), in order of precedence:
``OCTAVIA_UPGRADE_STATE_DIR``, the config file, then ``/var/lib/octavia-upgrade``
when run as root (the usual case on a deployment host, shared by every
operator using sudo) or ``$XDG_STATE_HOME/octavia-upgrade`` (default
``~/.local/state/octavia-upgrade``) for other users.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from oslo_config import cfg, iniparser

from octavia_upgrade.errors import Diagnostic, InvalidInput

PROJECT = "octavia-upgrade"
STATE_DIR_ENV = "OCTAVIA_UPGRADE_STATE_DIR"
#: Searched when no ``--config-file`` is given; later files override earlier ones,
#: so a user's own file wins over the machine-wide one.
DEFAULT_CONFIG_FILES = ("/etc/octavia-upgrade/octavia-upgrade.conf",
                        "~/.octavia-upgrade/octavia-upgrade.conf")

DEFAULT_OPTS = [
    cfg.StrOpt("state_dir",
               sample_default="/var/lib/octavia-upgrade (root), "
                              "~/.local/state/octavia-upgrade (other users)",
               help="Directory for the run-state database (state.db, unless "
                    "[database] connection says otherwise) and the JSON logs of each run "
                    "(logs/RUN_ID.jsonl). The environment variable "
                    "OCTAVIA_UPGRADE_STATE_DIR overrides it."),
]

DATABASE_OPTS = [
    cfg.StrOpt("connection", secret=True,
               sample_default="<a SQLite file, state.db in state_dir>",
               help="SQLAlchemy URL of the run-state database. Default: a SQLite file in "
                    "state_dir. For a database shared by several operator machines use "
                    "postgresql+psycopg://USER:PASSWORD@HOST/DB or "
                    "mysql+pymysql://USER:PASSWORD@HOST/DB (URL-encode special characters "
                    "in the password, and write a '$' as '$$'). The tool creates and "
                    "upgrades its tables itself."),
    cfg.IntOpt("lock_stale_after", default=10, min=1,
               help="Minutes after which a deployment lock held from another machine, "
                    "whose heartbeat stopped, is reported as stale (it is still only ever "
                    "broken explicitly, with `octavia-upgrade unlock`)."),
    cfg.IntOpt("output_tail_bytes", default=4096, min=256, max=1048576,
               help="Bytes of each command's stdout and stderr kept in the run-state "
                    "database per step, host and attempt (the end of the output)."),
    cfg.FloatOpt("wait_unreachable", default=120.0, min=0.0,
                 help="Seconds a run waits for a PostgreSQL or MariaDB run-state database "
                      "that stopped answering (restarted, failing over) before it stops; "
                      "meanwhile no further step starts, and the console says so. 0: "
                      "stop at once. Not used with SQLite."),
]

SSH_OPTS = [
    cfg.FloatOpt("connect_timeout", default=10.0, min=1.0,
                 help="Seconds to wait for an SSH connection to a node. An inventory's "
                      "ssh.connect_timeout overrides it."),
    cfg.StrOpt("known_hosts", sample_default="~/.ssh/known_hosts",
               help="known_hosts file used to verify node host keys. An inventory's "
                    "ssh.known_hosts overrides it."),
    cfg.BoolOpt("strict_host_key_checking", default=True,
                help="Refuse nodes whose host key is unknown or changed. Unknown keys are "
                     "never accepted automatically; disable only for throw-away labs."),
]

CONSOLE_OPTS = [
    cfg.StrOpt("color", default="auto", choices=[
        ("auto", "colour when writing to a terminal"),
        ("always", "always colour (e.g. under a pager that understands it)"),
        ("never", "plain text")],
        help="Colour on the console."),
]

REPORT_OPTS = [
    cfg.IntOpt("output_tail_bytes", default=2048, min=0, max=1048576,
               help="Bytes of each step's recorded output shown in execution reports."),
]

APPROVALS_OPTS = [
    cfg.StrOpt("identity",
               sample_default="<login>@<this host's name>",
               help="The name this operator's approvals, rejections, pauses and runs are "
                    "recorded under (in the state database, the reports and the events), "
                    "such as alice@example.org. Four-eyes approval steps compare it with "
                    "the identity of whoever started the run. Default: login@hostname."),
    cfg.FloatOpt("poll_interval", default=0.5, min=0.1, max=10.0,
                 help="Seconds between two looks of a waiting run (or a paused one) at "
                      "the state database for approvals, rejections and continue."),
]

CHANGE_WINDOW_OPTS = [
    cfg.MultiStrOpt("allowed", default=[],
                    help="An allowed change window: when it opens, in cron syntax, how long "
                         "it stays open and its time zone, 'MIN HOUR DAY MONTH WEEKDAY LENGTH "
                         "ZONE', such as '0 22 * * sat 6h Europe/Berlin' (Saturdays 22:00 to "
                         "04:00 Berlin time). Repeat the option for several windows. Outside "
                         "every window (these, the calendar's and the inventory's "
                         "change_windows) a run refuses to start and its outage gate refuses "
                         "to pass (exit 3, saying when the next window opens). No window "
                         "declared anywhere: any time."),
    cfg.StrOpt("calendar",
               help="An iCalendar (.ics) file whose events (DTSTART to DTEND, RRULE "
                    "repeats included) are allowed change windows."),
]

WEBHOOK_OPTS = [
    cfg.MultiStrOpt("url", default=[],
                    help="A receiver of the run's events (repeatable): each gets a JSON POST "
                         "for run started, waiting for approval, approved, rejected, outage "
                         "started, outage ended (with its length), step failed, run paused "
                         "and run finished. A slow, failing or unreachable receiver never "
                         "holds up or fails the upgrade; failed deliveries are shown and "
                         "recorded as webhook-failed events."),
    cfg.StrOpt("secret", secret=True,
               help="Shared secret: every request carries X-Octavia-Upgrade-Signature: "
                    "sha256=HEX, the HMAC-SHA256 of the raw body keyed by it. Never sent "
                    "itself, never logged."),
    cfg.StrOpt("format", default="json", choices=[
        ("json", "the event document"),
        ("slack", '{"text": "..."}, for a Slack-compatible incoming webhook')],
        help="What is posted."),
    cfg.FloatOpt("timeout", default=5.0, min=0.1, help="Seconds per request."),
    cfg.IntOpt("attempts", default=5, min=1, max=20,
               help="Tries per event and receiver (exponential backoff in between)."),
    cfg.FloatOpt("backoff", default=1.0, min=0.0,
                 help="Seconds before the second try; doubled before each later one."),
    cfg.FloatOpt("drain", default=10.0, min=0.0,
                 help="Seconds the end of a run waits for events still being delivered."),
]

METRICS_OPTS = [
    cfg.StrOpt("textfile", sample_default="<state_dir>/octavia_upgrade.prom",
               help="Prometheus metrics file kept current during a run (written to a "
                    "temporary file, then renamed): point it into node_exporter's "
                    "--collector.textfile.directory, e.g. "
                    "/var/lib/prometheus/node-exporter/octavia_upgrade.prom. "
                    "`octavia-upgrade metrics` prints the same text."),
    cfg.FloatOpt("interval", default=5.0, min=1.0,
                 help="Seconds between two rewrites of the metrics file while nothing "
                      "happens (every event rewrites it, at most once a second)."),
]

GROUPS: dict[str, list[cfg.Opt]] = {
    "DEFAULT": DEFAULT_OPTS, "database": DATABASE_OPTS, "ssh": SSH_OPTS,
    "console": CONSOLE_OPTS, "report": REPORT_OPTS, "approvals": APPROVALS_OPTS,
    "change_windows": CHANGE_WINDOW_OPTS, "webhooks": WEBHOOK_OPTS,
    "metrics": METRICS_OPTS,
}


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    """Every option, by group: the ``oslo.config.opts`` entry point."""
    return [(group, list(opts)) for group, opts in GROUPS.items()]


@dataclass(frozen=True)
class Settings:
    """Resolved configuration, as the rest of the tool sees it."""

    state_dir: Path
    database_connection: str | None = None
    lock_stale_after: timedelta = timedelta(minutes=10)
    state_output_tail_bytes: int = 4096
    #: ``[database] wait_unreachable``: seconds a run waits for its database server.
    database_wait_unreachable: float = 120.0
    ssh_connect_timeout: float = 10.0
    ssh_known_hosts: str | None = None
    ssh_strict_host_key_checking: bool = True
    console_color: str = "auto"
    report_output_tail_bytes: int = 2048
    #: ``[approvals] identity`` (None: login@hostname, see :mod:`octavia_upgrade.identity`).
    approvals_identity: str | None = None
    approvals_poll_interval: float = 0.5
    #: ``[change_windows] allowed`` lines and ``calendar`` (see :mod:`octavia_upgrade.windows`).
    change_windows_allowed: tuple[str, ...] = ()
    change_windows_calendar: str | None = None
    #: ``[webhooks]`` (see :mod:`octavia_upgrade.webhooks`).
    webhooks_urls: tuple[str, ...] = ()
    webhooks_secret: str | None = None
    webhooks_format: str = "json"
    webhooks_timeout: float = 5.0
    webhooks_attempts: int = 5
    webhooks_backoff: float = 1.0
    webhooks_drain: float = 10.0
    #: ``[metrics] textfile`` (None: ``state_dir/octavia_upgrade.prom``) and ``interval``.
    metrics_textfile: str | None = None
    metrics_interval: float = 5.0
    config_files: tuple[str, ...] = ()
    #: Options present in a file that this version does not know (typos?).
    warnings: tuple[Diagnostic, ...] = ()

    @property
    def database_url(self) -> str | None:
        """``[database] connection``, or None for the SQLite default in state_dir."""
        return self.database_connection

    @property
    def metrics_path(self) -> Path:
        """Where the metrics textfile is written."""
        if self.metrics_textfile:
            return Path(self.metrics_textfile).expanduser()
        return self.state_dir / "octavia_upgrade.prom"

    def secret_values(self) -> list[str]:
        """Values of secret options (to register with the log redactor)."""
        from urllib.parse import unquote, urlsplit

        found: list[str] = [self.webhooks_secret] if self.webhooks_secret else []
        for url in self.webhooks_urls:  # a receiver's URL may embed a token
            try:
                parts = urlsplit(url)
            except ValueError:
                continue
            found += [v for v in (parts.password, parts.query) if v]
        if self.database_connection:
            try:
                pw = urlsplit(self.database_connection).password
            except ValueError:
                pw = None
            if pw:
                found += [pw, unquote(pw)]
        return found


def default_state_dir(env: dict[str, str] | None = None, euid: int | None = None) -> Path:
    env = dict(os.environ if env is None else env)
    if (os.geteuid() if euid is None else euid) == 0:
        return Path("/var/lib/octavia-upgrade")
    base = env.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(base) / PROJECT


class _Scanner(iniparser.BaseParser):
    """Records where each option is set (oslo's parser keeps no positions)."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.section = "DEFAULT"
        self.positions: dict[tuple[str, str], tuple[int, int]] = {}
        self.lines: list[str] = []

    def new_section(self, section: str) -> None:
        self.section = section

    def assignment(self, key: str, value: list[str]) -> None:
        pass

    def _split_key_value(self, line: str) -> tuple[str, list[str]]:
        # Called on the key's own line; assignment() only fires once any
        # continuation lines have been read, when lineno has moved on.
        key, value = super()._split_key_value(line)
        self.positions[(self.section, key)] = (self.lineno, 1)
        return key, value

    def parse_file(self) -> None:
        with open(self.path, encoding="utf-8") as f:
            self.lines = f.read().splitlines()
        self.parse(iter(self.lines))


def _scan(path: str) -> _Scanner:
    scanner = _Scanner(path)
    try:
        scanner.parse_file()
    except iniparser.ParseError as e:
        raise InvalidInput(f"{path} is invalid", [
            Diagnostic(path, e.lineno, 1, "config-syntax", f"{e.msg}: {e.line!r}")]) from None
    except UnicodeDecodeError as e:
        raise InvalidInput(f"{path} is invalid", [
            Diagnostic(path, 0, 0, "config-syntax", f"not UTF-8 text ({e.reason})")]) from None
    except OSError as e:
        raise InvalidInput(f"cannot read config file {path}: {e.strerror or e}") from None
    return scanner


def load_config(config_files: list[str] | None = None,
                env: dict[str, str] | None = None) -> Settings:
    """Read the config files (or the default search path) into :class:`Settings`.

    Raises:
        InvalidInput: a file is missing, unreadable, not INI, or sets a bad value
            (``path:line:col`` of the offending line).
    """
    env = dict(os.environ if env is None else env)
    if config_files:
        files = [str(Path(f).expanduser()) for f in config_files]
        for f in files:
            if not os.path.isfile(f):
                raise InvalidInput(f"config file {f} not found")
    else:
        files = [str(Path(f).expanduser()) for f in DEFAULT_CONFIG_FILES]
        files = [f for f in files if os.path.isfile(f)]
    scans = [_scan(f) for f in files]

    conf = cfg.ConfigOpts()
    for group, opts in GROUPS.items():
        conf.register_opts(opts, group=None if group == "DEFAULT" else group)
    try:
        conf(args=[], project=PROJECT, default_config_files=files, default_config_dirs=[],
             use_env=False)
    except cfg.ConfigFilesPermissionDeniedError as e:
        raise InvalidInput(f"cannot read config file(s): {', '.join(e.config_files)}") from None
    except cfg.Error as e:  # parse errors are caught by _scan first; this is the safety net
        raise InvalidInput(f"configuration is invalid: {e}") from None

    def value(group: str, name: str) -> Any:
        try:
            return getattr(conf if group == "DEFAULT" else getattr(conf, group), name)
        except (cfg.ConfigFileValueError, ValueError) as e:
            raise InvalidInput("configuration is invalid",
                               [_locate(scans, group, name, str(e))]) from None

    warnings = tuple(
        Diagnostic(s.path, line, col, "config-unknown",
                   f"unknown option [{group}] {name} (ignored)", "warning")
        for s in scans for (group, name), (line, col) in s.positions.items()
        if not _known(group, name))
    state_dir = env.get(STATE_DIR_ENV) or value("DEFAULT", "state_dir")
    return Settings(
        state_dir=Path(state_dir).expanduser() if state_dir else default_state_dir(env),
        database_connection=value("database", "connection") or None,
        lock_stale_after=timedelta(minutes=value("database", "lock_stale_after")),
        state_output_tail_bytes=value("database", "output_tail_bytes"),
        database_wait_unreachable=value("database", "wait_unreachable"),
        ssh_connect_timeout=value("ssh", "connect_timeout"),
        ssh_known_hosts=value("ssh", "known_hosts"),
        ssh_strict_host_key_checking=value("ssh", "strict_host_key_checking"),
        console_color=value("console", "color"),
        report_output_tail_bytes=value("report", "output_tail_bytes"),
        approvals_identity=(value("approvals", "identity") or "").strip() or None,
        approvals_poll_interval=value("approvals", "poll_interval"),
        change_windows_allowed=tuple(value("change_windows", "allowed") or ()),
        change_windows_calendar=value("change_windows", "calendar") or None,
        webhooks_urls=tuple(value("webhooks", "url") or ()),
        webhooks_secret=value("webhooks", "secret") or None,
        webhooks_format=value("webhooks", "format"),
        webhooks_timeout=value("webhooks", "timeout"),
        webhooks_attempts=value("webhooks", "attempts"),
        webhooks_backoff=value("webhooks", "backoff"),
        webhooks_drain=value("webhooks", "drain"),
        metrics_textfile=value("metrics", "textfile") or None,
        metrics_interval=value("metrics", "interval"),
        config_files=tuple(files),
        warnings=warnings,
    )


def _known(group: str, name: str) -> bool:
    opts = GROUPS.get(group, [])
    return any(o.dest == name.replace("-", "_") for o in opts)


def _locate(scans: list[_Scanner], group: str, name: str, error: str) -> Diagnostic:
    # The last file that sets an option is the one whose value counts.
    for scan in reversed(scans):
        if (group, name) in scan.positions:
            line, col = scan.positions[(group, name)]
            return Diagnostic(scan.path, line, col, "config-value",
                              f"[{group}] {name}: {_short(error)}")
    path = scans[-1].path if scans else "<config>"
    return Diagnostic(path, 0, 0, "config-value", f"[{group}] {name}: {_short(error)}")


def _short(error: str) -> str:
    # oslo says "Value for option X from LocationInfo(...) is not valid: REASON".
    return error.split(" is not valid: ", 1)[-1] if " is not valid: " in error else error

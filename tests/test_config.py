"""config.py: defaults, files, errors with positions, the committed sample."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from octavia_upgrade.config import (
    DEFAULT_CONFIG_FILES,
    STATE_DIR_ENV,
    default_state_dir,
    list_opts,
    load_config,
)
from octavia_upgrade.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "octavia-upgrade.conf") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_defaults_without_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("octavia_upgrade.config.DEFAULT_CONFIG_FILES", ())
    s = load_config([], env={})
    assert s.database_connection is None
    assert s.ssh_strict_host_key_checking is True
    assert s.ssh_connect_timeout == 10.0
    assert s.ssh_known_hosts is None
    assert s.console_color == "auto"
    assert s.lock_stale_after == timedelta(minutes=10)
    assert s.state_output_tail_bytes == 4096
    assert s.report_output_tail_bytes == 2048
    assert s.state_dir == default_state_dir({})
    assert s.config_files == () and s.warnings == ()


def test_default_state_dir_depends_on_the_user(tmp_path: Path) -> None:
    assert default_state_dir({}, euid=0) == Path("/var/lib/octavia-upgrade")
    assert default_state_dir({"XDG_STATE_HOME": str(tmp_path)}, euid=1000) == \
        tmp_path / "octavia-upgrade"
    assert default_state_dir({}, euid=1000) == \
        Path("~/.local/state/octavia-upgrade").expanduser()


def test_file_values_and_env_override(tmp_path: Path) -> None:
    conf = write(tmp_path, """\
[DEFAULT]
state_dir = /srv/octavia-upgrade

[database]
connection = postgresql+psycopg://ou:pa%24%24word@db.example/ou
lock_stale_after = 3
output_tail_bytes = 1024

[ssh]
connect_timeout = 2.5
known_hosts = /etc/ssh/ssh_known_hosts
strict_host_key_checking = false

[console]
color = never

[report]
output_tail_bytes = 0
""")
    s = load_config([conf], env={})
    assert s.state_dir == Path("/srv/octavia-upgrade")
    assert s.database_connection == "postgresql+psycopg://ou:pa%24%24word@db.example/ou"
    assert s.lock_stale_after == timedelta(minutes=3)
    assert s.state_output_tail_bytes == 1024
    assert (s.ssh_connect_timeout, s.ssh_known_hosts, s.ssh_strict_host_key_checking) == (
        2.5, "/etc/ssh/ssh_known_hosts", False)
    assert s.console_color == "never" and s.report_output_tail_bytes == 0
    assert s.config_files == (conf,)
    assert set(s.secret_values()) == {"pa%24%24word", "pa$$word"}
    assert load_config([conf], env={STATE_DIR_ENV: str(tmp_path)}).state_dir == tmp_path


def test_later_files_override_earlier(tmp_path: Path) -> None:
    a = write(tmp_path, "[ssh]\nconnect_timeout = 5\nknown_hosts = /a\n", "a.conf")
    b = write(tmp_path, "[ssh]\nconnect_timeout = 7\n", "b.conf")
    s = load_config([a, b], env={})
    assert (s.ssh_connect_timeout, s.ssh_known_hosts) == (7.0, "/a")


def test_default_search_path_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = write(tmp_path, "[console]\ncolor = always\n[ssh]\nconnect_timeout = 4\n", "sys.conf")
    user = write(tmp_path, "[ssh]\nconnect_timeout = 6\n", "user.conf")
    missing = str(tmp_path / "missing.conf")
    monkeypatch.setattr("octavia_upgrade.config.DEFAULT_CONFIG_FILES", (system, missing, user))
    s = load_config(None, env={})
    assert s.config_files == (system, user)
    assert (s.console_color, s.ssh_connect_timeout) == ("always", 6.0)
    assert DEFAULT_CONFIG_FILES[-1] == "~/.octavia-upgrade/octavia-upgrade.conf"


@pytest.mark.parametrize(("text", "where", "message"), [
    ("[DEFAULT]\n\n[ssh\nconnect_timeout = 3\n", ":3:1: config-syntax:",
     "Invalid section (must end with ])"),
    ("[ssh]\nconnect_timeout\n", ":2:1: config-syntax:", "No ':' or '=' found"),
    ("[ssh]\n# timeout\nconnect_timeout = soon\n", ":3:1: config-value:",
     "[ssh] connect_timeout: could not convert string to float: 'soon'"),
    ("[console]\ncolor = purple\n", ":2:1: config-value:", "[console] color:"),
    ("[database]\nlock_stale_after = 0\n", ":2:1: config-value:",
     "[database] lock_stale_after:"),
])
def test_bad_file_names_path_line_col(tmp_path: Path, text: str, where: str,
                                      message: str) -> None:
    conf = write(tmp_path, text)
    with pytest.raises(InvalidInput) as err:
        load_config([conf], env={})
    assert str(err.value).startswith(conf + where)
    assert message in str(err.value)


def test_missing_file_and_unknown_options(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="config file .*nope.conf not found"):
        load_config([str(tmp_path / "nope.conf")], env={})
    conf = write(tmp_path, "[ssh]\nconect_timeout = 3\n[nosuch]\nx = 1\n")
    (typo, other) = load_config([conf], env={}).warnings
    assert str(typo) == f"{conf}:2:1: config-unknown: unknown option [ssh] conect_timeout (ignored)"
    assert other.line == 4 and other.severity == "warning"


def test_cli_reports_a_bad_file_without_traceback(tmp_path: Path) -> None:
    conf = write(tmp_path, "[ssh]\nconnect_timeout = x\n")
    done = subprocess.run([str(ROOT / ".venv/bin/octavia-upgrade"), "--config-file", conf,
                           "runs"], capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", STATE_DIR_ENV: str(tmp_path / "st")})
    assert done.returncode == 2
    assert done.stderr.startswith(f"{conf}:2:1: config-value: [ssh] connect_timeout")
    assert "Traceback" not in done.stderr


def test_list_opts_covers_every_group() -> None:
    groups = dict(list_opts())
    assert set(groups) == {"DEFAULT", "database", "ssh", "console", "report", "approvals", "change_windows", "webhooks", "metrics"}
    assert {o.name for o in groups["ssh"]} == {
        "connect_timeout", "known_hosts", "strict_host_key_checking"}
    assert next(o for o in groups["database"] if o.name == "connection").secret
    assert all(o.help for opts in groups.values() for o in opts)


def test_committed_sample_is_up_to_date(tmp_path: Path) -> None:
    out = tmp_path / "sample.conf"
    subprocess.run([str(ROOT / ".venv/bin/oslo-config-generator"), "--namespace",
                    "octavia_upgrade", "--output-file", str(out)], check=True)
    committed = (ROOT / "etc/octavia-upgrade.conf.sample").read_text()
    assert committed == out.read_text(), (
        "etc/octavia-upgrade.conf.sample is stale: regenerate it with "
        "oslo-config-generator --namespace octavia_upgrade "
        "--output-file etc/octavia-upgrade.conf.sample")

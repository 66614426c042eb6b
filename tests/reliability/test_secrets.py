"""Secrets never leave the tool: every artifact of a real run is searched for them.

One run over real SSH uses, on purpose, every way a secret reaches the tool:
a ``secret: true`` parameter echoed by commands (also in a failing step's
stderr and message), the inventory's ``secrets`` printed by a node, an
``octavia.conf`` full of passwords (database URL, transport_url, keystone
password, heartbeat key) read by a ``config_check`` and printed by a command,
a plain parameter holding a database URL with a password, inventory and
host variables whose names look secret (``db_password``, ``keystone_token``)
rendered into a command, and (PostgreSQL variant) the state database URL's
own password. Then every artifact is searched: console output (``-v``), the
state directory (JSON log, SQLite files), a dump of every row of the state
database, the plan in every format and the dry run, the execution report in
all three formats, ``show`` and ``runs``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from simlab import Sim

pytestmark = pytest.mark.lab


def _token(name: str) -> str:
    return f"{name}-{os.urandom(6).hex()}"


def _state_rows(url: str) -> str:
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return "\n".join(repr(tuple(row)) for table in inspect(conn).get_table_names()
                             for row in conn.execute(text(f'SELECT * FROM "{table}"')))
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_secret_in_any_artifact_of_a_run(sim: Sim, tmp_path: Path, backend: str,
                                            request: pytest.FixtureRequest) -> None:
    s = {k: _token(k) for k in ("Param", "Inv", "ConfDb", "ConfRabbit", "ConfKs", "ConfHb",
                                "UrlParam", "InvVar", "HostVar")}
    conf = sim.root / "node1" / "octavia.conf"
    conf.write_text(
        "[DEFAULT]\ndebug = False\n"
        f"transport_url = rabbit://openstack:{s['ConfRabbit']}@127.0.0.1:5672/\n"
        f"[database]\nconnection = mysql+pymysql://octavia:{s['ConfDb']}@127.0.0.1/octavia\n"
        f"[keystone_authtoken]\npassword = {s['ConfKs']}\n"
        f"[health_manager]\nheartbeat_key = {s['ConfHb']}\n")
    (sim.root / "node1" / "token").write_text(s["Inv"] + "\n")
    inv = yaml.safe_load(sim.inventory.read_text())
    inv["secrets"] = {"api_token": s["Inv"]}
    # variables whose names look secret are secrets, wherever they are rendered
    inv.setdefault("vars", {})["db_password"] = s["InvVar"]
    inv["hosts"]["node1"].setdefault("vars", {})["keystone_token"] = s["HostVar"]
    sim.inventory.write_text(yaml.safe_dump(inv, sort_keys=False))
    args: list[str] = []
    if backend == "postgresql":
        server = request.getfixturevalue("postgres_server")
        name = f"secrets_{os.getpid()}"
        url = server.create_database(name)
        request.addfinalizer(lambda: server.drop_database(name))
        state_pw = url.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        s["StateDb"] = state_pw
        cfg = tmp_path / "octavia-upgrade.conf"
        cfg.write_text(f"[database]\nconnection = {url.replace('$', '$$')}\n")
        args = ["--config-file", str(cfg)]
        rows_url = url
    else:
        rows_url = f"sqlite:///{sim.state_dir / 'state.db'}"
    def one() -> dict[str, Any]:
        return {"targets": {"hosts": ["node1"]}}

    rb = sim.runbook("secrets", [
        {"id": "use-param", "name": "Use the password", "kind": "command", **one(),
         "with": {"command": "echo connecting with {{ params.db_password }}; "
                             "echo url {{ params.backend_url }}"}},
        {"id": "use-vars", "name": "Use the secret variables", "kind": "command", **one(),
         "with": {"command": "echo db {{ vars.db_password }} "
                             "token {{ host.vars.keystone_token }}"}},
        {"id": "show-token", "name": "Print the token file", "kind": "command", **one(),
         "with": {"command": "cat {{ vars.root }}/node1/token"}},
        {"id": "config-check", "name": "Check octavia.conf", "kind": "config_check", **one(),
         "with": {"fail_on": "never"}},
        {"id": "dump-conf", "name": "Print octavia.conf", "kind": "command", **one(),
         "with": {"command": "cat {{ vars.root }}/node1/octavia.conf"}},
        {"id": "fail-loudly", "name": "Fail with the password", "kind": "command", **one(),
         "on_failure": "continue",
         "with": {"command": "echo auth {{ params.db_password }} refused >&2; exit 3"}},
    ], parameters={
        "db_password": {"type": "string", "secret": True},
        "backend_url": {"type": "string", "default": ""},
    })
    params = ["--param", f"db_password={s['Param']}",
              "--param", f"backend_url=mysql+pymysql://app:{s['UrlParam']}@db.example/app"]
    outputs: list[str] = []

    def cli(*a: str) -> Any:
        res = sim.cli(*args, *a)
        outputs.extend([res.stdout, res.stderr])
        return res

    for fmt in ("markdown", "html", "json", "yaml", "table"):
        res = cli("-v", "plan", str(rb), "-i", str(sim.inventory), "--no-detect", "-f", fmt,
                  *params)
        assert res.returncode == 0, res.stderr
    res = cli("run", str(rb), "-i", str(sim.inventory), "--no-detect", "--dry-run", *params)
    assert res.returncode == 0 and "echo db *** token ***" in res.stdout, res.stdout
    res = cli("-v", "run", str(rb), "-i", str(sim.inventory), "--no-detect", *params)
    assert res.returncode == 1, res.stdout + res.stderr  # fail-loudly failed, as intended
    assert "connecting with ***" in res.stdout  # the command really printed it
    run_id = [ln.split()[1].rstrip(":") for ln in res.stdout.splitlines()
              if ln.startswith("run ")][0]
    for fmt in ("markdown", "html", "json"):
        rep = cli("report", run_id, "-f", fmt)
        assert rep.returncode == 0, rep.stderr
        assert len(rep.stdout) > 500
    for a in (("show", run_id, "-f", "json"), ("show", run_id), ("runs", "-f", "json")):
        assert cli(*a).returncode == 0
    artifacts = {f"console/{i}": out for i, out in enumerate(outputs)}
    for path in sim.state_dir.rglob("*"):
        if path.is_file():
            artifacts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    artifacts["state rows"] = _state_rows(rows_url)
    if backend == "sqlite":
        # the database holds command output: readable by its owner only, as the logs are
        assert (sim.state_dir / "state.db").stat().st_mode & 0o777 == 0o600
        with sqlite3.connect(sim.state_dir / "state.db") as db:
            artifacts["sqlite dump"] = "\n".join(db.iterdump())
    # the run really went through the places secrets pass: otherwise this proves nothing
    assert "fail-loudly" in artifacts["state rows"] and "config-check" in artifacts["state rows"]
    assert any("heartbeat_key" in v for v in artifacts.values())
    leaks = [(name, where) for name, value in s.items() for where, text in artifacts.items()
             if value in text]
    assert not leaks, leaks

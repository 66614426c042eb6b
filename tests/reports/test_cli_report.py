"""``octavia-upgrade report RUN_ID``: from the configured state database only."""

from __future__ import annotations

import json
from pathlib import Path

from octavia_upgrade.cli import main
from octavia_upgrade.reports.json import validate
from reports import scenarios
from reports.conftest import replay


def _config(tmp_path: Path, state: Path) -> str:
    cfg = tmp_path / "octavia-upgrade.conf"
    cfg.write_text(f"[DEFAULT]\nstate_dir = {state}\n")
    return str(cfg)


def test_report_from_state_database(store, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    run_id = replay(store, scenarios.resumed(), store.now)
    state = Path(str(store.engine.url.database)).parent
    cfg = _config(tmp_path, state)
    out = tmp_path / "report.json"
    assert main(["--config-file", cfg, "report", run_id, "-f", "json", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert validate(doc) == [] and doc["run"]["id"] == run_id
    assert main(["--config-file", cfg, "report", run_id, "-f", "markdown"]) == 0
    text = capsys.readouterr().out
    assert "**resumed**" in text and scenarios.SECRET not in text


def test_unknown_run_is_invalid_input(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    cfg = _config(tmp_path, tmp_path / "state")
    assert main(["--config-file", cfg, "report", "20990101-000000-ffff"]) == 2
    assert "no run '20990101-000000-ffff'" in capsys.readouterr().err


def test_bad_format_is_invalid_input(capsys) -> None:  # type: ignore[no-untyped-def]
    assert_code = None
    try:
        main(["report", "x", "-f", "pdf"])
    except SystemExit as exc:
        assert_code = exc.code
    assert assert_code == 2

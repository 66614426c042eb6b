"""The documentation builds with Sphinx, warnings as errors (a broken reference fails CI).

Reference pages are generated during the build from the JSON Schemas, the CLI
parser and oslo-config-generator (docs/_ext/generated.py); this checks they are
there and say what the sources say.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

pytestmark = pytest.mark.slow


def build(builder: str, out: Path) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    return subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder,
         "-d", str(out / ".doctrees"), str(DOCS), str(out / builder)],
        capture_output=True, text=True, timeout=300, cwd=ROOT)


def test_html_builds_without_warnings_with_generated_references(tmp_path: Path) -> None:
    done = build("html", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    html = tmp_path / "html"
    for page in ("index", "getting-started", "operator-guide", "inventories", "configuration",
                 "_generated/runbook-reference", "_generated/cli"):
        assert (html / f"{page}.html").is_file(), page
    reference = (html / "_generated" / "runbook-reference.html").read_text()
    schema = json.loads((ROOT / "schemas" / "runbook.schema.json").read_text())
    # every step field and every step kind of the schema is documented
    for field in schema["$defs"]["step"]["properties"]:
        assert f"steps[].{field}" in reference, field
    for kind in (k[len("with_"):] for k in schema["$defs"] if k.startswith("with_")):
        assert f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{kind}" \
            in reference, kind
    config = (html / "configuration.html").read_text()
    assert "state_dir" in config and "[database]" in config
    assert "completion" in (html / "_generated" / "cli.html").read_text()


def test_generated_config_sample_matches_the_committed_one() -> None:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        import generated
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    committed = (ROOT / "etc" / "octavia-upgrade.conf.sample").read_text()
    assert generated.config_sample() == committed


def test_man_page_builds(tmp_path: Path) -> None:
    done = build("man", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    page = (tmp_path / "man" / "octavia-upgrade.1").read_text()
    assert ".TH \"OCTAVIA-UPGRADE\" \"1\"" in page
    # roff escapes dashes: the options of every subcommand are there
    assert "resume" in page and "\\-\\-inventory\\-format" in page

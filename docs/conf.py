"""Sphinx configuration: the documentation of octavia-upgrade (Markdown via MyST).

Build it as CI does (warnings are errors, so a broken reference fails)::

    sphinx-build -W --keep-going -b html docs docs/_build/html
    sphinx-build -W -b man docs docs/_build/man      # octavia-upgrade(1)

Reference pages (runbook/inventory/role-map fields, the command line, the
configuration sample) are generated at build time by ``_ext/generated.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "octavia-upgrade"
author = "octavia-upgrade contributors"
copyright = "octavia-upgrade contributors"  # noqa: A001 - Sphinx's name

extensions = [
    "myst_parser",
    "oslo_config.sphinxext",
    "generated",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "README.md"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]
html_theme = "alabaster"
html_static_path: list[str] = []
nitpicky = False
# MyST notes that a third-party domain (oslo.config's) cannot resolve "any" links;
# missing references are still errors (myst.xref_missing).
suppress_warnings = ["myst.domains"]

# A man page good enough to replace reading the code: the command-line reference
# (generated from the parser) plus the guides it links to.
man_pages = [("_generated/cli", "octavia-upgrade",
              "upgrade OpenStack Octavia one release at a time from YAML runbooks",
              [author], 1)]

"""Values are data, never code: hostile parameters and host vars on a real node.

Command templates shell-quote every ``{{ }}`` value. Each payload below goes
through the real CLI and real SSH into ``printf %s VALUE > FILE`` on a node;
the file must hold exactly the payload's bytes, and none of the commands the
payloads try to smuggle in may have run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from helpers import runs, shown
from simlab import Sim

pytestmark = pytest.mark.lab


def payloads(canary: Path) -> dict[str, str]:
    c = str(canary)
    return {
        "semicolon": f"x; touch {c}-semicolon",
        "and_or": f"x && touch {c}-and || touch {c}-or",
        "pipe_redirect": f"x | tee {c}-pipe > {c}-redirect",
        "subshell": f"$(touch {c}-subshell)",
        "backticks": f"`touch {c}-backticks`",
        "newline": f"line one\ntouch {c}-newline\nline three\n",
        "quotes": f"it's \"quoted\" '; touch {c}-quote; '",
        "variables": "$HOME ${PATH} $$ $0 $((6*7))",
        "globs": "* ? [a-z] ~ ~root",
        "jinja": "{{ 7 * 7 }} {% if true %}yes{% endif %} {# comment #}",
        "jinja_escape": "{{ ''.__class__.__mro__ }} {{ raw }} }} {{",
        "unicode": "Zürich → 東京 \u200b\t tab",
        "dash": "-n -e --help",
        "empty_looking": "''",
    }


def test_hostile_values_reach_the_node_as_literal_bytes(sim: Sim, tmp_path: Path) -> None:
    canary = tmp_path / "pwned"
    values = payloads(canary)
    out = sim.root / "out"
    out.mkdir()
    # host vars: every payload on node2, written there by one step per payload
    inv = yaml.safe_load(sim.inventory.read_text())
    inv["hosts"]["node2"]["vars"] = {f"hv_{k}": v for k, v in values.items()}
    sim.inventory.write_text(yaml.safe_dump(inv, sort_keys=False, allow_unicode=True))
    steps = []
    for name in values:
        steps.append({"id": f"param-{name}", "name": f"param {name}", "kind": "command",
                      "targets": {"hosts": ["node1"]},
                      "with": {"command": f"printf %s {{{{ params.p_{name} }}}} > "
                                          f"{out}/param-{name}"}})
        steps.append({"id": f"hostvar-{name}", "name": f"host var {name}", "kind": "command",
                      "targets": {"hosts": ["node2"]},
                      "with": {"command": f"printf %s {{{{ host.vars.hv_{name} }}}} > "
                                          f"{out}/hostvar-{name}"}})
    # half of the parameters come from the command line, half from runbook defaults
    names = list(values)
    on_cli = set(names[::2])
    params = {f"p_{k}": {"type": "string", **({} if k in on_cli else {"default": v})}
              for k, v in values.items()}
    rb = sim.runbook("inject", steps, parameters=params)
    args = [a for k in sorted(on_cli) for a in ("--param", f"p_{k}={values[k]}")]
    res = sim.cli("run", str(rb), "-i", str(sim.inventory), "--no-detect", *args)
    assert res.returncode == 0, res.stdout + res.stderr
    for name, value in values.items():
        for where in ("param", "hostvar"):
            got = (out / f"{where}-{name}").read_bytes()
            assert got == value.encode(), (where, name, got)
    smuggled = sorted(p.name for p in tmp_path.glob("pwned*"))
    assert smuggled == [], smuggled
    # and the record shows the step ran once on its host each, successfully
    (run,) = runs(sim)
    statuses = {r["status"] for r in shown(sim, run["id"])["results"]}
    assert statuses == {"succeeded"}

"""The template policy: the static check at load, and the sandbox as the second line.

The static check (``template_safety.findings``) refuses what the loader sees;
values known only at render time (a parameter holding a huge number, an
expression built to slip past the check) meet the same lists in the sandbox,
and whatever it refuses is an ``InvalidInput`` (exit 2), never an internal error.
"""

from __future__ import annotations

import pytest

from octavia_upgrade import template_safety, templating
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.netnames import is_address


def findings(text: str) -> list[str]:
    return [m for _line, m in template_safety.findings(templating.parse(text))]


@pytest.mark.parametrize("text", [
    "{{ params.backup_dir }}", "{{ outputs['db-revision'].revision == release.to.alembic_head }}",
    "{% for d in vars.config_dirs %}{{ d }}{% endfor %}", "{{ dest[:-3] }}",
    "{{ (release.to.version_id or release.to.series) ~ vars.suffix }}",
    "{{ params.x | default('') | lower }}", "{{ params.name.split('-')[0].upper() }}",
    "{% for i in range(3) %}{{ i }}{% endfor %}", "{{ x is defined and x is string }}",
])
def test_ordinary_templates_pass(text: str) -> None:
    assert findings(text) == []


def test_nested_loops_are_refused() -> None:
    assert findings("{% for i in range(9) %}{% for j in range(9) %}x{% endfor %}{% endfor %}") \
        == ["for loops may not be nested in templates"]


def test_first_finding_is_the_innermost_access() -> None:
    assert findings("{{ x.__class__.__base__ }}")[0] == \
        "access to the attribute '__class__' is not allowed"


@pytest.mark.parametrize("text, context", [
    ("{{ range(n) | list }}", {"n": 10**8}),                 # range size known at render only
    ("{{ 'a' * n }}", {"n": 10**9}),                          # a gigabyte of text
    ("{{ n ** (n ** n) }}", {"n": 9}),                        # a number too large to compute
    ("{{ f ** n }}", {"f": 10.0, "n": 10**6}),                # a float overflow
    ("{{ f % x }}", {"f": "%r", "x": {"a": 1}}),              # % formatting of objects
    ("{{ s.format(x) }}", {"s": "{0.__class__}", "x": 1}),   # format string tricks
    ("{{ x[k] }}", {"x": {}, "k": "__class__"}),              # an internal name as a key
    ("{{ s | replace('', s) }}", {"s": "a" * 2000}),          # replace as an amplifier
    ("{{ s.replace('a', s) }}", {"s": "a" * 2000}),
])
def test_the_sandbox_refuses_at_render_time_with_invalid_input(
        text: str, context: dict[str, object]) -> None:
    with pytest.raises(InvalidInput, match="refused by the sandbox"):
        templating.render_value(text, context)
    with pytest.raises(InvalidInput, match="refused by the sandbox"):
        templating.render_command(text, context)


def test_conditions_are_sandboxed_too() -> None:
    with pytest.raises(InvalidInput, match="refused by the sandbox"):
        templating.evaluate("x.upper.__self__.__class__", {"x": "a"})


def test_mappings_expose_keys_never_methods() -> None:
    ctx = {"params": {"items": "I", "get": "G"}, "vars": {}}
    assert templating.render_value("{{ params.items }} {{ params.get }}", ctx) == "I G"
    assert templating.render_value("{{ vars.keys is defined }}", ctx) == "False"
    assert "built-in" not in templating.render_command("{{ params.items }}", ctx)


@pytest.mark.parametrize("address, ok", [
    ("10.0.0.11", True), ("fd00::11", True), ("fe80::1%eth0", True), ("ctl1", True),
    ("ctl1.example.com.", True), ("localhost", True),
    ("127.0.0.1;touch x", False), ("$(id)", False), ("-oProxyCommand=x", False),
    ("10.0.0.999", False), ("a_b", False), ("", False), ("x" * 64, False),
    ("fe80::1%$(id)", False), ("ctl 1", False),
])
def test_addresses(address: str, ok: bool) -> None:
    assert is_address(address) is ok

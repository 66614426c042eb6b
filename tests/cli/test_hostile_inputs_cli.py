"""Hostile inputs through the real CLI: refused with one positioned line, exit 2, nothing run.

Each class of input that once got through (Jinja sandbox escapes, parameters
named like mapping methods, NUL characters, addresses no host can have,
secrets by name, files that are not files) goes through ``lint``, ``plan``
and ``run`` as processes. Every refusal must be exactly one
``path:line:col: rule: message`` line, exit code 2, no traceback, and
nothing may have been recorded (no state database) or executed (the
runbook's first step, a local ``touch``, left no file).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROLES = "[api, worker, health-manager, housekeeping, driver-agent, db-migrate]"

RUNBOOK = """\
apiVersion: octavia-upgrade/v2
kind: Runbook
metadata: {{name: queens-to-rocky, from: queens, to: rocky, revision: 1}}
parameters:
  marker: {{type: string, default: "{marker}"}}
{params}steps:
  - id: touch-marker
    kind: local
    with: {{command: "touch {{{{ params.marker }}}}"}}
{steps}"""

INVENTORY = """\
apiVersion: octavia-upgrade/v1
kind: Inventory
deployment: hostile
flavor: {flavor}
vars: {{config_file: /etc/octavia/octavia.conf}}
hosts:
  ctl1:
    address: {address}
    port: 1
    roles: {roles}
{extra}"""


@dataclass
class Case:
    dir: Path

    @property
    def marker(self) -> Path:
        return self.dir / "marker"

    @property
    def state(self) -> Path:
        return self.dir / "state"

    def runbook(self, steps: str = "", params: str = "") -> Path:
        path = self.dir / "queens-to-rocky.yaml"
        path.write_text(RUNBOOK.format(marker=self.marker, params=params, steps=steps),
                        encoding="utf-8")
        return path

    def inventory(self, address: str = "127.42.105.250", flavor: str = "deb",
                  extra: str = "", name: str = "inventory.yaml") -> Path:
        path = self.dir / name
        path.write_text(INVENTORY.format(address=address, flavor=flavor, roles=ROLES,
                                         extra=extra), encoding="utf-8")
        return path

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "engine"), "HOME": str(self.dir),
               "OCTAVIA_UPGRADE_STATE_DIR": str(self.state)}
        return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], cwd=self.dir,
                              env=env, capture_output=True, text=True, timeout=timeout)

    def commands(self, runbook: Path, inventory: Path,
                 lint: bool = True) -> dict[str, subprocess.CompletedProcess[str]]:
        """The outcome of lint (on both files), plan and run (not a dry run) on them."""
        common = ["-i", str(inventory), "--no-detect", "--no-ssh-config"]
        out = {"plan": self.cli("plan", str(runbook), *common),
               "run": self.cli("run", str(runbook), *common, "--yes")}
        if lint:
            out["lint"] = self.cli("lint", str(runbook), str(inventory))
        return out


@pytest.fixture
def case(tmp_path: Path) -> Case:
    return Case(tmp_path)


def where(path: Path, needle: str, line_of: str | None = None) -> tuple[int, int]:
    """1-based line and column of ``needle`` (on the line containing ``line_of``)."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if (line_of or needle) in line and needle in line:
            return number, line.index(needle) + 1
    raise AssertionError(f"{needle!r} not in {path}")


def refused(res: subprocess.CompletedProcess[str], path: Path, pos: tuple[int, int],
            rule: str, command: str = "plan") -> str:
    """Exit 2 and exactly one positioned line; returns that line's message."""
    assert res.returncode == 2, (command, res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stdout + res.stderr
    stream = res.stdout if command == "lint" else res.stderr
    lines = [ln for ln in stream.splitlines() if ln.startswith(f"{path}:")]
    assert len(lines) == 1, (command, stream)
    prefix = f"{path}:{pos[0]}:{pos[1]}: {rule}: "
    assert lines[0].startswith(prefix), (command, lines[0], prefix)
    if command != "lint":
        assert res.stdout == "" and res.stderr.strip() == lines[0]
    return lines[0][len(prefix):]


def nothing_happened(case: Case) -> None:
    assert not case.marker.exists(), "the runbook's first step ran"
    assert not case.state.exists() or not any(case.state.iterdir()), "something was recorded"


def all_refuse(case: Case, runbook: Path, inventory: Path, path: Path,
               pos: tuple[int, int], rule: str, lint: bool = True) -> str:
    results = case.commands(runbook, inventory, lint=lint)
    messages = {refused(res, path, pos, rule, command) for command, res in results.items()}
    nothing_happened(case)
    assert len(messages) == 1, messages
    return messages.pop()


# -- 1. Jinja sandbox escapes ------------------------------------------------------

ESCAPES = {
    "mro": "{{ ''.__class__.__mro__ }}",
    "cycler-globals": "{{ cycler.__init__.__globals__ }}",
    "self": "{{ self }}",
    "namespace": "{{ namespace(a=1) }}",
    "lipsum": "{{ lipsum(1) }}",
    "joiner": "{{ joiner(',') }}",
    "huge-range": "{% for i in range(100000000) %}x{% endfor %}",
    "format-method": "{{ '{0.__class__}'.format(params) }}",
    "percent-format": "{{ '%r' % params }}",
    "underscore-attribute": "{{ params._marker }}",
    "underscore-key": "{{ params['__class__'] }}",
    "method-call": "{{ params.update(marker='x') }}",
    "attr-filter": "{{ params | attr('__class__') }}",
    "sort-attribute": "{{ [1] | sort(attribute='__class__') }}",
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_sandbox_escape_in_a_command_is_refused(case: Case, name: str) -> None:
    template = ESCAPES[name].replace('"', '\\"')
    rb = case.runbook(steps=f'  - id: hostile\n    kind: command\n    with:\n'
                            f'      command: "echo {template}"\n')
    msg = all_refuse(case, rb, case.inventory(), rb, where(rb, '"echo'), "unsafe-template")
    assert "not allowed" in msg or "not available" in msg or "at most" in msg


@pytest.mark.parametrize("field", ["when", "that"])
def test_sandbox_escape_in_a_condition_is_refused(case: Case, field: str) -> None:
    expr = "params.marker.__class__.__base__.__subclasses__()"
    if field == "when":
        step = (f"  - id: hostile\n    kind: sleep\n    when: \"{expr}\"\n"
                "    with: {duration: 1s}\n")
    else:
        step = f"  - id: hostile\n    kind: assert\n    with:\n      that: \"{expr}\"\n"
    rb = case.runbook(steps=step)
    msg = all_refuse(case, rb, case.inventory(), rb, where(rb, f'"{expr}'), "unsafe-template")
    assert "'__class__'" in msg


def test_sandbox_escape_in_a_flavor_action_is_refused(case: Case) -> None:
    venv = (ROOT / "inventory" / "flavors" / "venv.yaml").read_text(encoding="utf-8")
    flavor = case.dir / "hostile.yaml"
    flavor.write_text(venv.replace("name: venv", "name: hostile").replace(
        "systemctl stop {{ unit }}", "systemctl stop {{ unit.__class__.__mro__ }}"),
        encoding="utf-8")
    assert "__mro__" in flavor.read_text(encoding="utf-8")
    rb = case.runbook(steps="  - id: stop\n    kind: service\n"
                            "    with: {action: stop, services: [api]}\n")
    inv = case.inventory(flavor=str(flavor))
    pos = where(flavor, "systemctl stop {{ unit.__class__")
    results = case.commands(rb, inv, lint=False)
    for command, res in results.items():
        refused(res, flavor, pos, "unsafe-template", command)
    refused(case.cli("lint", str(flavor)), flavor, pos, "unsafe-template", "lint")
    nothing_happened(case)


# -- 2. parameters named like mapping methods ---------------------------------------

@pytest.mark.parametrize("name", ["items", "keys", "values", "get", "update", "pop"])
def test_parameter_named_like_a_mapping_method_is_refused(case: Case, name: str) -> None:
    rb = case.runbook(params=f"  {name}: {{type: string, default: x}}\n",
                      steps=f'  - id: echo\n    kind: command\n    with:\n'
                            f'      command: "echo {{{{ params.{name} }}}}"\n')
    msg = all_refuse(case, rb, case.inventory(), rb, where(rb, f"{name}:", f"  {name}: "),
                     "param-name")
    assert "reserved" in msg


def test_lookups_never_resolve_to_python_attributes(case: Case) -> None:
    """Variables named items/get/values render their values, never a bound method."""
    rb = case.runbook(steps='  - id: echo\n    kind: command\n    with:\n'
                            '      command: "echo {{ vars.items }} {{ host.vars.get }} '
                            '{{ vars.values | default(\'none\') }}"\n')
    inv = case.inventory(extra="    vars: {get: GETVALUE}\n")
    inv.write_text(inv.read_text(encoding="utf-8").replace(
        "vars: {config_file", "vars: {items: ITEMSVALUE, config_file"), encoding="utf-8")
    res = case.cli("plan", str(rb), "-i", str(inv), "--no-detect", "--no-ssh-config",
                   "-f", "json")
    assert res.returncode == 0, res.stderr
    assert "echo ITEMSVALUE GETVALUE none" in res.stdout
    assert "built-in method" not in res.stdout


# -- 3. NUL characters -------------------------------------------------------------

def test_nul_in_a_parameter_default_is_refused(case: Case) -> None:
    rb = case.runbook(params='  name: {type: string, default: "a\\0b"}\n')
    all_refuse(case, rb, case.inventory(), rb, where(rb, '"a\\0b"'), "nul-byte")


def test_nul_in_an_inventory_value_is_refused(case: Case) -> None:
    rb = case.runbook()
    inv = case.inventory(extra='    vars: {dest: "/tmp/a\\0b"}\n')
    all_refuse(case, rb, inv, inv, where(inv, '"/tmp/a\\0b"'), "nul-byte")


def test_nul_in_an_ansible_ini_value_is_refused(case: Case) -> None:
    rb = case.runbook()
    inv = case.dir / "multinode"
    inv.write_text("[octavia-api]\nctl1 ansible_host=127.42.105.250 "
                   "octavia_upgrade_dest=\"'/tmp/a\\x00b'\"\n", encoding="utf-8")
    all_refuse(case, rb, inv, inv, (2, 1), "nul-byte", lint=False)


def test_nul_in_a_param_argument_is_refused() -> None:
    """argv cannot carry NUL; values given by other means (resume) go through the same check."""
    from octavia_upgrade import model
    from octavia_upgrade.errors import InvalidInput
    from octavia_upgrade.plan import resolve_params

    rb = model.Runbook(path="rb.yaml", sha256="", metadata=model.Metadata(
        name="queens-to-rocky", from_="queens", to="rocky", revision=1),
        parameters={"p": model.Parameter(name="p", type="string")}, steps=())
    with pytest.raises(InvalidInput, match="NUL"):
        resolve_params(rb, {"p": "a\0b"})


# -- 4. addresses no host can have ---------------------------------------------------

@pytest.mark.parametrize("address", ["'127.0.0.1;touch x'", "'$(touch x)'", "'-oProxyCommand=x'",
                                     "'10.0.0.999'", "'ctl 1'"])
def test_native_inventory_address_is_checked(case: Case, address: str) -> None:
    rb = case.runbook()
    inv = case.inventory(address=address)
    msg = all_refuse(case, rb, inv, inv, where(inv, address), "address")
    assert "RFC 1123" in msg


def test_ansible_host_is_checked(case: Case) -> None:
    rb = case.runbook()
    inv = case.dir / "multinode"
    inv.write_text("[octavia-api]\nctl1 ansible_host='127.0.0.1;touch x'\n", encoding="utf-8")
    msg = all_refuse(case, rb, inv, inv, (2, 1), "address", lint=False)
    assert "ansible_host '127.0.0.1;touch x'" in msg


def test_ansible_yaml_host_is_checked_by_lint_too(case: Case) -> None:
    rb = case.runbook()
    inv = case.dir / "hosts.yaml"
    inv.write_text("all:\n  children:\n    octavia-api:\n      hosts:\n"
                   "        ctl1: {ansible_host: '$(touch x)'}\n", encoding="utf-8")
    all_refuse(case, rb, inv, inv, (5, 9), "address")


@pytest.mark.parametrize("form", ["ini", "yaml"])
def test_ansible_host_range_is_capped(case: Case, form: str) -> None:
    rb = case.runbook()
    if form == "ini":
        inv = case.dir / "multinode"
        inv.write_text("[octavia-api]\nctl[0:99999999] ansible_host=127.42.105.250\n",
                       encoding="utf-8")
        pos = (2, 1)
    else:
        inv = case.dir / "hosts.yaml"
        inv.write_text("all:\n  children:\n    octavia-api:\n      hosts:\n"
                       "        ctl[0:99999999]: {}\n", encoding="utf-8")
        pos = (5, 9)
    msg = all_refuse(case, rb, inv, inv, pos, "host-range", lint=form == "yaml")
    assert "more than 10000 hosts" in msg


# -- 5. secrets by name ----------------------------------------------------------------

def test_parameter_named_like_a_secret_needs_secret_true(case: Case) -> None:
    rb = case.runbook(params="  admin_password: {type: string, default: hunter2-param}\n",
                      steps='  - id: echo\n    kind: command\n    with:\n'
                            '      command: "echo {{ params.admin_password }}"\n')
    msg = all_refuse(case, rb, case.inventory(), rb,
                     where(rb, "admin_password:", "  admin_password: "), "secret-param")
    assert "secret: true" in msg


def test_inventory_variable_named_like_a_secret_is_masked_everywhere(case: Case) -> None:
    secret = "hunter2-inventory-var"
    rb = case.runbook(steps='  - id: echo\n    kind: command\n    with:\n'
                            '      command: "mysql -p{{ vars.db_password }} '
                            '--token {{ host.vars.api_token }}"\n')
    inv = case.inventory(extra=f"    vars: {{api_token: {secret}-host}}\n")
    inv.write_text(inv.read_text(encoding="utf-8").replace(
        "vars: {config_file", f"vars: {{db_password: {secret}, config_file"), encoding="utf-8")
    common = [str(rb), "-i", str(inv), "--no-detect", "--no-ssh-config"]
    outputs = []
    for fmt in ("json", "markdown", "html", "yaml", "table"):
        res = case.cli("-v", "plan", *common, "-f", fmt)
        assert res.returncode == 0, res.stderr
        outputs.append(res.stdout + res.stderr)
    dry = case.cli("run", *common, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    outputs.append(dry.stdout + dry.stderr)
    assert "mysql -p***" in outputs[0] and "--token ***" in outputs[0]
    assert not [o for o in outputs if secret in o]
    assert not case.marker.exists()


def test_state_database_is_private(case: Case) -> None:
    # Read-only commands create no state: a run does (its one step is local).
    rb = case.runbook(steps="")
    res = case.cli("run", str(rb), "-i", str(case.inventory()), "--no-detect", "--yes")
    assert res.returncode == 0, res.stdout + res.stderr
    mode = stat.S_IMODE((case.state / "state.db").stat().st_mode)
    assert mode == 0o600, oct(mode)


# -- 6. files that are not files, and outputs that cannot be written -------------------

def test_fifo_is_refused_without_blocking(case: Case) -> None:
    fifo = case.dir / "runbook.yaml"
    os.mkfifo(fifo)
    # Should the tool open the FIFO for reading, this writer lets the test end anyway.
    stop = threading.Event()

    def unblock() -> None:
        while not stop.wait(0.2):
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            os.close(fd)

    threading.Thread(target=unblock, daemon=True).start()
    try:
        inv = case.inventory()
        results = {"lint": case.cli("lint", str(fifo), timeout=20),
                   "plan": case.cli("plan", str(fifo), "-i", str(inv), "--no-detect",
                                    timeout=20)}
        for command, res in results.items():
            assert "not a regular file (a FIFO)" in refused(res, fifo, (0, 0), "io", command)
        inv_fifo = case.dir / "inventory-fifo.yaml"
        os.mkfifo(inv_fifo)
        res = case.cli("plan", str(case.runbook()), "-i", str(inv_fifo), "--no-detect",
                       timeout=20)
        refused(res, inv_fifo, (0, 0), "io")
    finally:
        stop.set()
    nothing_happened(case)


def test_oversized_files_are_refused_before_parsing(case: Case) -> None:
    rb = case.runbook()
    big = rb.read_text(encoding="utf-8") + "# padding\n" * 110_000
    rb.write_text(big, encoding="utf-8")
    assert rb.stat().st_size > 1024 * 1024
    msg = all_refuse(case, rb, case.inventory(), rb, (0, 0), "io")
    assert "at most 1048576 bytes (1 MiB)" in msg


@pytest.mark.parametrize("target", ["dir", "missing/dir/plan.md"])
def test_output_that_cannot_be_written_is_invalid_input(case: Case, target: str) -> None:
    (case.dir / "dir").mkdir()
    res = case.cli("plan", "--from", "queens", "--to", "rocky", "-o", str(case.dir / target))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    [line] = res.stderr.splitlines()
    assert line.startswith(f"octavia-upgrade: -o {case.dir / target}: ")


def test_value_undefined_for_a_host_is_positioned_at_the_step(case: Case) -> None:
    rb = case.runbook(steps='  - id: uses-var\n    kind: command\n    with:\n'
                            '      command: "echo {{ vars.not_in_this_inventory }}"\n')
    results = case.commands(rb, case.inventory(), lint=False)
    for command, res in results.items():
        msg = refused(res, rb, where(rb, "id: uses-var"), "template", command)
        assert msg.startswith("step 'uses-var' on ctl1: undefined value in template")
    nothing_happened(case)

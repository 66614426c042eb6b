"""Inventories shaped like the upstream files (tests/fixtures/inventories/README.md) load
with the right format, flavor, roles and host access; the Ansible variables and
settings that say how a host is reached are honoured or reported."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from octavia_upgrade import ansible_config, ansible_inventory, yamlpos
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.hostaccess import describe, host_entry
from octavia_upgrade.inventory_source import InventorySource, detect_format, open_inventory
from octavia_upgrade.model import Inventory

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "inventories"
OSA_SERVICES = ("api", "worker", "health-manager", "housekeeping")
#: kolla-ansible runs octavia_driver_agent only with OVN (or when enabled): the fixtures
#: describe a default Open vSwitch cloud.
KOLLA_SERVICES = OSA_SERVICES


@pytest.fixture(autouse=True)
def no_operator_ansible_cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ansible.cfg of the machine running the tests is read."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    for var in ("ANSIBLE_CONFIG", "ANSIBLE_REMOTE_USER", "ANSIBLE_PRIVATE_KEY_FILE",
                "ANSIBLE_REMOTE_PORT", "ANSIBLE_SSH_ARGS", "ANSIBLE_SSH_COMMON_ARGS",
                "ANSIBLE_SSH_EXTRA_ARGS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(ansible_config, "SYSTEM_FILE", str(tmp_path / "no-system.cfg"))


def load(path: Path | str, **kw: Any) -> Inventory:
    return open_inventory(InventorySource(str(path), use_ssh_config=False, **kw))


def roles(inv: Inventory) -> list[tuple[str, tuple[str, ...]]]:
    return [(h.name, h.roles) for h in inv.hosts]


def test_every_fixture_address_is_on_loopback() -> None:
    import ipaddress
    import re

    for path in FIXTURES.iterdir():
        for text in re.findall(r"\b\d+\.\d+\.\d+\.\d+\b", path.read_text()):
            if text.startswith("255."):
                continue  # a netmask
            assert ipaddress.ip_address(text) in ipaddress.ip_network("127.0.0.0/8"), \
                f"{path.name}: {text}"


@pytest.mark.parametrize("name", ["kolla-multinode", "ansible-inventory-list.json",
                                  "ansible-inventory-list.yaml"])
def test_kolla_multinode_in_each_shape_plans_the_three_controllers(name: str) -> None:
    inv = load(FIXTURES / name)
    assert detect_format(str(FIXTURES / name)) == "kolla"
    assert inv.flavor == "kolla"
    assert roles(inv) == [("control01", (*KOLLA_SERVICES, "db-migrate")),
                          ("control02", KOLLA_SERVICES), ("control03", KOLLA_SERVICES)]
    # the deployment host (localhost, ansible_connection=local) runs no Octavia service
    assert [(h.address, h.user, h.connection) for h in inv.hosts] == [
        ("127.0.17.11", "kolla", "ssh"), ("127.0.17.12", "kolla", "ssh"),
        ("127.0.17.13", "kolla", "ssh")]
    assert all(h.become is not None and h.become.user == "root" for h in inv.hosts)
    assert inv.groups["octavia-api"] == ("control01", "control02", "control03")
    assert inv.warnings == ()


def test_list_yaml_output_is_read_through_its_aliases() -> None:
    text = (FIXTURES / "ansible-inventory-list.yaml").read_text()
    assert "*id001" in text  # really the aliased shape
    with pytest.raises(InvalidInput):  # the runbook loader still refuses aliases
        yamlpos.loads(text)
    inv = load(FIXTURES / "ansible-inventory-list.yaml")
    assert inv.hosts[0].pos is not None and inv.hosts[0].pos.line > 1


def test_list_json_is_recognised_by_content_not_by_name(tmp_path: Path) -> None:
    copy = tmp_path / "inventory"  # no extension at all
    copy.write_text((FIXTURES / "ansible-inventory-list.json").read_text())
    assert [h.name for h in load(copy).hosts] == ["control01", "control02", "control03"]


def test_kolla_all_in_one_runs_on_the_operator_machine() -> None:
    inv = load(FIXTURES / "kolla-all-in-one")
    assert (inv.flavor, roles(inv)) == (
        "kolla", [("localhost", (*KOLLA_SERVICES, "db-migrate"))])
    host = inv.hosts[0]
    assert host.connection == "local"
    entry = host_entry(host)
    assert entry["connection"] == "local"
    assert describe(entry).startswith("local (the operator machine")
    assert "no SSH: commands run on the operator machine" in describe(entry)


def test_osa_inventory_json_reaches_containers_through_their_physical_host() -> None:
    path = FIXTURES / "osa-openstack_inventory.json"
    inv = load(path)
    assert detect_format(str(path)) == "osa"
    assert inv.flavor == "osa"
    assert roles(inv) == [
        ("infra1-octavia-server-container-3f1a2b4c", (*OSA_SERVICES, "db-migrate")),
        ("infra2-octavia-server-container-7d8e9f01", OSA_SERVICES),
        ("infra3", OSA_SERVICES)]
    c1, c2, metal = inv.hosts
    # SSH to the physical host (physical_host_addr), then lxc-attach into the container
    assert (c1.address, c1.user) == ("127.0.18.11", "root")
    assert c1.container is not None
    assert (c1.container.name, c1.container.physical_host) == (c1.name, "infra1")
    assert c2.address == "127.0.18.12"
    # no_containers: Octavia on the host itself (is_metal), reached at its own address
    assert (metal.address, metal.container) == ("127.0.18.13", None)
    assert "lxc-attach into container " + c1.name in describe(host_entry(c1))
    assert "container" not in host_entry(metal)
    # the utility container is no Octavia host
    assert all("utility" not in h.name for h in inv.hosts)


def test_osa_physical_host_address_from_its_own_hostvars_when_not_recorded(
        tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "osa-openstack_inventory.json").read_text())
    for hv in data["_meta"]["hostvars"].values():
        hv.pop("physical_host_addr", None)
    path = tmp_path / "openstack_inventory.json"
    path.write_text(json.dumps(data))
    assert [h.address for h in load(path).hosts] == ["127.0.18.11", "127.0.18.12",
                                                     "127.0.18.13"]


def test_openstack_user_config_is_refused_with_what_to_give_instead() -> None:
    path = FIXTURES / "osa-openstack_user_config.yml"
    with pytest.raises(InvalidInput) as err:
        load(path)
    (diag,) = err.value.diagnostics
    assert (diag.rule, diag.line, diag.col) == ("osa-user-config", 4, 1)
    assert "/etc/openstack_deploy/openstack_inventory.json" in diag.message


def test_alias_bomb_is_refused_with_its_position(tmp_path: Path) -> None:
    lines = ["all:", "  vars:", "    a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        lines.append(f"    a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InvalidInput) as err:
        ansible_inventory.read(path)
    (diag,) = err.value.diagnostics
    assert diag.rule == "yaml-alias-limit" and diag.line > 3
    assert str(ansible_inventory.MAX_ALIAS_NODES) in diag.message


@pytest.mark.parametrize("text, rule, line", [
    ('{\n  "octavia-api": {"hosts": ["a",]}\n}\n', "ansible-json", 2),
    ('{"octavia-api": {"hosts": ["a"], "hostvars": {}}}', "ansible-json", 1),
    ('{"octavia-api": {"hosts": "a"}}', "ansible-json", 1),
    ('{"_meta": {"hostvars": {"a": [1]}}, "octavia-api": ["a"]}', "ansible-json", 1),
    ('{"octavia-api": {"hosts": ["a"]}, "octavia-api": {}}', "yaml-duplicate-key", 1),
    ('{"octavia-api": {"hosts": ["a\\u0000b"]}}', "nul-byte", 1),
    ('{"_meta": {"hostvars": {"a": {"ansible_ssh_common_args": "-J j@x:notaport"}}},\n'
     ' "octavia-api": ["a"]}', "ansible-ssh-args", 1),
    ('{"octavia_api": ["a"],\n "_meta": {"hostvars": {"a": {"container_name": ["c"],'
     ' "physical_host": "p"}}}}', "osa-container", 2),
    ('{"_meta": {"hostvars": {"a": {"ansible_user": ["x"]}}}, "octavia-api": ["a"]}',
     "ansible-host", 1),
])
def test_bad_json_inventories_are_positioned_errors(tmp_path: Path, text: str, rule: str,
                                                     line: int) -> None:
    path = tmp_path / "inv.json"
    path.write_text(text)
    with pytest.raises(InvalidInput) as err:
        load(path)
    (diag,) = err.value.diagnostics
    assert (diag.rule, diag.line) == (rule, line)
    assert diag.path == str(path)


def test_meta_hostvars_and_group_vars_follow_ansible_precedence(tmp_path: Path) -> None:
    path = tmp_path / "inv.json"
    path.write_text(json.dumps({
        "_meta": {"hostvars": {"c1": {"ansible_host": "127.0.0.5", "ansible_user": "ops"}}},
        "all": {"children": ["octavia-api"], "vars": {"ansible_user": "kolla",
                                                      "ansible_port": 2222}},
        "octavia-api": {"hosts": ["c1"]}}))
    (host,) = load(path).hosts
    assert (host.address, host.user, host.port) == ("127.0.0.5", "ops", 2222)


# -- ansible.cfg and SSH arguments ------------------------------------------------------


def _ini(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "hosts"
    path.write_text("[octavia-api]\n" + body + "\n")
    return path


def test_ansible_cfg_found_as_ansible_finds_it(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".ansible.cfg").write_text("[defaults]\nremote_user = fromhome\n")
    inv = _ini(tmp_path, "c1 ansible_host=127.0.0.5")
    assert load(inv).hosts[0].user == "fromhome"
    (tmp_path / "ansible.cfg").write_text(  # the current directory wins over ~
        "[defaults]\nremote_user = fromcwd\nprivate_key_file = keys/id_ops ; a comment\n"
        "[ssh_connection]\nssh_args = -C -o ControlMaster=auto -o ControlPersist=60s "
        "-o ProxyJump=jump@127.0.0.9:2200\n")
    host = load(inv).hosts[0]
    assert host.user == "fromcwd" and host.key_file == str(tmp_path / "keys" / "id_ops")
    assert [(h.user, h.address, h.port) for h in host.proxy_jump] == [
        ("jump", "127.0.0.9", 2200)]
    other = tmp_path / "other.cfg"
    other.write_text("[defaults]\nremote_user = fromenv\n")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(other))  # ANSIBLE_CONFIG wins over both
    assert load(inv).hosts[0].user == "fromenv"
    monkeypatch.setenv("ANSIBLE_REMOTE_USER", "envvar")  # the setting's variable wins
    assert load(inv).hosts[0].user == "envvar"
    # the host's own variable wins over everything
    assert load(_ini(tmp_path, "c1 ansible_host=127.0.0.5 ansible_user=own")).hosts[0].user \
        == "own"


def test_world_writable_directory_ansible_cfg_is_ignored_with_a_warning(
        tmp_path: Path) -> None:
    (tmp_path / "ansible.cfg").write_text("[defaults]\nremote_user = fromcwd\n")
    os.chmod(tmp_path, 0o777)
    try:
        inv = load(_ini(tmp_path, "c1 ansible_host=127.0.0.5"))
    finally:
        os.chmod(tmp_path, 0o755)
    assert inv.hosts[0].user == "root"
    assert any("world-writable" in w for w in inv.warnings)


@pytest.mark.parametrize("args, hop", [
    ("-o ProxyCommand=\"ssh -W %h:%p -q bastion@127.0.0.9\"", ("bastion", "127.0.0.9", 22)),
    ("-o 'ProxyCommand=ssh -p 2201 -l jump 127.0.0.9 -W %h:%p'", ("jump", "127.0.0.9", 2201)),
    ("-o ProxyCommand='ssh jump@127.0.0.9 nc %h %p'", ("jump", "127.0.0.9", 22)),
    ("-J ops@127.0.0.9:2022", ("ops", "127.0.0.9", 2022)),
])
def test_ssh_common_args_bastions_map_onto_proxy_jump(tmp_path: Path, args: str,
                                                       hop: tuple[str, str, int]) -> None:
    text = f"c1 ansible_host=127.0.0.5 ansible_ssh_common_args={json.dumps(args)}"
    inv = load(_ini(tmp_path, text))
    assert [(h.user, h.address, h.port) for h in inv.hosts[0].proxy_jump] == [hop]
    assert inv.warnings == ()
    assert f"via {hop[0]}@127.0.0.9:{hop[2]}" in describe(host_entry(inv.hosts[0]))


def test_what_is_not_honoured_is_a_warning_naming_it_and_the_hosts(tmp_path: Path) -> None:
    inv = load(_ini(tmp_path, "c1 ansible_host=127.0.0.5 ansible_ssh_pipelining=true "
                    "ansible_ssh_extra_args='-o StrictHostKeyChecking=no'\n"
                    "c2 ansible_host=127.0.0.6 ansible_ssh_pipelining=true "
                    "ansible_python_interpreter=/usr/bin/python3"))
    assert len(inv.hosts) == 2
    assert "ansible_ssh_pipelining is not honoured by octavia-upgrade (hosts c1, c2)" \
        in inv.warnings
    assert ("ansible_ssh_extra_args -o StrictHostKeyChecking=no is not honoured by "
            "octavia-upgrade (host c1)") in inv.warnings
    assert not any("python_interpreter" in w for w in inv.warnings)


@pytest.mark.parametrize("name", ["kolla-multinode", "kolla-all-in-one",
                                  "osa-openstack_inventory.json",
                                  "ansible-inventory-list.json",
                                  "ansible-inventory-list.yaml"])
def test_lint_reads_every_shape_as_dash_i_does(name: str) -> None:
    from octavia_upgrade.lint import lint_file

    assert lint_file(FIXTURES / name) == []


def test_lint_refuses_the_user_config_and_reports_what_is_not_honoured(
        tmp_path: Path) -> None:
    from octavia_upgrade.lint import lint_file

    (diag,) = lint_file(FIXTURES / "osa-openstack_user_config.yml")
    assert diag.rule == "osa-user-config"
    (warning,) = lint_file(_ini(tmp_path, "c1 ansible_host=127.0.0.5 ansible_ssh_pipelining=1"))
    assert (warning.rule, warning.severity) == ("ansible-not-honoured", "warning")


def test_a_large_generated_inventory_is_read(tmp_path: Path) -> None:
    """OSA's openstack_inventory.json of a large cloud outgrows the 1 MiB of other inputs."""
    data = json.loads((FIXTURES / "osa-openstack_inventory.json").read_text())
    template = data["_meta"]["hostvars"]["infra2-octavia-server-container-7d8e9f01"]
    for i in range(3000):
        name = f"infra2-utility-container-{i:08x}"
        data["_meta"]["hostvars"][name] = dict(template, container_name=name, note="x" * 300)
        data["utility"]["hosts"].append(name)
    path = tmp_path / "openstack_inventory.json"
    path.write_text("\ufeff" + json.dumps(data, indent=4))  # a byte-order mark too
    assert path.stat().st_size > yamlpos.MAX_FILE_BYTES
    assert [h.name for h in load(path).hosts][-1] == "infra3"


def test_ansible_cfg_privilege_escalation_and_host_key_checking(tmp_path: Path) -> None:
    (tmp_path / "ansible.cfg").write_text(
        "[defaults]\nhost_key_checking = False\n"
        "[privilege_escalation]\nbecome = True\nbecome_user = octavia\n")
    inv = load(_ini(tmp_path, "c1 ansible_host=127.0.0.5\n"
                    "c2 ansible_host=127.0.0.6 ansible_become=false"))
    c1, c2 = inv.hosts
    assert c1.become is not None and c1.become.user == "octavia"
    assert c2.become is None  # the host's own variable wins
    assert any("host_key_checking = False is not honoured" in w for w in inv.warnings)


def test_an_unreadable_ansible_cfg_is_invalid_input_naming_it(tmp_path: Path) -> None:
    (tmp_path / "ansible.cfg").write_text("remote_user = x\n")  # no section
    with pytest.raises(InvalidInput) as err:
        load(_ini(tmp_path, "c1 ansible_host=127.0.0.5"))
    assert str(err.value).startswith(f"{tmp_path / 'ansible.cfg'}:1: Ansible configuration "
                                     "is not valid INI")

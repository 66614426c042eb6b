"""Ansible inventories (kolla-ansible, OpenStack-Ansible, role maps) and ssh_config resolution."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from octavia_upgrade import sshconfig
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.inventory_source import InventorySource, detect_format, open_inventory
from octavia_upgrade.model import Inventory

ROOT = Path(__file__).resolve().parents[1]
KOLLA = ROOT / "inventory" / "kolla" / "multinode"
OSA = ROOT / "inventory" / "osa" / "inventory.yaml"
ALL_BUT_DB = ("api", "worker", "health-manager", "housekeeping", "driver-agent")
#: kolla-ansible runs octavia_driver_agent with OVN only (neutron_plugin_agent: openvswitch
#: by default), so a default kolla inventory's hosts have no driver-agent role.
KOLLA_OVS = ("api", "worker", "health-manager", "housekeeping")


def load(path: Path | str, **kw: Any) -> Inventory:
    return open_inventory(InventorySource(str(path), use_ssh_config=False, **kw))


def test_shipped_kolla_multinode_loads_to_the_control_hosts_with_their_roles() -> None:
    inv = load(KOLLA)
    assert detect_format(str(KOLLA)) == "kolla"
    assert inv.deployment == "kolla-multinode"
    assert inv.flavor == "kolla"
    assert [(h.name, h.address, h.user, h.roles) for h in inv.hosts] == [
        ("control01", "192.0.2.11", "kolla", (*KOLLA_OVS, "db-migrate")),
        ("control02", "192.0.2.12", "kolla", KOLLA_OVS),
        ("control03", "192.0.2.13", "kolla", KOLLA_OVS),
    ]
    # ansible_become=true in [all:vars]: sudo to root without a password
    assert all(h.become is not None and h.become.user == "root" and h.become.password is None
               for h in inv.hosts)
    assert inv.hosts[0].pos is not None and (inv.hosts[0].pos.line, inv.hosts[0].pos.col) == (9, 1)


def test_shipped_osa_inventory_loads_with_osa_flavor_and_vars() -> None:
    inv = load(OSA)
    assert detect_format(str(OSA)) == "osa"
    assert (inv.deployment, inv.flavor) == ("osa-prod", "osa")
    names = [h.name for h in inv.hosts]
    assert names == ["infra1-octavia-server-container-1a2b3c4d",
                     "infra2-octavia-server-container-5e6f7a8b"]
    first, second = inv.hosts
    assert first.roles == ("api", "worker", "health-manager", "housekeeping", "db-migrate")
    assert second.roles == ("api", "worker", "health-manager", "housekeeping")
    assert (first.address, first.user) == ("198.51.100.31", "root")
    assert first.vars == {"venv": "/openstack/venvs/octavia-31.0.0"}
    assert "utility" not in " ".join(names)


def test_flags_override_the_derived_deployment_and_flavor() -> None:
    inv = load(KOLLA, deployment="prod-east", flavor="deb")
    assert (inv.deployment, inv.flavor) == ("prod-east", "deb")
    with pytest.raises(InvalidInput, match="unknown flavor"):
        load(KOLLA, flavor="nosuch")


def test_recorded_options_are_absolute_and_resume_replaces_only_what_is_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ssh.conf").write_text("")
    source = InventorySource(str(KOLLA), format="kolla", role_map="maps/roles.yaml",
                             flavor="flavors/site.yaml", ssh_config="ssh.conf")
    recorded = source.options()
    assert recorded == {"format": "kolla", "role_map": str(tmp_path / "maps/roles.yaml"),
                        "flavor": str(tmp_path / "flavors/site.yaml"),
                        "ssh_config": str(tmp_path / "ssh.conf"), "use_ssh_config": True}
    assert InventorySource(str(KOLLA), flavor="kolla").options()["flavor"] == "kolla"
    not_given = {"format": None, "role_map": None, "flavor": None, "ssh_config": None,
                 "use_ssh_config": None}
    again = InventorySource.resumed(str(KOLLA), "kolla-x", recorded, not_given)
    assert again == InventorySource(str(KOLLA), deployment="kolla-x", **recorded)
    other = InventorySource.resumed(str(KOLLA), "kolla-x", recorded,
                                    {**not_given, "flavor": "deb", "use_ssh_config": False})
    assert (other.flavor, other.use_ssh_config, other.role_map) == (
        "deb", False, recorded["role_map"])
    # --ssh-config given to resume applies even over a recorded --no-ssh-config.
    off = {**recorded, "use_ssh_config": False}
    assert InventorySource.resumed(str(KOLLA), "kolla-x", off, not_given).use_ssh_config is False
    on = InventorySource.resumed(str(KOLLA), "kolla-x", off, {**not_given, "ssh_config": "b"})
    assert (on.ssh_config, on.use_ssh_config) == ("b", True)
    # A run recorded before the options were kept: only what resume is given.
    assert InventorySource.resumed(str(KOLLA), "kolla-x", None, not_given) == InventorySource(
        str(KOLLA), deployment="kolla-x")


def test_ini_variable_precedence_ranges_children_and_literals(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text(
        "ctl[01:02] ansible_port=2201\n"
        "[api_nodes]\nctl01 ansible_host='10.0.0.1' ansible_user=\"ops user\"\n"
        "[api_nodes:vars]\nansible_user=group\nansible_port=2222\n"
        "[all:vars]\nansible_user=everyone\noctavia_upgrade_config_file=/etc/o.conf\n"
        "[workers]\nwk[a:b].example.org\n"
        "[octavia-api:children]\napi_nodes\n"
        "[octavia-worker:children]\nworkers\n")
    inv = load(path)
    hosts = {h.name: h for h in inv.hosts}
    assert list(hosts) == ["ctl01", "wka.example.org", "wkb.example.org"]
    ctl = hosts["ctl01"]
    # host vars > child group vars > all; the ungrouped line's port is a host var too
    assert (ctl.address, ctl.port, ctl.user) == ("10.0.0.1", 2201, "ops user")
    assert ctl.roles == ("api", "db-migrate")
    assert ctl.vars == {"config_file": "/etc/o.conf"}
    assert (hosts["wka.example.org"].user, hosts["wka.example.org"].port) == ("everyone", 22)
    assert "user" not in ctl.defaulted and "port" in hosts["wka.example.org"].defaulted


@pytest.mark.parametrize("body, rule, line", [
    ("[octavia-api]\nctl1 ansible_port=http\n", "ansible-port", 2),
    ("[octavia-api]\nctl1 ansible_host=\"{{ ip }}\"\n", "ansible-template", 2),
    ("[octavia-api]\nctl1 ansible_become=true ansible_become_method=su\n", "become-method", 2),
    ("[octavia-api]\nctl1 ansible_host=10.0.0.1\nctl2 ansible_host=10.0.0.1\n",
     "duplicate-address", 3),
    ("[octavia-api]\nctl1 ansible_connection=docker\n", "ansible-connection", 2),
    ("[octavia-api]\nctl1 novalue\n", "ansible-ini", 2),
])
def test_ini_errors_have_positions(tmp_path: Path, body: str, rule: str, line: int) -> None:
    path = tmp_path / "multinode"
    path.write_text(body)
    with pytest.raises(InvalidInput) as err:
        load(path)
    [diag] = err.value.diagnostics
    assert (diag.path, diag.line, diag.rule) == (str(path), line, rule)


def test_yaml_inventory_errors_have_positions(tmp_path: Path) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("all:\n  children:\n    octavia_api:\n      hostz: {}\n")
    with pytest.raises(InvalidInput) as err:
        load(path)
    [diag] = err.value.diagnostics
    assert (diag.line, diag.col, diag.rule) == (4, 7, "ansible-yaml")


def test_unknown_groups_need_a_role_map_which_is_schema_checked(tmp_path: Path) -> None:
    inv_path = tmp_path / "site.ini"
    inv_path.write_text("[lbaas]\nlb1 ansible_host=10.1.0.1\nlb2 ansible_host=10.1.0.2\n"
                        "[lbaas_workers]\nlb2\n")
    with pytest.raises(InvalidInput, match="cannot tell which tool"):
        load(inv_path)
    with pytest.raises(InvalidInput, match="needs --role-map"):
        load(inv_path, format="ansible")
    bad = tmp_path / "bad-map.yaml"
    bad.write_text("apiVersion: octavia-upgrade/v1\nkind: RoleMap\ngroups:\n"
                   "  lbaas: [api, wroker]\n")
    with pytest.raises(InvalidInput) as err:
        load(inv_path, format="ansible", role_map=str(bad))
    [diag] = err.value.diagnostics
    assert (diag.path, diag.line, diag.rule) == (str(bad), 4, "unknown-role")
    good = tmp_path / "map.yaml"
    good.write_text("apiVersion: octavia-upgrade/v1\nkind: RoleMap\ndeployment: site-a\n"
                    "flavor: rdo\ndb_migrate: lb2\ngroups:\n  lbaas: [api]\n"
                    "  lbaas_workers: [worker, housekeeping]\n")
    inv = load(inv_path, format="ansible", role_map=str(good))
    assert (inv.deployment, inv.flavor) == ("site-a", "rdo")
    assert {h.name: h.roles for h in inv.hosts} == {
        "lb1": ("api",), "lb2": ("api", "worker", "housekeeping", "db-migrate")}


def test_native_inventories_still_load_and_take_become(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "inv.yaml"
    path.write_text("apiVersion: octavia-upgrade/v1\nkind: Inventory\ndeployment: d\n"
                    "flavor: deb\nbecome: {password_env: TEST_SUDO_PW}\nhosts:\n"
                    "  a: {address: 10.0.0.1, roles: [api, db-migrate]}\n"
                    "  b: {address: 10.0.0.2, user: ops, roles: [worker], become: false}\n")
    monkeypatch.setenv("TEST_SUDO_PW", "s3cret-pw")
    inv = load(path)
    a, b = inv.hosts
    assert a.become is not None and a.become.password == "s3cret-pw" and b.become is None
    assert "s3cret-pw" not in repr(a)
    assert a.defaulted == {"user", "port", "key_file"} and b.defaulted == {"port", "key_file"}
    monkeypatch.delenv("TEST_SUDO_PW")
    with pytest.raises(InvalidInput) as err:
        load(path)
    assert [(d.line, d.rule) for d in err.value.diagnostics] == [(5, "become-password")]


def test_ssh_config_sets_what_the_inventory_leaves_open(tmp_path: Path) -> None:
    key = tmp_path / "id_test"
    key.write_text("not really a key\n")
    bastion_key = tmp_path / "id_bastion"
    bastion_key.write_text("x\n")
    cfg = tmp_path / "config"
    cfg.write_text(
        "Host jump\n  HostName 203.0.113.5\n  User hop\n  Port 2022\n"
        f"  IdentityFile {bastion_key}\n"
        "Host 192.0.2.*\n  ProxyJump jump\n  User kolla-op\n  Port 2200\n"
        f"  IdentityFile ~/nonexistent-key\n  IdentityFile {key}\n"
        "  ConnectTimeout 7\n  UserKnownHostsFile ~/kh-prod /etc/kh2\n"
        "Host control02\n  HostName 192.0.2.99\n")
    inv = open_inventory(InventorySource(str(KOLLA), ssh_config=str(cfg)))
    c1 = inv.hosts[0]
    # ansible_user=kolla wins over User, as ssh -l does; Port comes from the config
    assert (c1.address, c1.user, c1.port, c1.key_file) == ("192.0.2.11", "kolla", 2200, str(key))
    assert c1.connect_timeout == 7.0
    assert c1.known_hosts is not None and c1.known_hosts.endswith("/kh-prod")
    assert [(j.address, j.port, j.user, j.key_file, j.name) for j in c1.proxy_jump] == [
        ("203.0.113.5", 2022, "hop", str(bastion_key), "jump")]
    cfg.write_text("Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n"
                   "Host 192.0.2.11\n  ProxyJump a\n")
    with pytest.raises(InvalidInput, match="ProxyJump chain"):
        open_inventory(InventorySource(str(KOLLA), ssh_config=str(cfg)))
    with pytest.raises(InvalidInput, match="no such file"):
        open_inventory(InventorySource(str(KOLLA), ssh_config=str(tmp_path / "missing")))


def test_proxyjump_list_and_inline_user_port(tmp_path: Path) -> None:
    cfg = tmp_path / "config"
    cfg.write_text("Host 192.0.2.11\n  ProxyJump ops@gw1:2201,gw2\nHost gw2\n  HostName 10.9.9.9\n")
    config = sshconfig.load(str(cfg))
    inv = sshconfig.apply(load(KOLLA), config)
    assert [(j.name, j.address, j.port, j.user) for j in inv.hosts[0].proxy_jump][0] == (
        "gw1", "gw1", 2201, "ops")
    assert inv.hosts[0].proxy_jump[1].address == "10.9.9.9"
    assert inv.hosts[1].proxy_jump == ()


def test_cli_plans_a_kolla_multinode_offline_with_positions_on_errors(tmp_path: Path) -> None:
    runbook = ROOT / "runbooks" / "dalmatian-to-epoxy.yaml"
    env = {"OCTAVIA_UPGRADE_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "octavia_upgrade", "plan", str(runbook), "-i",
                           str(KOLLA), "--no-detect", "-f", "json"], capture_output=True,
                          text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert '"deployment": "kolla-multinode"' in done.stdout
    assert "control01" in done.stdout and "compute01" not in done.stdout
    bad = tmp_path / "multinode"
    bad.write_text("[octavia-api]\nctl1 ansible_port=http\n")
    done = subprocess.run([sys.executable, "-m", "octavia_upgrade", "plan", str(runbook), "-i",
                           str(bad), "--no-detect"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 2
    assert f"{bad}:2:1: ansible-port" in done.stderr and "Traceback" not in done.stderr


def test_lint_checks_ansible_yaml_inventories_and_role_maps(tmp_path: Path) -> None:
    from octavia_upgrade.lint import lint_paths

    assert lint_paths([str(ROOT / "inventory")]).diagnostics == ()
    (tmp_path / "osa.yaml").write_text(
        "all:\n  children:\n    octavia_api:\n      hosts:\n        a: {ansible_port: 0}\n")
    (tmp_path / "map.yaml").write_text(
        "apiVersion: octavia-upgrade/v1\nkind: RoleMap\ngroups: {x: [apii]}\n")
    found = [(Path(d.path).name, d.line, d.rule) for d in lint_paths([str(tmp_path)]).diagnostics]
    assert found == [("map.yaml", 3, "unknown-role"), ("osa.yaml", 5, "ansible-port")]


def test_group_vars_and_host_vars_folders_rank_as_ansible_ranks_them(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text(
        "[api_nodes]\nctl01 ansible_host=10.0.0.1 ansible_user=hostline\nctl02\n"
        "[api_nodes:vars]\nansible_port=2222\noctavia_upgrade_config_file=/etc/file.conf\n"
        "[all:vars]\nansible_user=file-all\n"
        "[octavia-api:children]\napi_nodes\n")
    gv, hv = tmp_path / "group_vars", tmp_path / "host_vars"
    (gv / "api_nodes").mkdir(parents=True)
    hv.mkdir()
    (gv / "all.yml").write_text("ansible_user: folder-all\n"
                                "octavia_upgrade_config_file: /etc/all.conf\n")
    (gv / "api_nodes" / "10-port.yml").write_text("ansible_port: 2300\n")
    (gv / "api_nodes" / "20-user.yaml").write_text("ansible_user: folder-api\n")
    (gv / "api_nodes" / "30-port.yml").write_text("ansible_port: 2301\n")  # later file wins
    (hv / "ctl01").write_text("ansible_host: 10.0.0.9\n")
    (hv / "ctl02.json").write_text('{"ansible_host": "10.0.0.2", "ansible_port": 2400}')
    inv = load(tmp_path / "hosts")
    hosts = {h.name: h for h in inv.hosts}
    ctl01, ctl02 = hosts["ctl01"], hosts["ctl02"]
    # host_vars/ > the file's host vars > group_vars/GROUP > group_vars/all > the file's groups
    assert (ctl01.address, ctl01.user, ctl01.port) == ("10.0.0.9", "hostline", 2301)
    assert (ctl02.address, ctl02.user, ctl02.port) == ("10.0.0.2", "folder-api", 2400)
    assert ctl01.vars["config_file"] == "/etc/all.conf"
    assert inv.warnings == ()


def test_vaulted_variables_files_and_values_are_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("[octavia-api]\nctl01 ansible_host=10.0.0.1\n")
    gv = tmp_path / "group_vars"
    gv.mkdir()
    (gv / "all.yml").write_text(
        "ansible_user: ops\n"
        "octavia_upgrade_db_password: !vault |\n"
        "  $ANSIBLE_VAULT;1.1;AES256\n  6231\n")
    (gv / "octavia-api.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n3365\n")
    inv = load(tmp_path / "hosts")
    assert inv.hosts[0].user == "ops"
    assert "db_password" not in inv.hosts[0].vars
    assert f"{gv / 'all.yml'}: octavia_upgrade_db_password is vault-encrypted (!vault), " \
           "not read" in inv.warnings
    assert any(w.startswith(f"{gv / 'octavia-api.yml'}: vault-encrypted, not read")
               for w in inv.warnings)


def test_a_variables_file_that_is_not_a_mapping_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("[octavia-api]\nctl01 ansible_host=10.0.0.1\n")
    (tmp_path / "host_vars").mkdir()
    (tmp_path / "host_vars" / "ctl01.yml").write_text("- a\n- b\n")
    (tmp_path / "host_vars" / "ctl01").write_text("# nothing yet\n")  # empty: no variables
    with pytest.raises(InvalidInput) as err:
        load(tmp_path / "hosts")
    (diag,) = err.value.diagnostics
    assert (diag.path, diag.rule) == (str(tmp_path / "host_vars" / "ctl01.yml"),
                                      "yaml-not-mapping")

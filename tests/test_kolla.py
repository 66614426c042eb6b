"""kolla-ansible settings: image names per release and distro, engine, driver agent, globals.yml."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from octavia_upgrade import kolla
from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.inventory_source import InventorySource, open_inventory

ROOT = Path(__file__).resolve().parents[1]
KOLLA_MULTINODE = ROOT / "inventory" / "kolla" / "multinode"
CATALOG = load_catalog()


def rel(name: str) -> dict:
    return CATALOG.get(name).as_dict()


@pytest.mark.parametrize(("series", "settings", "image"), [
    # kolla-ansible's defaults: rocky from Zed, its version per release
    ("zed", {}, "quay.io/openstack.kolla/octavia-api:zed-rocky-9"),
    ("caracal", {}, "quay.io/openstack.kolla/octavia-api:2024.1-rocky-9"),
    ("dalmatian", {}, "quay.io/openstack.kolla/octavia-api:2024.2-rocky-9"),
    ("epoxy", {}, "quay.io/openstack.kolla/octavia-api:2025.1-rocky-9"),
    ("flamingo", {}, "quay.io/openstack.kolla/octavia-api:2025.2-rocky-10"),
    # ubuntu: jammy for Zed..2024.1, noble from 2024.2
    ("zed", {"kolla_base_distro": "ubuntu"}, "quay.io/openstack.kolla/octavia-api:zed-ubuntu-jammy"),
    ("caracal", {"kolla_base_distro": "ubuntu"},
     "quay.io/openstack.kolla/octavia-api:2024.1-ubuntu-jammy"),
    ("dalmatian", {"kolla_base_distro": "ubuntu"},
     "quay.io/openstack.kolla/octavia-api:2024.2-ubuntu-noble"),
    ("bobcat", {"kolla_base_distro": "debian"},
     "quay.io/openstack.kolla/octavia-api:2023.2-debian-bookworm"),
    # before Zed: <distro>-<install type>-octavia-api, tag = the release name
    ("yoga", {}, "quay.io/openstack.kolla/centos-source-octavia-api:yoga"),
    ("xena", {"kolla_base_distro": "ubuntu"},
     "quay.io/openstack.kolla/ubuntu-source-octavia-api:xena"),
    ("wallaby", {}, "kolla/centos-binary-octavia-api:wallaby"),
    ("wallaby", {"kolla_install_type": "source", "openstack_tag_suffix": "-1"},
     "kolla/centos-source-octavia-api:wallaby-1"),
    # operator registry, namespace, prefix and suffix
    ("epoxy", {"docker_registry": "registry.example.org:4000", "docker_namespace": "kolla",
               "docker_image_name_prefix": "os-", "openstack_tag_suffix": "-aarch64"},
     "registry.example.org:4000/kolla/os-octavia-api:2025.1-rocky-9-aarch64"),
    ("epoxy", {"docker_registry": ""}, "openstack.kolla/octavia-api:2025.1-rocky-9"),
    # a pinned tag wins
    ("epoxy", {"kolla_tags": {"2025.1": "2025.1-rocky-9-20250601"}},
     "quay.io/openstack.kolla/octavia-api:2025.1-rocky-9-20250601"),
])
def test_image_reference_follows_kolla_ansible(series: str, settings: dict, image: str) -> None:
    assert kolla.Settings.from_vars(settings).image("api", rel(series)) == image


def test_every_service_has_its_image_and_container() -> None:
    s = kolla.Settings()
    assert s.image("health-manager", rel("epoxy")).endswith(
        "/octavia-health-manager:2025.1-rocky-9")
    assert kolla.container("driver-agent") == "octavia_driver_agent"
    ctx = kolla.context({"kolla_container_engine": "podman"},
                        {"from": rel("dalmatian"), "to": rel("epoxy")},
                        ("health-manager", "housekeeping"))
    assert ctx["engine"] == "podman"
    assert ctx["images"]["to"]["worker"].endswith("octavia-worker:2025.1-rocky-9")
    assert ctx["tags"] == {"from": "2024.2-rocky-9", "to": "2025.1-rocky-9"}
    assert ctx["containers"] == ["octavia_health_manager", "octavia_housekeeping"]
    # what the recreate command is told, both ways: container=image of this host's services
    assert ctx["recreate"]["to"] == (
        "octavia_health_manager=quay.io/openstack.kolla/octavia-health-manager:2025.1-rocky-9 "
        "octavia_housekeeping=quay.io/openstack.kolla/octavia-housekeeping:2025.1-rocky-9")
    assert ctx["recreate"]["from"].startswith(
        "octavia_health_manager=quay.io/openstack.kolla/octavia-health-manager:2024.2-rocky-9 ")


def test_without_releases_the_context_names_the_containers_only() -> None:
    """What detect renders with (no runbook, so no release yet)."""
    ctx = kolla.context({}, {}, ("api", "worker"))
    assert ctx["containers"] == ["octavia_api", "octavia_worker"]
    assert ctx["images"] == {} and ctx["recreate"] == {}


def test_the_recreate_command_gets_each_containers_target_image(tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("apiVersion: octavia-upgrade/v1\nkind: Inventory\ndeployment: k\n"
                   "flavor: kolla\nvars:\n  kolla_base_distro: debian\n"
                   "  kolla_recreate_command: /usr/local/bin/recreate-octavia\n"
                   "hosts:\n  ctl1:\n    address: 127.0.0.1\n"
                   "    roles: [api, worker, db-migrate]\n")
    env = {"OCTAVIA_UPGRADE_STATE_DIR": str(tmp_path / "s"), "HOME": str(tmp_path),
           "PATH": "/usr/bin:/bin", "PYTHONPATH": _pythonpath()}
    res = subprocess.run([sys.executable, "-m", "octavia_upgrade", "plan", "dalmatian-to-epoxy",
                          "-i", str(inv), "--no-detect", "-v"], capture_output=True, text=True,
                         env=env)
    assert res.returncode == 0, res.stderr
    img = "quay.io/openstack.kolla/octavia-{}:2025.1-debian-bookworm"
    assert (f"export OCTAVIA_UPGRADE_IMAGES='octavia_api={img.format('api')} "
            f"octavia_worker={img.format('worker')}' && /usr/local/bin/recreate-octavia"
            ) in res.stdout
    # each container is recorded on its own line for the rollback
    assert "for c in octavia_api octavia_worker; do" in res.stdout


@pytest.mark.parametrize(("settings", "message"), [
    ({"kolla_container_engine": "containerd"},
     "kolla_container_engine 'containerd' is not one kolla supports (docker, podman)"),
    ({"kolla_install_type": "rpm"}, "kolla_install_type 'rpm'"),
    ({"kolla_tags": ["2025.1"]}, "kolla_tags must map a release"),
])
def test_bad_settings_are_one_line_errors(settings: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(").replace(")", r"\)")):
        kolla.Settings.from_vars(settings)


def test_a_distro_kolla_never_built_for_the_release_is_an_error() -> None:
    with pytest.raises(InvalidInput, match="builds no such images"):
        kolla.Settings.from_vars({"kolla_base_distro": "fedora"}).image("api", rel("epoxy"))
    with pytest.raises(InvalidInput, match="were built for centos"):
        kolla.Settings.from_vars({"kolla_base_distro": "rocky"}).image("api", rel("yoga"))


@pytest.mark.parametrize(("given", "enabled"), [
    ({}, False), ({"neutron_plugin_agent": "openvswitch"}, False),
    ({"neutron_plugin_agent": "ovn"}, True), ({"enable_octavia_driver_agent": "yes"}, True),
    ({"neutron_plugin_agent": "ovn", "enable_octavia_driver_agent": False}, False),
    ({"enable_octavia_driver_agent": "{{ enable_octavia | bool and neutron_plugin_agent == 'ovn' }}",
      "neutron_plugin_agent": "ovn"}, True),
])
def test_driver_agent_only_where_kolla_enables_it(given: dict, enabled: bool) -> None:
    assert kolla.driver_agent_enabled(given) is enabled


def load_kolla(tmp_path: Path, globals_yml: str | None, monkeypatch: pytest.MonkeyPatch,
               extra_vars: str = ""):  # type: ignore[no-untyped-def]
    inv = tmp_path / "multinode"
    inv.write_text(KOLLA_MULTINODE.read_text() + extra_vars)
    conf = tmp_path / "etc-kolla"
    conf.mkdir()
    if globals_yml is not None:
        (conf / "globals.yml").write_text(globals_yml)
    monkeypatch.setenv("KOLLA_CONFIG_PATH", str(conf))
    return open_inventory(InventorySource(str(inv), use_ssh_config=False))


def test_ovs_cloud_hosts_have_no_driver_agent(tmp_path: Path, monkeypatch) -> None:
    inv = load_kolla(tmp_path, None, monkeypatch)
    assert all("driver-agent" not in h.roles for h in inv.hosts)


def test_globals_yml_enables_ovn_and_podman_over_the_inventory(tmp_path: Path,
                                                             monkeypatch) -> None:
    inv = load_kolla(tmp_path, "---\nneutron_plugin_agent: ovn\nkolla_container_engine: podman\n"
                     "kolla_base_distro: ubuntu\nunrelated: 1\n", monkeypatch,
                     "\n[all:vars]\nkolla_container_engine=docker\n")
    assert all("driver-agent" in h.roles for h in inv.hosts)
    assert inv.vars["kolla_container_engine"] == "podman"
    assert inv.vars["kolla_base_distro"] == "ubuntu"
    assert "unrelated" not in inv.vars


def test_unknown_engine_in_globals_is_refused_with_the_file(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(InvalidInput, match=r"etc-kolla/globals.yml: kolla_container_engine "
                                           r"'lxc' is not one kolla supports"):
        load_kolla(tmp_path, "kolla_container_engine: lxc\n", monkeypatch)


def test_cli_plan_of_a_kolla_inventory_names_the_right_images(tmp_path: Path) -> None:
    conf = tmp_path / "kolla"
    conf.mkdir()
    (conf / "globals.yml").write_text("kolla_base_distro: ubuntu\nkolla_container_engine: "
                                      "podman\ndocker_graceful_timeout: 90\n")
    env = {"KOLLA_CONFIG_PATH": str(conf), "OCTAVIA_UPGRADE_STATE_DIR": str(tmp_path / "s"),
           "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-m", "octavia_upgrade", "plan", "caracal-to-dalmatian",
                          "-i", str(KOLLA_MULTINODE), "--no-detect", "-v"],
                         capture_output=True, text=True, env={**env, "PYTHONPATH": _pythonpath()})
    assert res.returncode == 0, res.stderr
    # stopped as kolla-ansible stops it: SIGKILL only after globals.yml's graceful timeout
    assert "podman stop -t 90 octavia_api" in res.stdout
    assert "octavia_driver_agent" not in res.stdout
    assert "quay.io/openstack.kolla/octavia-api:2024.2-ubuntu-noble" in res.stdout
    # podman's pull is quiet in the preflight; docker's has no -q before 19.03 (golden plans)
    as_json = subprocess.run([*res.args[:-1], "-f", "json"], capture_output=True, text=True,
                             env={**env, "PYTHONPATH": _pythonpath()})
    assert "podman pull -q quay.io/openstack.kolla/octavia-api:2024.2-ubuntu-noble" in \
        as_json.stdout


def _pythonpath() -> str:
    import octavia_upgrade

    return str(Path(octavia_upgrade.__file__).resolve().parents[1])


def test_shipped_kolla_flavor_lints_clean() -> None:
    from octavia_upgrade.flavors import check_flavor

    assert [d for d in check_flavor("kolla") if d.severity == "error"] == []


@pytest.mark.parametrize(("setting", "message"), [
    ("kolla_container_engine: lxc", "kolla_container_engine 'lxc' is not one kolla supports"),
    ("kolla_base_distro: fedora", "kolla_base_distro 'fedora': kolla-ansible 2024.2 Dalmatian "
                                  "builds no such images"),
])
def test_bad_kolla_settings_in_an_inventory_are_exit_2_naming_the_file(
        tmp_path: Path, setting: str, message: str) -> None:
    inv = tmp_path / "inv.yaml"
    inv.write_text("apiVersion: octavia-upgrade/v1\nkind: Inventory\ndeployment: x\n"
                   f"flavor: kolla\nvars: {{{setting}}}\n"
                   "hosts:\n  ctl1: {address: 192.0.2.11, roles: [api, db-migrate]}\n")
    res = subprocess.run([sys.executable, "-m", "octavia_upgrade", "plan", "dalmatian-to-epoxy",
                          "-i", str(inv), "--no-detect", "-v"], capture_output=True, text=True,
                         env={"PYTHONPATH": _pythonpath(), "HOME": str(tmp_path),
                              "OCTAVIA_UPGRADE_STATE_DIR": str(tmp_path / "s"),
                              "PATH": "/usr/bin:/bin"})
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"octavia-upgrade: {inv}: kolla settings")
    assert message in lines[0] and "Traceback" not in res.stderr


def test_the_flavors_older_container_engine_variable_still_counts() -> None:
    from octavia_upgrade.flavors import load_flavor

    flavor_vars = dict(load_flavor("kolla").vars)
    assert kolla.Settings.from_vars({**flavor_vars, "container_engine": "podman"}).engine == \
        "podman"
    assert kolla.Settings.from_vars(flavor_vars).engine == "docker"

"""The kolla lab's files: podman's configuration, kolla's config.json, the image build
script and the recreate command's refusals (the lab itself: test_kolla_lab.py)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from octavia_upgrade.lab import kolla, kollabuild
from octavia_upgrade.lab.styles import style

RECREATE = Path(kollabuild.__file__).with_name("kollaimage") / "recreate"


def test_containers_get_no_network_and_none_of_the_callers_environment() -> None:
    conf = kollabuild.containers_conf()
    assert 'netns = "none"' in conf  # no bridge: the machine's firewall is left alone
    assert "http_proxy = false" in conf
    assert "default_ulimits = []" in conf and 'runtime = "runc"' in conf
    assert '"/usr/bin:/usr/bin:ro"' in conf and '"/usr:/usr' not in conf
    files = kollabuild.podman_config("127.0.0.1:5000")
    assert 'location = "127.0.0.1:5000"\ninsecure = true' in files["registries.conf"]
    assert json.loads(files["policy.json"])["default"][0]["type"] == "insecureAcceptAnything"


def test_every_node_owns_podmans_paths() -> None:
    assert set(kolla.NODE_PATHS) <= set(style("kolla").extra_paths)


def test_config_json_runs_the_service_with_its_configuration_and_certificates() -> None:
    doc = json.loads(kolla.config_json("health-manager"))
    assert doc["command"] == "octavia-health-manager --config-file /etc/octavia/octavia.conf"
    dests = {f["dest"]: f for f in doc["config_files"]}
    assert dests["/etc/octavia/octavia.conf"]["perm"] == "0600"
    assert {"/etc/octavia/certs/ca.pem", "/etc/octavia/certs/ca.key"} <= set(dests)
    assert kolla.octavia_conf("[DEFAULT]\nlog_dir = /var/log/octavia\n") == \
        "[DEFAULT]\nlog_dir = /var/log/kolla/octavia\n"


def test_images_are_named_as_the_kolla_flavor_names_them() -> None:
    imgs = kolla.images("127.0.0.1:5000", "epoxy", "2025.1")
    assert imgs["api"] == "127.0.0.1:5000/openstack.kolla/octavia-api:2025.1-debian-bookworm"
    assert imgs["health-manager"].endswith("/octavia-health-manager:2025.1-debian-bookworm")
    cmd = kolla.create_command(imgs)
    assert "octavia_api=127.0.0.1:5000/openstack.kolla/octavia-api:2025.1" in cmd
    assert "octavia_driver_agent" not in cmd  # kolla enables it with OVN only
    assert cmd.index("podman start octavia_api") < cmd.index("podman start octavia_worker")


def test_the_build_runs_each_release_beside_the_other_and_pushes_manifest_lists() -> None:
    imgs = [kollabuild.ReleaseImage(s, Path(f"/wh/{s}"), (f"octavia=={m}.*",),
                                    (f"r/octavia-api:{s}", f"r/octavia-worker:{s}"))
            for s, m in (("dalmatian", 15), ("epoxy", 16))]
    script = kollabuild.build_script(Path("/b/base.tar"), "r/base:latest", imgs, Path("/v"))
    assert script.count(" & pids+=($!)") == 2
    assert 'for pid in "${pids[@]}"; do wait "$pid"; done' in script
    # the first release's venv is copied out for the lab's own tools, once
    assert script.count("/venv-copy") == 2
    assert "--change 'ENTRYPOINT [\"dumb-init\", \"--single-child\", \"--\"]'" in script
    assert "podman tag r/octavia-api:epoxy r/octavia-worker:epoxy" in script
    for ref in ("r/base:latest", "r/octavia-api:dalmatian", "r/octavia-worker:epoxy"):
        assert "--all --tls-verify=false" in script and f"docker://{ref}\n" in script
    # the build passes bash -n
    res = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert res.returncode == 0, res.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="the base's /etc is owned by kolla's ids")
def test_the_base_has_kollas_users_entry_points_and_sudo_rule(tmp_path: Path) -> None:
    root = tmp_path / "rootfs"
    kollabuild.base_rootfs(root)
    assert os.readlink(root / "bin") == "usr/bin"
    assert "octavia:x:42437:42437:" in (root / "etc/passwd").read_text()
    assert "kolla:x:42400:octavia" in (root / "etc/group").read_text()
    for name in ("kolla_start", "kolla_set_configs", "kolla_extend_start"):
        assert os.access(root / "usr/local/bin" / name, os.X_OK), name
    sudoers = (root / "etc/sudoers").read_text()
    assert "%kolla ALL=(root) NOPASSWD: /usr/local/bin/kolla_set_configs" in sudoers
    assert (root / "var/log/kolla/octavia").stat().st_uid == 42437
    assert (root / "etc/pam.d").is_dir()


@pytest.mark.parametrize(("images", "message"), [
    ("", "OCTAVIA_UPGRADE_IMAGES is empty"),
    ("octavia_api", "not container=image of an Octavia service of this host"),
    ("octavia_nothing=r/x:1", "not container=image of an Octavia service of this host"),
])
def test_the_recreate_command_refuses_what_it_cannot_map(images: str, message: str) -> None:
    res = subprocess.run([str(RECREATE)], capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "OCTAVIA_UPGRADE_IMAGES": images})
    assert res.returncode == 2
    assert message in res.stderr


def test_a_kolla_lab_without_podman_is_refused_before_anything_starts(tmp_path: Path) -> None:
    import sys

    # Neither PATH nor /usr/sbin has podman or dumb-init: exit 3, naming them, nothing made.
    res = subprocess.run([sys.executable, "-m", "octavia_upgrade", "lab", "up", "--flavor",
                          "kolla", "--dir", str(tmp_path / "lab")], capture_output=True,
                         text=True, env={**os.environ, "PATH": str(tmp_path)}, timeout=60)
    assert res.returncode == 3, res.stderr
    assert "the kolla lab needs podman, dumb-init, docker-registry" in res.stderr
    assert "scripts/bootstrap installs them" in res.stderr
    assert not (tmp_path / "lab").exists()

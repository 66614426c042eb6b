"""Each node's octavia.conf (``lab.octaviaconf``)."""

from __future__ import annotations

import configparser

from octavia_upgrade.lab import octaviaconf as oc


def _parse(text: str) -> configparser.RawConfigParser:
    cp = configparser.RawConfigParser()
    cp.read_string(text)
    return cp


def test_render_is_per_node_and_uses_no_op_drivers():
    shared = oc.Shared("rabbit://guest:guest@127.0.0.1:5672/",
                       "mysql+pymysql://octavia:pw@127.0.0.1:3306/octavia", "k3y",
                       ("127.42.0.10:5555", "127.42.0.11:5555"))
    cp = _parse(oc.render(shared, oc.NodeConf("node2", "127.42.0.11")))
    assert cp["DEFAULT"]["host"] == "node2"
    assert cp["api_settings"]["bind_host"] == "127.42.0.11"
    assert cp["api_settings"]["auth_strategy"] == "noauth"
    assert cp["health_manager"]["bind_ip"] == "127.42.0.11"
    assert cp["health_manager"]["heartbeat_key"] == "k3y"
    assert int(cp["health_manager"]["heartbeat_timeout"]) > 60
    assert cp["health_manager"]["controller_ip_port_list"] == (
        "127.42.0.10:5555, 127.42.0.11:5555")
    assert all(cp["controller_worker"][k].endswith("_noop_driver")
               for k in ("amphora_driver", "compute_driver", "network_driver",
                         "image_driver", "volume_driver", "distributor_driver"))
    assert cp["driver_agent"]["status_socket_path"].startswith("/run/octavia/")
    assert cp["database"]["connection"] == shared.db_url


def test_secrets_are_random():
    assert oc.new_secret() != oc.new_secret()
    assert len(oc.new_secret()) >= 20


def test_ca_is_made_with_openssl(tmp_path):
    pem, key = oc.make_ca(tmp_path)
    assert pem.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert oct(key.stat().st_mode)[-3:] == "600"
    assert oc.make_ca(tmp_path) == (pem, key)


def test_db_defaults_file_keeps_the_password_off_the_command_line():
    text = oc.db_defaults_file("octavia", "s3cret", 3306)
    cp = _parse(text)
    assert cp["client"]["password"] == "s3cret" and cp["client"]["port"] == "3306"

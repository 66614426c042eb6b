"""octavia.conf checks against the packaged option data of real Octavia releases.

The base configuration is the lab's working octavia.conf (the one its real
Octavia services run with), rendered by the lab's own module, plus a copy of
the documented working configuration with injected renamed, removed,
deprecated and misspelt options at known lines.
"""

from __future__ import annotations

import json

import pytest

from octavia_upgrade.configcheck import (
    ConfigFile,
    Finding,
    check_config,
    load_option_data,
    parse_config,
)
from octavia_upgrade.resources import data_path

#: The working configuration from octavia-on-this-machine.md with injected
#: problems; line numbers matter (asserted below).
CONF = """\
[DEFAULT]
transport_url = rabbit://guest:Rabbit-Pw-77@127.0.0.1:5672/
log_dir = /srv/lab/log
bind_host = 0.0.0.0
[database]
connection = mysql+pymysql://octavia:Db-Pa55word-xyz@127.0.0.1:3306/octavia
[api_settings]
auth_strategy = noauth
bind_host = 127.0.0.11
bind_port = 9876
enabled_provider_drivers = amphora:Amphora driver.,noop_driver:No-op driver.
default_provider_driver = amphora
api_v2_enabled = True
allow_paginatoin = True
[controller_worker]
amphora_driver = amphora_noop_driver
compute_driver = compute_noop_driver
network_driver = network_noop_driver
volume_driver = volume_noop_driver
image_driver = image_noop_driver
distributor_driver = distributor_noop_driver
loadbalancer_topology = SINGLE
client_ca = /srv/lab/certs/ca.pem
[certificates]
cert_manager = noop_cert_manager
cert_generator = local_cert_generator
ca_certificate = /srv/lab/certs/ca.pem
ca_private_key = /srv/lab/certs/ca.key
server_certs_key_passphrase = Passphrase-0123456789abcdef012345
[health_manager]
bind_ip = 127.0.0.11
bind_port = 5555
heartbeat_key = Hb-Key-sekrit-42
stats_update_driver = stats_db
[driver_agent]
status_socket_path = /srv/lab/run/status.sock
stats_socket_path = /srv/lab/run/stats.sock
get_socket_path = /srv/lab/run/get.sock
enabled_provider_agents = noop_agent
[task_flow]
jobboard_enabled = False
[haproxy_amphora]
active_connection_rety_interval = 5
respawn_count = 2
[keystone_authtoken]
auth_url = http://192.0.2.5:5000
password = Ks-Pa55-abc
[oslo_messaging_rabit]
heartbeat_timeout_threshold = 30
"""
SECRETS = ("Rabbit-Pw-77", "Db-Pa55word-xyz", "Passphrase-0123456789abcdef012345",
           "Hb-Key-sekrit-42", "Ks-Pa55-abc")
MAIN = "/etc/octavia/octavia.conf"


def _check(target: str, text: str = CONF, **kw: str) -> list[Finding]:
    return check_config([ConfigFile("ctl1", MAIN, text)], target, **kw)


def _at(findings: list[Finding], line: int) -> list[Finding]:
    return [f for f in findings if f.line == line]


# --------------------------------------------------------------------------- the lab's config


def _lab_conf() -> str:
    from octavia_upgrade.lab.octaviaconf import NodeConf, Shared, render

    shared = Shared(transport_url="rabbit://octavia:Rabbit-Lab-Pw@127.0.0.1:5673/",
                    db_url="mysql+pymysql://octavia:Lab-Db-Pw-9@127.0.0.1:3307/octavia",
                    heartbeat_key="Lab-Heartbeat-Key-1",
                    health_managers=("127.0.0.11:5555", "127.0.0.12:5555"))
    return render(shared, NodeConf(host="node1", address="127.0.0.11"))


@pytest.mark.parametrize("target", ["dalmatian", "epoxy", "flamingo", "gazpacho", "hibiscus"])
def test_the_labs_working_config_has_no_errors(target: str) -> None:
    text = _lab_conf()
    findings = check_config([ConfigFile("node1", MAIN, text)], target)
    assert [f for f in findings if f.severity == "error"] == []
    # [oslo_concurrency] lock_path is not in Octavia's generator namespaces but is
    # registered when Octavia's config module loads: known, so no warning.
    assert [f for f in findings if f.code == "unknown-option"] == []
    for f in findings:
        for secret in ("Rabbit-Lab-Pw", "Lab-Db-Pw-9", "Lab-Heartbeat-Key-1"):
            assert secret not in str(f)


# --------------------------------------------------------------------------- each kind of finding


def test_removed_renamed_deprecated_and_unknown_with_exact_lines() -> None:
    findings = _check("epoxy")
    got = [(f.line, f.severity, f.code, f.group, f.option) for f in findings if f.line]
    assert got == [
        (4, "error", "renamed", "DEFAULT", "bind_host"),
        (13, "error", "removed", "api_settings", "api_v2_enabled"),
        (14, "warning", "unknown-option", "api_settings", "allow_paginatoin"),
        (34, "error", "renamed", "health_manager", "stats_update_driver"),
        (43, "error", "renamed", "haproxy_amphora", "active_connection_rety_interval"),
        (44, "warning", "deprecated", "haproxy_amphora", "respawn_count"),
        (49, "warning", "unknown-option", "oslo_messaging_rabit", "heartbeat_timeout_threshold"),
    ]


def test_renamed_names_the_replacement() -> None:
    findings = _check("epoxy")
    (bind,) = _at(findings, 4)
    assert bind.replacement == "[api_settings] bind_host"
    assert "[DEFAULT] bind_host → [api_settings] bind_host" in bind.message
    (alias,) = _at(findings, 43)
    assert alias.replacement == "[haproxy_amphora] active_connection_retry_interval"
    assert "deprecated alias" in alias.message
    (stats,) = _at(findings, 34)
    assert stats.replacement == "[controller_worker] statistics_drivers"
    assert "Dalmatian" in stats.message


def test_unknown_options_get_a_suggestion() -> None:
    findings = _check("epoxy")
    assert "did you mean [api_settings] allow_pagination?" in _at(findings, 14)[0].message
    assert "did you mean [oslo_messaging_rabbit] heartbeat_timeout_threshold?" in \
        _at(findings, 49)[0].message


def test_keystoneauth_plugin_options_are_known() -> None:
    findings = _check("epoxy")
    assert _at(findings, 46) == [] and _at(findings, 47) == []  # auth_url, password


def test_the_same_file_against_a_release_where_the_name_still_worked() -> None:
    # Queens: [DEFAULT] bind_host had just been renamed (Pike); api_v2_enabled existed.
    findings = _check("queens")
    (bind,) = _at(findings, 4)
    assert (bind.code, bind.severity) == ("renamed", "error")
    assert "renamed in Pike" in bind.message
    assert _at(findings, 13) == []
    partial = [f for f in findings if f.code == "partial-data"]
    assert len(partial) == 1 and partial[0].line == 0
    assert "partial check for Queens" in partial[0].message
    assert "unknown option names (typos) and removals no release note lists are NOT" \
        in partial[0].message
    assert not [f for f in findings if f.code == "unknown-option"]


def test_secret_values_never_appear_in_findings() -> None:
    for target in ("stein", "caracal", "epoxy", "flamingo", "hibiscus"):
        for f in _check(target):
            for secret in SECRETS:
                assert secret not in str(f) and secret not in (f.replacement or "")


def test_changed_defaults_of_unset_options_are_info() -> None:
    findings = _check("flamingo")
    changed = {(f.group, f.option): f for f in findings if f.code == "default-changed"}
    ciphers = changed[("api_settings", "default_listener_ciphers")]
    assert ciphers.severity == "info" and ciphers.line == 0 and ciphers.path == MAIN
    assert "DHE-RSA-AES256-SHA256" in ciphers.message  # the old default, from 16.x data
    # A secret option's default is never shown, even the upstream one.
    passphrase = [f for f in findings if f.option == "server_certs_key_passphrase"]
    assert all("insecure" not in f.message for f in passphrase)


def test_set_options_do_not_get_default_notes() -> None:
    text = CONF + "[api_settings]\ndefault_listener_ciphers = ECDHE-RSA-AES128-GCM-SHA256\n"
    findings = _check("flamingo", text)
    assert not [f for f in findings if f.option == "default_listener_ciphers"]


# --------------------------------------------------------------------------- several files


def test_config_dir_fragments_override_and_are_checked_with_their_own_lines() -> None:
    fragment = "# site overrides\n[api_settings]\nbind_host = 127.0.0.12\n\n" \
               "[health_manager]\nhealth_update_driver = health_db\n"
    files = [ConfigFile("ctl1", MAIN, CONF),
             ConfigFile("ctl1", "/etc/octavia/conf.d/10-site.conf", fragment)]
    findings = check_config(files, "epoxy")
    over = [f for f in findings if f.code == "overridden"]
    assert [(f.path, f.line, f.option) for f in over] == [(MAIN, 9, "bind_host")]
    assert "/etc/octavia/conf.d/10-site.conf:3" in over[0].message
    frag = [f for f in findings if f.path.endswith("10-site.conf")]
    assert [(f.line, f.code) for f in frag] == [(6, "removed")]
    assert str(frag[0]).startswith("ctl1:/etc/octavia/conf.d/10-site.conf:6: error: ")


def test_multi_line_values_keep_the_line_of_their_key() -> None:
    text = "[DEFAULT]\ndebug = true\n[api_settings]\nbind_hots = 1\n  continued\n" \
           "api_v1_enabled = false\n"
    findings = _check("epoxy", text)
    assert [(f.line, f.code) for f in findings if f.line] == [(4, "unknown-option"),
                                                              (6, "removed")]


@pytest.mark.parametrize("text, line", [
    ("[DEFAULT]\ndebug = true\n[api_settings\nbind_port = 1\n", 3),
    ("debug = true\n[DEFAULT]\n", 1),
    ("[DEFAULT]\n  indented continuation without key\n", 2),
    ("[DEFAULT]\nno equals sign here\n", 2),
])
def test_parse_errors_point_at_the_line(text: str, line: int) -> None:
    findings = _check("epoxy", text)
    errors = [f for f in findings if f.code == "parse-error"]
    assert len(errors) == 1 and errors[0].line == line and errors[0].severity == "error"


def test_group_names_follow_oslo_config_normalisation() -> None:
    settings, errors = parse_config(ConfigFile("h", "/p", "[API_Settings]\nbind_port = 1\n"
                                               "[DEFAULT]\ndebug = 1\n"))
    assert errors == []
    assert [(s.group, s.option, s.line) for s in settings] == [
        ("api_settings", "bind_port", 2), ("DEFAULT", "debug", 4)]


def test_finding_format() -> None:
    f = Finding("ctl1", MAIN, 7, "g", "o", "warning", "deprecated", "msg")
    assert str(f) == "ctl1:/etc/octavia/octavia.conf:7: warning: msg"


def test_version_ids_and_explicit_source() -> None:
    assert _check("2025.1") == _check("epoxy")
    # From 2024.1 straight to 2025.1 data: the changed-defaults baseline is Caracal.
    assert _check("epoxy", source="caracal") is not None


# --------------------------------------------------------------------------- the data itself


@pytest.mark.parametrize("series, major", [("bobcat", 13), ("caracal", 14), ("dalmatian", 15),
                                           ("epoxy", 16), ("flamingo", 17), ("gazpacho", 18),
                                           ("hibiscus", 19)])
def test_installable_releases_have_generated_data(series: str, major: int) -> None:
    raw = json.loads(data_path(f"options/{series}.json").read_text(encoding="utf-8"))
    assert raw["complete"] is True
    assert f"octavia {major}." in raw["source"]
    data = load_option_data(series)
    assert len(data.groups) > 25 and sum(len(g) for g in data.groups.values()) > 450
    assert data.option("api_settings", "bind_host")["type"] == "IP address value"
    assert data.option("health_manager", "heartbeat_key")["secret"] is True
    assert data.option("health_manager", "heartbeat_key")["default"] is None


#: Releases generated under their own openstack/requirements upper-constraints
#: (tools/gen_option_data.py CONSTRAINED), with their Octavia major version.
CONSTRAINED = [("antelope", 12), ("zed", 11), ("yoga", 10), ("xena", 9), ("wallaby", 8)]
#: Releases with change data only (their Octavia was not generated here).
PARTIAL = ("pike", "queens", "rocky", "stein", "train", "ussuri", "victoria")


@pytest.mark.parametrize("series, major", CONSTRAINED)
def test_older_releases_are_generated_under_their_upper_constraints(series: str,
                                                                     major: int) -> None:
    raw = json.loads(data_path(f"options/{series}.json").read_text(encoding="utf-8"))
    assert raw["complete"] is True and raw["libraries"] == "upper-constraints"
    assert f"octavia {major}." in raw["source"] and "upper-constraints" in raw["source"]
    data = load_option_data(series)
    assert len(data.groups) > 25 and sum(len(g) for g in data.groups.values()) > 400
    assert data.option("health_manager", "heartbeat_key")["secret"] is True
    assert data.option("health_manager", "heartbeat_key")["default"] is None


def test_old_releases_have_change_data_only() -> None:
    for series in PARTIAL:
        data = load_option_data(series)
        assert data.complete is False and data.groups == {}
    pike = load_option_data("pike")
    assert any(c["option"] == "bind_host" and c["change"] == "renamed" for c in pike.changes)


def test_generated_older_releases_report_typos() -> None:
    for series, _major in CONSTRAINED:
        findings = _check(series)
        (typo,) = _at(findings, 14)
        assert (typo.code, typo.option) == ("unknown-option", "allow_paginatoin")
        assert "did you mean [api_settings] allow_pagination?" in typo.message
        # Typos are found; what is still partial names the previous release's data.
        for f in findings:
            if f.code == "partial-data":
                assert "typos" not in f.message and "option data is partial" in f.message


def test_library_basis_differences_are_not_called_removals() -> None:
    # Antelope's data holds the libraries of its upper-constraints, Bobcat's those of
    # today: an option only the older oslo.messaging had is not "removed in Bobcat".
    text = "[oslo_messaging_rabbit]\nheartbeat_in_pthread = false\n"
    assert load_option_data("antelope").option("oslo_messaging_rabbit", "heartbeat_in_pthread")
    found = [f for f in _check("bobcat", text) if f.line == 2]
    assert [f.code for f in found] != ["removed"]
    assert not [f for f in _check("bobcat", text) if f.code == "default-changed"
                and f.group.startswith("oslo_messaging")]
    (partial,) = [f for f in _check("bobcat", text) if f.code == "partial-data"]
    assert "the Antelope option data is made with other library versions" in partial.message


def test_unknown_release_data_is_a_clear_error() -> None:
    with pytest.raises(LookupError, match="no option data"):
        load_option_data("indri")


def test_options_registered_at_run_time_are_known() -> None:
    # Octavia 13+ registers keystoneauth session/adapter/auth options for
    # [neutron] at import time; oslo-config-generator does not list them.
    text = ("[neutron]\nvalid_interfaces = internal\nregion_name = RegionOne\n"
            "endpoint_override = http://192.0.2.9:9696\nauth_type = password\n"
            "endpoint = http://192.0.2.9:9696\n")
    findings = _check("epoxy", text)
    assert [(f.line, f.code, f.severity) for f in findings if f.line] == [
        (6, "deprecated", "warning")]
    assert "endpoint_override" in _at(findings, 6)[0].message


# --------------------------------------------------------------------------- value rules

PROVIDERS = """\
[api_settings]
enabled_provider_drivers = amphora:The Octavia Amphora driver.,amphorav1:Amphora v1 (Desc-Secretish)
default_provider_driver = amphorav1
"""


def test_the_option_itself_is_never_flagged_for_a_provider_value() -> None:
    ok = "[api_settings]\nenabled_provider_drivers = amphora:Amphora.,octavia_x:Other.\n"
    for target in ("zed", "antelope", "bobcat", "epoxy"):
        found = [f for f in _check(target, ok) if f.option == "enabled_provider_drivers"]
        assert found == [], target


def test_amphorav1_is_deprecated_in_zed_by_value() -> None:
    found = {(f.line, f.code, f.severity) for f in _check("zed", PROVIDERS) if f.line}
    assert found == {(2, "deprecated-value", "warning"), (3, "deprecated-value", "warning")}
    msg = _at(_check("zed", PROVIDERS), 2)[0].message
    assert "[api_settings] enabled_provider_drivers names 'amphorav1', deprecated since Zed" in msg
    assert "Desc-Secretish" not in msg  # the rest of the value is never shown


@pytest.mark.parametrize("target", ["bobcat", "caracal", "epoxy", "hibiscus"])
def test_amphorav1_is_an_error_from_bobcat_on(target: str) -> None:
    found = [f for f in _check(target, PROVIDERS) if f.line]
    assert {(f.line, f.code, f.severity) for f in found} == {
        (2, "removed-value", "error"), (3, "removed-value", "error")}
    assert all("removed in Bobcat" in f.message and f.replacement for f in found)


def test_before_zed_amphorav1_is_fine_and_the_octavia_alias_is_deprecated() -> None:
    assert [f for f in _check("yoga", PROVIDERS) if f.line] == []
    text = ("[api_settings]\nenabled_provider_drivers = octavia:Alias.\n"
            "default_provider_driver = octavia\n")
    found = [f for f in _check("dalmatian", text) if f.line]
    assert {(f.line, f.code) for f in found} == {(2, "deprecated-value"), (3, "deprecated-value")}
    assert "deprecated since Rocky" in found[0].message


def test_value_items_are_kept_only_for_options_with_value_rules() -> None:
    settings, _ = parse_config(ConfigFile("h", "/p", CONF),
                               keep_items={("api_settings", "enabled_provider_drivers")})
    kept = {(s.group, s.option): s.items for s in settings if s.items}
    assert kept == {("api_settings", "enabled_provider_drivers"): {"amphora", "noop_driver"}}

"""How a plan says each host is reached: its entries, their wording, and resume's comparison."""

from __future__ import annotations

import copy

from octavia_upgrade import hostaccess
from octavia_upgrade.model import Become, Hop, Host
from octavia_upgrade.plandiff import differences

OPS = Host("ctl1", "192.0.2.11", port=2222, user="ops", roles=("api",),
           become=Become(password="Sudo-pw-0b7e3f"),
           proxy_jump=(Hop("203.0.113.5", 22, "jump", name="bastion"),
                       Hop("198.51.100.7", 2200, "hop", key_file="/k")))


def test_an_entry_holds_login_sudo_and_bastions_but_never_the_password() -> None:
    entry = hostaccess.host_entry(OPS)
    assert entry == {
        "name": "ctl1", "address": "192.0.2.11", "port": 2222, "roles": ["api"], "user": "ops",
        "become": {"method": "sudo", "user": "root", "password_given": True},
        "proxy_jump": [{"name": "bastion", "address": "203.0.113.5", "port": 22, "user": "jump"},
                       {"name": "198.51.100.7", "address": "198.51.100.7", "port": 2200,
                        "user": "hop"}]}
    assert "Sudo-pw-0b7e3f" not in repr(entry)


def test_the_words_say_login_privileges_and_route() -> None:
    entry = hostaccess.host_entry(OPS)
    assert hostaccess.describe(entry) == (
        "ops@192.0.2.11:2222, sudo to root with a password, "
        "via bastion (jump@203.0.113.5:22), then hop@198.51.100.7:2200")
    plain = hostaccess.host_entry(Host("ctl2", "192.0.2.12"))
    assert hostaccess.describe(plain) == (
        "root@192.0.2.12:22, no sudo: commands run as root, direct (no bastion)")
    nopw = hostaccess.host_entry(Host("ctl3", "ctl3.example.org", user="ops",
                                      become=Become(user="octavia")))
    assert hostaccess.privileges(nopw) == "sudo to octavia without a password (sudo -n)"


def test_an_entry_of_an_older_plan_says_it_was_not_recorded() -> None:
    old = {"name": "ctl1", "address": "192.0.2.11", "port": 22, "roles": ["api"]}
    assert hostaccess.describe(old) == (
        "192.0.2.11:22 (login user, sudo and bastions not recorded)")
    assert hostaccess.privileges(old) == hostaccess.route(old) == "not recorded"


def test_resume_compares_login_and_sudo_but_not_the_road_to_the_host() -> None:
    recorded = {"schema_version": 3, "hosts": [hostaccess.host_entry(OPS)], "steps": []}
    # Another shift resumes from another machine: other bastions, same hosts and sudo.
    other_road = copy.deepcopy(recorded)
    other_road["hosts"][0]["proxy_jump"] = []
    assert differences(recorded, other_road) == ""
    for field, value in (("user", "root"), ("become", None), ("port", 22)):
        changed = copy.deepcopy(recorded)
        changed["hosts"][0][field] = value
        diff = differences(recorded, changed)
        assert diff.startswith("--- recorded: hosts") and f"-  {field}:" in diff, diff

"""Which packages the lab installs per release (``lab.wheelhouse``): pure parts."""

from __future__ import annotations

import pytest

from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.lab import wheelhouse


def test_requirements_follow_the_catalog():
    assert wheelhouse.requirements(wheelhouse.supported_release("dalmatian")) == (
        "octavia==15.*", "octavia-lib>=3.6.0,<=3.6.0", "oslo.utils<9")
    assert wheelhouse.requirements(wheelhouse.supported_release("2025.1")) == (
        "octavia==16.*", "octavia-lib>=3.7.0,<=3.8.0")


def test_old_releases_get_the_pins_their_migrations_need():
    reqs = wheelhouse.requirements(wheelhouse.supported_release("bobcat"))
    assert {"SQLAlchemy<2", "oslo.db==15.0.0", "alembic<1.14"} <= set(reqs)


@pytest.mark.parametrize("name", ["pike", "antelope", "zed"])
def test_releases_that_do_not_install_here_are_refused(name):
    with pytest.raises(InvalidInput, match="bobcat … hibiscus"):
        wheelhouse.supported_release(name)


def test_unknown_release_is_invalid_input():
    with pytest.raises(InvalidInput, match="unknown release 'nope'"):
        wheelhouse.supported_release("nope")


def test_cache_location(monkeypatch, tmp_path):
    monkeypatch.setenv("OCTAVIA_UPGRADE_CACHE", str(tmp_path))
    wh = wheelhouse.wheelhouse_for("epoxy")
    assert wh.path == tmp_path / "wheelhouse" / "epoxy"
    assert not wh.ready
    assert f"--find-links {wh.path}" in wh.pip_args()
    monkeypatch.delenv("OCTAVIA_UPGRADE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert wheelhouse.cache_root() == tmp_path / "xdg" / "octavia-upgrade"

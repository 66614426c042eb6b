"""flavors: loading, checks and rendering of actions."""

from __future__ import annotations

from pathlib import Path

import pytest

from octavia_upgrade import flavors, model
from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.errors import InvalidInput
from octavia_upgrade.resources import flavors_dir

GOOD = Path(__file__).parent / "corpus" / "good" / "flavors" / "testflavor.yaml"


@pytest.fixture(scope="module")
def flavor() -> model.Flavor:
    return flavors.load_flavor(GOOD)


def test_load_by_path(flavor: model.Flavor) -> None:
    assert flavor.name == "testflavor" and flavor.path == str(GOOD)
    assert set(flavor.services) == set(model.SERVICES)
    assert set(flavor.actions) == set(flavors.ACTIONS)
    assert flavor.vars["config_file"] == "/etc/octavia/octavia.conf"


def test_bare_name_resolves_to_the_shipped_folder() -> None:
    assert flavors.flavor_path("deb") == flavors_dir() / "deb.yaml"
    assert flavors.flavor_path("x/deb.yaml") == Path("x/deb.yaml")
    with pytest.raises(InvalidInput, match="unknown flavor 'no-such-flavor'"):
        flavors.load_flavor("no-such-flavor")


@pytest.mark.parametrize("path", sorted(flavors_dir().glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_flavors_are_valid(path: Path) -> None:
    assert [d for d in flavors.check_flavor(path) if d.severity == "error"] == []
    assert flavors.load_flavor(path.stem).name == path.stem


def test_render_service_action_quotes_and_maps_the_unit(flavor: model.Flavor) -> None:
    assert flavors.render_action(flavor, "service_stop", {"service": "api"}) == \
        "systemctl stop octavia-api"
    assert flavors.render_action(flavor, "service_stop", {"unit": "a b; rm -rf /"}) == \
        "systemctl stop 'a b; rm -rf /'"


def test_render_packages_db_manage_and_backup(flavor: model.Flavor) -> None:
    target = load_catalog().get("rocky").as_dict()
    assert flavors.render_action(flavor, "packages_upgrade",
                                 {"target": target, "packages": ["octavia", "octavia-lib"]}) == (
        "/opt/octavia/bin/pip install --no-index --find-links /srv/wheels/rocky "
        "octavia octavia-lib")
    assert flavors.render_action(flavor, "db_manage", {"args": "upgrade head"}).endswith(
        "--config-file /etc/octavia/octavia.conf upgrade head")
    assert flavors.render_action(flavor, "db_backup", {"database": "octavia",
                                                       "dest": "/b/x y.sql.gz"}) == \
        "mysqldump --single-transaction octavia | gzip > '/b/x y.sql.gz'"


def test_context_vars_override_flavor_vars(flavor: model.Flavor) -> None:
    out = flavors.render_action(flavor, "read_config", {"vars": {"config_file": "/x.conf"}})
    assert out == "cat /x.conf"


def test_unknown_action_is_invalid_input(flavor: model.Flavor) -> None:
    with pytest.raises(InvalidInput, match="no action 'service_reload'"):
        flavors.render_action(flavor, "service_reload", {})


def test_missing_action_and_bad_jinja_are_reported(tmp_path: Path) -> None:
    text = GOOD.read_text().replace("name: testflavor", "name: broken")
    text = text.replace("  read_config: cat {{ vars.config_file }}\n", "")
    text = text.replace("systemctl stop {{ unit }}", "systemctl stop {{ unit")
    path = tmp_path / "broken.yaml"
    path.write_text(text)
    found = [(d.rule, d.line) for d in flavors.check_flavor(path)]
    assert ("missing-action", 17) in found and ("jinja-syntax", 17) in found
    with pytest.raises(InvalidInput):
        flavors.load_flavor(path)

"""The release catalog tells the truth: refs upstream has, statuses, point releases, facts."""

from __future__ import annotations

import re

import pytest

from octavia_upgrade import flavors
from octavia_upgrade.catalog import Release, load_catalog

CAT = load_catalog()
OCTAVIA = CAT.refs_of("openstack/octavia")
REQUIREMENTS = CAT.refs_of("openstack/requirements")


@pytest.mark.parametrize("rel", CAT.releases, ids=lambda r: r.series)
def test_every_ref_is_one_upstream_was_seen_to_have(rel: Release) -> None:
    for refs, ref in ((OCTAVIA, rel.git_ref), (REQUIREMENTS, rel.requirements_ref)):
        assert refs.has(ref), f"{rel.series}: {refs.repo} has no {ref!r} ({refs.checked})"
        assert ref not in refs.absent, f"{rel.series}: {refs.repo} was seen without {ref!r}"
        assert rel.sources.get("git_ref" if refs is OCTAVIA else "requirements_ref")


@pytest.mark.parametrize("rel", CAT.releases, ids=lambda r: r.series)
def test_the_ref_matches_the_release_status(rel: Release) -> None:
    name = rel.version_id or rel.series
    expected = {"end of life": f"{name}-eol", "unmaintained": f"unmaintained/{name}",
                "maintained": f"stable/{name}", "development": "master"}[rel.status]
    assert rel.git_ref == expected


def test_yoga_and_zed_are_end_of_life_with_eol_tags_and_no_unmaintained_branch() -> None:
    for series in ("yoga", "zed"):
        rel = CAT.get(series)
        assert rel.status == "end of life"
        assert rel.git_ref == f"{series}-eol" and f"{series}-eol" in OCTAVIA.tags
        assert f"unmaintained/{series}" in OCTAVIA.absent
        # openstack/requirements has no -eol tag for them: its branch stays.
        assert rel.requirements_ref == f"unmaintained/{series}"
        assert f"{series}-eol" in REQUIREMENTS.absent


def test_only_refs_published_after_the_snapshot_are_expected() -> None:
    expected = {r.git_ref for r in CAT.releases if r.git_ref in OCTAVIA.expected}
    assert expected == {"stable/2026.2"}
    assert all(reason.strip() for reason in OCTAVIA.expected.values())


def test_hibiscus_is_released_and_no_release_is_in_development() -> None:
    hib = CAT.get("hibiscus")
    assert hib.status == "maintained" and not hib.unverified
    assert hib.octavia_final == "19.0.0" and hib.released == "2026-09-30"
    assert [r.series for r in CAT.releases if r.status == "development"] == []


@pytest.mark.parametrize(("series", "version"), [("epoxy", "16.1.0"), ("flamingo", "17.0.1"),
                                                 ("gazpacho", "18.0.1")])
def test_point_releases_the_option_data_was_generated_from_are_listed(series: str,
                                                                       version: str) -> None:
    from octavia_upgrade.configcheck import load_option_data

    rel = CAT.get(series)
    assert rel.octavia_final == version
    assert f"octavia {version}," in load_option_data(series).source


def test_generated_option_data_names_a_listed_version() -> None:
    from octavia_upgrade.configcheck import load_option_data

    for rel in CAT.releases:
        found = re.search(r"octavia (\d+\.\d+\.\d+),", load_option_data(rel.series).source)
        if found:
            assert found.group(1) in rel.octavia_versions, rel.series


def test_kolla_driver_agent_from_victoria_on() -> None:
    names = CAT.names()
    assert CAT.kolla_driver_agent_releases() == names[names.index("victoria"):]
    assert "11.1.0" in CAT.get("victoria").sources["kolla_driver_agent"]
    assert CAT.get("ussuri").as_dict()["kolla_driver_agent"] is False


@pytest.mark.parametrize(("series", "octavia_ref", "requirements_ref"), [
    ("yoga", "yoga-eol", "unmaintained/yoga"),
    ("zed", "zed-eol", "unmaintained/zed"),
    ("antelope", "unmaintained/2023.1", "unmaintained/2023.1"),
    ("bobcat", "2023.2-eol", "2023.2-eol"),
    ("hibiscus", "stable/2026.2", "stable/2026.2"),
])
def test_devstack_checks_out_the_catalog_refs(series: str, octavia_ref: str,
                                              requirements_ref: str) -> None:
    flavor = flavors.load_flavor("devstack")
    text = flavors.render_action(flavor, "packages_upgrade", {
        "target": CAT.get(series).as_dict(), "packages": ["octavia", "octavia-lib"]})
    assert f"/opt/stack/octavia checkout -f {octavia_ref} " in text
    assert f"/opt/stack/requirements checkout -f {requirements_ref} " in text


def test_runbook_sources_can_condition_on_the_kolla_driver_agent() -> None:
    from octavia_upgrade.authoring.conditions import holds

    ussuri, victoria = CAT.get("ussuri"), CAT.get("victoria")
    assert holds(("to.kolla_driver_agent",), ussuri, victoria, CAT)
    assert holds(("not from.kolla_driver_agent",), ussuri, victoria, CAT)

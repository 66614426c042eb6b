"""Chain planning over the shipped runbooks, release catalog and amphora facts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.chain import SEQUENTIAL_ONLY, amphora_facts, plan_chain, skip_level_message
from octavia_upgrade.errors import InvalidInput, Refused

ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS = ROOT / "runbooks"


def test_pike_to_hibiscus_is_eighteen_sequential_hops() -> None:
    hops = plan_chain("pike", "hibiscus", RUNBOOKS)
    assert [h.name for h in hops][:3] == ["pike-to-queens", "queens-to-rocky", "rocky-to-stein"]
    assert len(hops) == 18
    for a, b in zip(hops, hops[1:]):
        assert a.dst == b.src
    assert all(h.runbook == RUNBOOKS / f"{h.name}.yaml" for h in hops)
    # Every migration of the alembic chain from the Pike head to the newest, once.
    total = sum(h.migration_count for h in hops)
    assert total == 95 - 44  # alembic_revision_count: hibiscus 95, pike 44


@pytest.mark.parametrize("src, dst, migrations", [
    ("dalmatian", "epoxy", ("3097e55493ae", "8db7a6443785", "fabf4983846b")),
    ("bobcat", "caracal", ("db2a73e82626",)),
    ("wallaby", "xena", ()),
    ("epoxy", "flamingo", ()),
])
def test_migrations_per_hop(src: str, dst: str, migrations: tuple[str, ...]) -> None:
    (hop,) = plan_chain(src, dst, RUNBOOKS)
    assert hop.migrations == migrations


def test_data_plane_impact_comes_from_the_runbooks_approvals() -> None:
    hops = {h.name: h for h in plan_chain("yoga", "gazpacho", RUNBOOKS)}
    # Every hop offers the optional recycle-amphorae stage (off unless asked for).
    antelope = hops["zed-to-antelope"].data_plane
    assert [s.step_id for s in antelope] == ["failover-pre-train-amphorae", "recycle-amphorae"]
    assert "minutes" in antelope[0].impact
    assert [s.step_id for s in hops["epoxy-to-flamingo"].data_plane] == [
        "recycle-amphorae", "failover-udp-and-default-cipher-lbs"]
    assert [s.step_id for s in hops["dalmatian-to-epoxy"].data_plane] == ["recycle-amphorae"]


def test_amphora_image_facts_per_hop() -> None:
    hops = {h.name: h for h in plan_chain("pike", "hibiscus", RUNBOOKS)}
    queens = hops["pike-to-queens"].amphora
    assert (queens.image, queens.failover, queens.ordering) == (
        "required", True, "images-before-controllers")
    assert hops["queens-to-rocky"].amphora.ordering == "controllers-before-images"
    assert hops["zed-to-antelope"].amphora.failover and hops["zed-to-antelope"].amphora.inferred
    assert hops["flamingo-to-gazpacho"].amphora.image == "none"
    d = hops["epoxy-to-flamingo"].as_dict()
    assert d["amphora_failover"] is True and d["migrations"] == 0
    assert "Updated-default-TLS-cipher-suites-7359fe87fc246618.yaml" in d["release_notes"]


def test_facts_cover_every_release_a_hop_can_reach() -> None:
    facts = amphora_facts()
    names = load_catalog().names()
    for series in names[1: names.index("hibiscus") + 1]:
        assert series in facts
        assert facts[series].image in ("required", "recommended", "none")


def test_slurp_and_unverified_targets_are_marked() -> None:
    hops = {h.name: h for h in plan_chain("gazpacho", "hibiscus", RUNBOOKS)}
    # Hibiscus's facts come from its 19.0.0 release (PyPI sdist): nothing unverified left.
    assert hops["gazpacho-to-hibiscus"].notes == ()
    assert [h.dst_slurp for h in plan_chain("dalmatian", "epoxy", RUNBOOKS)] == [True]


def test_same_release_is_an_empty_chain_and_version_ids_work() -> None:
    assert plan_chain("epoxy", "epoxy", RUNBOOKS) == []
    assert [h.name for h in plan_chain("2024.2", "2025.1", RUNBOOKS)] == ["dalmatian-to-epoxy"]


def test_downgrades_are_refused_and_unknown_releases_are_invalid_input() -> None:
    with pytest.raises(Refused, match="downgrade"):
        plan_chain("epoxy", "dalmatian", RUNBOOKS)
    with pytest.raises(InvalidInput, match="unknown release 'mitaka'") as caught:
        plan_chain("mitaka", "epoxy", RUNBOOKS)
    assert caught.value.exit_code == 2
    assert isinstance(caught.value, KeyError)  # Catalog.get is a lookup, as before


def test_a_hop_without_runbook_is_refused(tmp_path: Path) -> None:
    for name in ("caracal-to-dalmatian", "epoxy-to-flamingo"):
        shutil.copy(RUNBOOKS / f"{name}.yaml", tmp_path)
    with pytest.raises(Refused) as exc:
        plan_chain("caracal", "flamingo", tmp_path)
    assert "no runbook for dalmatian-to-epoxy" in str(exc.value)
    assert "sequential upgrades only" in str(exc.value)
    assert exc.value.exit_code == 3


def test_a_broken_runbook_is_reported_with_its_position(tmp_path: Path) -> None:
    text = (RUNBOOKS / "dalmatian-to-epoxy.yaml").read_text(encoding="utf-8")
    (tmp_path / "dalmatian-to-epoxy.yaml").write_text(
        text.replace("kind: upgrade_check", "kind: upgrade_chek", 1), encoding="utf-8")
    with pytest.raises(InvalidInput) as exc:
        plan_chain("dalmatian", "epoxy", tmp_path)
    assert "dalmatian-to-epoxy.yaml:" in str(exc.value)


def test_skip_level_message_names_the_chain() -> None:
    msg = skip_level_message("caracal", "epoxy")
    assert "SLURP" in msg and SEQUENTIAL_ONLY in msg
    assert msg.endswith("Use the chain: caracal-to-dalmatian, dalmatian-to-epoxy")
    assert "(both are SLURP releases)" not in skip_level_message("pike", "rocky")


def test_render_chain_formats() -> None:
    import json

    from octavia_upgrade.chain import render_chain

    hops = plan_chain("zed", "bobcat", RUNBOOKS)
    table = render_chain(hops, "table")
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["#", "runbook", "migrations"]
    assert lines[1].split()[:3] == ["1", "zed-to-antelope", "0"]
    assert "failover-pre-train-amphorae:" in lines[1]
    assert lines[2].split()[:3] == ["2", "antelope-to-bobcat", "1"]
    assert "2 sequential hops, 1 database migration" in table
    md = render_chain(hops, "markdown")
    assert md.splitlines()[2].startswith("| 1 | zed-to-antelope | 0 | none, failover |")
    doc = json.loads(render_chain(hops, "json"))
    assert [h["hop"] for h in doc["hops"]] == ["zed-to-antelope", "antelope-to-bobcat"]
    assert "sequential upgrades only" in doc["sequential_only"]
    assert render_chain([], "table").startswith("nothing to do")


def test_plan_cli_prints_the_chain() -> None:
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "octavia_upgrade", "plan", "--from", "bobcat",
                          "--to", "hibiscus", "-f", "json"], capture_output=True, text=True,
                         timeout=120)
    assert res.returncode == 0, res.stderr
    import json

    hops = json.loads(res.stdout)["hops"]
    assert [h["hop"] for h in hops] == ["bobcat-to-caracal", "caracal-to-dalmatian",
                                        "dalmatian-to-epoxy", "epoxy-to-flamingo",
                                        "flamingo-to-gazpacho", "gazpacho-to-hibiscus"]
    assert [h["migrations"] for h in hops] == [1, 0, 3, 0, 0, 0]
    res = subprocess.run([sys.executable, "-m", "octavia_upgrade", "plan", "--from", "epoxy",
                          "--to", "caracal"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 3 and "downgrade" in res.stderr and "Traceback" not in res.stderr

"""The shipped runbooks: complete, lint clean, and faithful to the upgrade guide.

The structural tests read each runbook as loaded by the engine and check the
cold-upgrade order of the upstream guide, plus what the release notes of each
pair require. Rendering tests build a real plan of every runbook for the
deb, rdo, devstack and kolla flavors and check the commands against the
service and package names those deployment tools use.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest
import yaml

from octavia_upgrade.commands import RUN_ID_TOKEN

from octavia_upgrade.catalog import load_catalog, migrations_between
from octavia_upgrade.chain import amphora_facts
from octavia_upgrade.loader import load_runbook
from octavia_upgrade.model import Runbook, Step

ROOT = Path(__file__).resolve().parent.parent
RUNBOOKS = ROOT / "runbooks"
CAT = load_catalog()
SERIES = CAT.names()[: CAT.names().index("hibiscus") + 1]
PAIRS = [f"{a}-to-{b}" for a, b in zip(SERIES, SERIES[1:])]


def _load(name: str) -> Runbook:
    return load_runbook(RUNBOOKS / f"{name}.yaml")


@pytest.fixture(scope="module", params=PAIRS)
def runbook(request: pytest.FixtureRequest) -> Runbook:
    return _load(request.param)


def _ids(rb: Runbook) -> list[str]:
    return [s.id for s in rb.steps]


def _index(rb: Runbook, step_id: str) -> int:
    ids = _ids(rb)
    assert step_id in ids, f"{rb.metadata.name}: no step {step_id!r}"
    return ids.index(step_id)


def _rel(series: str):
    return CAT.get(series)


# --------------------------------------------------------------------------- the set


def test_exactly_the_sequential_pairs_pike_to_hibiscus() -> None:
    files = sorted(p.stem for p in RUNBOOKS.glob("*.yaml"))
    assert files == sorted(PAIRS)
    assert len(files) == 18
    assert PAIRS[0] == "pike-to-queens" and PAIRS[-1] == "gazpacho-to-hibiscus"


def test_metadata_names_adjacent_releases(runbook: Runbook) -> None:
    md = runbook.metadata
    assert md.name == Path(runbook.path).stem == f"{md.from_}-to-{md.to}"
    assert CAT.is_adjacent(md.from_, md.to)
    assert md.revision >= 1


@pytest.mark.skipif(importlib.util.find_spec("octavia_upgrade.lint") is None,
                    reason="octavia_upgrade.lint is not available")
def test_every_runbook_lints_clean() -> None:
    from octavia_upgrade.lint import lint_paths

    result = lint_paths([RUNBOOKS])
    assert [str(d) for d in result.diagnostics] == []  # warnings included
    assert result.ok


def test_references_cite_the_guide_and_target_release_notes(runbook: Runbook) -> None:
    refs = runbook.metadata.references
    to = _rel(runbook.metadata.to)
    assert "https://docs.openstack.org/octavia/latest/admin/guides/upgrade.html" in refs
    expected = to.version_id or to.series
    assert f"https://docs.openstack.org/releasenotes/octavia/{expected}.html" in refs
    notes = [r for r in refs if "/releasenotes/notes/" in r]
    assert notes, "no release note file cited"
    assert all(r.endswith(".yaml") for r in notes)


# --------------------------------------------------------------------------- the guide's order


def _image_step(rb: Runbook) -> int:
    return _index(rb, "amphora-image-upload")


def test_mandatory_stages_in_the_guides_order(runbook: Runbook) -> None:
    frm = _rel(runbook.metadata.from_)
    order = []
    if frm.octavia_status:
        order.append("upgrade-check")
    else:
        order.append("preflight-config-check")
    # the prepare phase: staged, verified and checked while the old release serves
    order += ["stage-packages", "verify-staged-packages", "config-check",
              "approve-control-plane-outage"]
    order += ["stop-housekeeping", "stop-health-manager", "stop-api", "stop-worker"]
    if frm.driver_agent:
        order.append("stop-driver-agent")
    # inside the window: activate (prepared) or install (guide's order, when false)
    order += ["db-backup", "activate-packages", "upgrade-packages", "db-upgrade",
              "start-services", "wait-api"]
    positions = [_index(runbook, i) for i in order]
    assert positions == sorted(positions), list(zip(order, positions))
    assert runbook.step("record-packages") is runbook.steps[0]  # before anything
    assert runbook.step("stage-packages").when == "params.stage_before_outage"
    assert runbook.step("upgrade-packages").when == "not params.stage_before_outage"
    image = _image_step(runbook)
    if runbook.metadata.name == "pike-to-queens":
        # Queens: amphorae must run the new image BEFORE the controllers are upgraded.
        assert image < _index(runbook, "stop-housekeeping")
        assert image < _index(runbook, "failover-ping-hm-amphorae") < _index(runbook, "stop-housekeeping")
    else:
        assert image > _index(runbook, "start-services")
        assert image > _index(runbook, "wait-api")


def test_queens_to_rocky_upgrades_health_managers_before_the_image() -> None:
    rb = _load("queens-to-rocky")
    start = rb.step("start-services")
    assert "health-manager" in start.args.services
    assert _index(rb, "start-services") < _index(rb, "amphora-image-upload")


def test_services_are_stopped_one_kind_at_a_time_on_their_hosts(runbook: Runbook) -> None:
    for svc in ("housekeeping", "health-manager", "api", "worker"):
        s = runbook.step(f"stop-{svc}")
        assert s.kind == "service"
        assert s.args.action == "stop" and list(s.args.services) == [svc]
        # No targets: the service decides the hosts (every host with that role).
        assert not s.targets.roles and not s.targets.hosts
        assert s.idempotent and s.retry.attempts >= 2 and s.timeout


def test_driver_agent_only_from_stein_on(runbook: Runbook) -> None:
    frm, to = _rel(runbook.metadata.from_), _rel(runbook.metadata.to)
    assert ("stop-driver-agent" in _ids(runbook)) == frm.driver_agent
    started = runbook.step("start-services").args.services
    assert ("driver-agent" in started) == to.driver_agent
    assert started[-1] == "housekeeping"
    assert started.index("worker") < started.index("api")


def test_backup_is_a_parameter_on_by_default(runbook: Runbook) -> None:
    p = runbook.parameters["backup"]
    assert p.type == "boolean" and p.default is True
    s = runbook.step("db-backup")
    assert s.kind == "backup" and s.when and "params.backup" in s.when
    assert s.args.database == "octavia"


def test_packages_include_octavia_lib_from_stein(runbook: Runbook) -> None:
    to = _rel(runbook.metadata.to)
    s = runbook.step("upgrade-packages")
    assert s.kind == "packages" and s.args.release == to.series
    expected = ["octavia", "octavia-lib"] if to.octavia_lib_versions else ["octavia"]
    assert list(s.args.packages) == expected
    assert not s.targets.roles and not s.targets.hosts  # every control-plane node


def test_config_check_targets_the_new_release_and_stops_on_errors(runbook: Runbook) -> None:
    s = runbook.step("config-check")
    assert s.kind == "config_check"
    assert s.args.release == runbook.metadata.to
    assert s.args.fail_on == "error"


def test_db_upgrade_runs_once_and_rolls_back(runbook: Runbook) -> None:
    s = runbook.step("db-upgrade")
    assert s.kind == "db_migrate" and (s.args.action, s.args.revision) == ("upgrade", "head")
    assert s.on_failure == "rollback" and not s.idempotent
    assert str(len(migrations_between(runbook.metadata.from_, runbook.metadata.to))) in s.name


def test_persistence_upgrade_only_with_the_jobboard_from_ussuri(runbook: Runbook) -> None:
    to = runbook.metadata.to
    has = "db-upgrade-persistence" in _ids(runbook)
    assert has == (SERIES.index(to) >= SERIES.index("ussuri"))
    if has:
        assert runbook.parameters["jobboard_enabled"].default is False
        s = runbook.step("db-upgrade-persistence")
        assert s.args.action == "upgrade_persistence"
        # decided by the node's octavia.conf, read before anything stops; the
        # parameter only forces it
        assert s.when == 'params.jobboard_enabled or outputs["read-jobboard"].jobboard_enabled'
        read = runbook.step("read-jobboard")
        assert read.kind == "config_check" and read.targets.roles == ("db-migrate",)
        assert _index(runbook, "read-jobboard") < _index(runbook, "stop-housekeeping")
        assert _index(runbook, "db-upgrade") < _index(runbook, "db-upgrade-persistence") \
            < _index(runbook, "start-services")


def test_database_revision_is_checked_before_and_after(runbook: Runbook) -> None:
    before = runbook.step("assert-db-at-from")
    after = runbook.step("assert-db-at-to")
    assert "release.from.alembic_head" in before.args.that
    assert "release.to.alembic_head" in after.args.that
    assert _index(runbook, "assert-db-at-from") < _index(runbook, "stop-housekeeping")
    assert _index(runbook, "assert-db-at-to") > _index(runbook, "db-upgrade")


# --------------------------------------------------------------------------- octavia-status


def _checks(rb: Runbook) -> list[Step]:
    return [s for s in rb.steps if s.kind == "upgrade_check"]


def test_octavia_status_only_where_the_release_ships_it(runbook: Runbook) -> None:
    frm, to = _rel(runbook.metadata.from_), _rel(runbook.metadata.to)
    ids = [s.id for s in _checks(runbook)]
    both = frm.octavia_status and to.octavia_status
    expected = (["upgrade-check"] if frm.octavia_status else []) + (
        ["upgrade-check-staged", "upgrade-check-target"] if both else [])
    assert ids == expected
    if both:  # the target's check runs once: with the staged code, or after the install
        staged, target = runbook.step("upgrade-check-staged"), runbook.step("upgrade-check-target")
        assert staged.args.code == "staged" and target.args.code == "installed"
        prepared = "params.stage_before_outage and vars.staged_code_runs | default(false)"
        assert (staged.when, target.when) == (prepared, f"not ({prepared})")
        assert _index(runbook, "upgrade-check-staged") < _index(
            runbook, "approve-control-plane-outage")
    if not frm.octavia_status:
        s = runbook.step("preflight-config-check")
        assert (s.args.release, s.args.fail_on) == (frm.series, "never")


def test_exit_255_is_never_success(runbook: Runbook) -> None:
    for s in _checks(runbook):
        assert s.args.on_error in ("approve", "fail")
        if s.args.on_error == "approve":
            assert s.args.known_error, f"{s.id}: approval without a named cause"


@pytest.mark.parametrize("name", ["antelope-to-bobcat", "bobcat-to-caracal",
                                  "caracal-to-dalmatian", "dalmatian-to-epoxy"])
def test_known_oslo_policy_crash_is_an_approval_gate(name: str) -> None:
    rb = _load(name)
    for s in _checks(rb):
        release = rb.metadata.from_ if s.id == "upgrade-check" else rb.metadata.to
        if 13 <= _rel(release).octavia_major <= 16:
            assert s.args.on_error == "approve"
            assert "NoSuchOptError" in s.args.known_error
            assert "oslo_policy" in s.args.known_error


@pytest.mark.parametrize("name", ["xena-to-yoga", "yoga-to-zed", "zed-to-antelope",
                                  "antelope-to-bobcat"])
def test_yoga_to_antelope_code_is_gated_like_bobcat(name: str) -> None:
    # octavia/cmd/status.py at 10.1.1, 11.0.2, 11.0.3 and 12.0.1 is the file of 13.0.1, and
    # 10.0.0-10.1.0, 11.0.0-11.0.1 and 12.0.0 crash on policy.Policy(): any 10.x-12.x may.
    rb = _load(name)
    for s in _checks(rb):
        release = _rel(rb.metadata.from_ if s.id == "upgrade-check" else rb.metadata.to)
        if not 10 <= release.octavia_major <= 12:
            continue
        assert (s.args.on_warning, s.args.on_failure, s.args.on_error) == \
            ("approve", "approve", "approve"), s.id
        text = s.args.known_error
        assert "10.1.1, 11.0.2, 11.0.3, 12.0.1 and 13.0.0-16.1.0" in text
        assert "NoSuchOptError: no such option oslo_policy' (exit 255)" in text
        assert "7.0.0-10.1.0, 11.0.0, 11.0.1 and 12.0.0 call policy.Policy()" in text
        assert "fixed in" not in text


def test_amphorav2_check_texts_say_warning_with_the_default_sqlite() -> None:
    for name in PAIRS:
        for s in _checks(_load(name)):
            text = s.args.known_error
            assert "FAILURE on deployments without a jobboard" not in text
            if "AmphoraV2" in text:
                assert "persistence_connection = sqlite:// it reports WARNING" in text


def test_checks_run_before_stopping_and_with_new_code_before_migrating(runbook: Runbook) -> None:
    ids = _ids(runbook)
    if "upgrade-check" in ids:
        assert _index(runbook, "upgrade-check") < _index(runbook, "stop-housekeeping")
    if "upgrade-check-target" in ids:
        assert _index(runbook, "upgrade-packages") < _index(runbook, "upgrade-check-target") \
            < _index(runbook, "db-upgrade")


# --------------------------------------------------------------------------- release notes


def _impact_steps(rb: Runbook) -> list[Step]:
    return [s for s in rb.steps if s.data_plane_impact]


@pytest.mark.parametrize("name, step_id, before", [
    ("zed-to-antelope", "failover-pre-train-amphorae", "stop-housekeeping"),
    ("epoxy-to-flamingo", "failover-udp-and-default-cipher-lbs", None),
    ("pike-to-queens", "failover-ping-hm-amphorae", "stop-housekeeping"),
    ("rocky-to-stein", "failover-udp-listeners", None),
    ("train-to-ussuri", "recycle-py3-amphorae", None),
])
def test_data_plane_actions_are_gated_with_stated_downtime(name: str, step_id: str,
                                                            before: str | None) -> None:
    rb = _load(name)
    s = rb.step(step_id)
    # The tool fails them over itself, behind an approval listing the load balancers.
    assert s.kind == "amphora_failover"
    assert s.args.canary >= 1
    assert s.data_plane_impact and "minute" in s.data_plane_impact
    if before:
        assert _index(rb, step_id) < _index(rb, before)
    else:  # after the control plane is updated and the new image is available
        assert _index(rb, step_id) > _index(rb, "amphora-image-upload")


@pytest.mark.parametrize("name, protocols, monitors, created_before", [
    ("epoxy-to-flamingo", ("UDP", "TERMINATED_HTTPS"), (), None),
    ("rocky-to-stein", ("UDP",), (), None),
    ("pike-to-queens", (), ("PING",), None),
    ("train-to-ussuri", (), (), "run-start"),
    ("zed-to-antelope", (), (), "run-start"),
])
def test_failovers_select_what_the_release_notes_name(name, protocols, monitors,
                                                      created_before) -> None:
    s = next(s for s in _load(name).steps if s.kind == "amphora_failover"
             and s.id != "recycle-amphorae")
    assert s.args.listener_protocols == protocols
    assert s.args.health_monitor_types == monitors
    assert s.args.created_before == created_before


def test_every_hop_offers_an_optional_recycle_after_the_image_upload(runbook: Runbook) -> None:
    from octavia_upgrade.templating import evaluate

    s = runbook.step("recycle-amphorae")
    assert s.kind == "amphora_failover" and s.args.created_before == "run-start"
    assert _index(runbook, "recycle-amphorae") > _index(runbook, "amphora-image-upload")
    assert not evaluate(s.when, {"params": {"recycle_amphorae": False}})
    assert runbook.parameters["recycle_amphorae"].default is False


def test_every_failover_release_has_a_gated_impact_step() -> None:
    facts = amphora_facts()
    for name in PAIRS:
        to = name.split("-to-")[1]
        if facts[to].failover:
            assert _impact_steps(_load(name)), f"{name}: failover needed but no impact stated"


@pytest.mark.parametrize("name, step_id, words", [
    ("stein-to-train", "confirm-no-neutron-lbaas", ("neutron-lbaas", "v1")),
    ("dalmatian-to-epoxy", "confirm-rbac-defaults", ("load_balancer_", "keystone default roles")),
    ("epoxy-to-flamingo", "confirm-no-octavia-wsgi", ("octavia-wsgi",
                                                      "octavia.wsgi.api:application")),
])
def test_removals_are_checked_before_the_control_plane_goes_down(name: str, step_id: str,
                                                                 words: tuple[str, ...]) -> None:
    rb = _load(name)
    s = rb.step(step_id)
    assert s.kind == "approval"
    assert _index(rb, step_id) < _index(rb, "stop-housekeeping")
    for w in words:
        assert w in s.args.message


def test_image_step_skipped_without_an_image_file(runbook: Runbook) -> None:
    upload, reminder = runbook.step("amphora-image-upload"), runbook.step("amphora-image-reminder")
    assert upload.kind == "local" and reminder.kind == "approval"
    assert runbook.parameters["amphora_image_file"].default == ""
    from octavia_upgrade.templating import evaluate

    ctx = {"params": {"amphora_image_file": ""}}
    assert not evaluate(upload.when, ctx) and evaluate(reminder.when, ctx)
    ctx = {"params": {"amphora_image_file": "/srv/amphora.qcow2"}}
    assert evaluate(upload.when, ctx) and not evaluate(reminder.when, ctx)
    assert "--tag" in upload.args.command


# --------------------------------------------------------------------------- rollback / finally


def test_rollback_reinstalls_the_old_release_and_restores_the_backup(runbook: Runbook) -> None:
    frm = runbook.metadata.from_
    ids = [s.id for s in runbook.rollback]
    # In the order the steps run.
    assert ids == ["rollback-stop-services", "rollback-packages", "rollback-no-backup",
                   "rollback-approve-restore", "rollback-restore-db", "rollback-db-revision",
                   "rollback-start-services", "rollback-wait-api", "rollback-lb-snapshot-after"]
    assert runbook.step("rollback-packages").args.release == frm
    # Once the old services are back, the API is awaited and the load-balancer
    # objects are compared with those before the outage (Grenade's check).
    for follow in ("rollback-wait-api", "rollback-lb-snapshot-after"):
        assert runbook.step(follow).when.startswith("'rollback-start-services' in outputs")
        assert runbook.step(follow).on_failure == "continue"
    assert runbook.step("rollback-lb-snapshot-after").args.label == "after-rollback"
    # The tool restores the dump itself, after an approval --yes never gives.
    gate, restore = runbook.step("rollback-approve-restore"), runbook.step("rollback-restore-db")
    assert gate.kind == "approval" and gate.args.requires_human
    assert restore.kind == "restore" and restore.args.backup == "db-backup"
    assert restore.args.approval == gate.id and restore.args.verify_revision
    assert "db-upgrade" in restore.when and gate.when == restore.when
    # The old services start again only on the old schema (restored or never touched),
    # and never after a restore left half done.
    from octavia_upgrade.templating import evaluate

    start = runbook.step("rollback-start-services").when
    head = _rel(frm).alembic_head
    ctx = {"release": {"from": {"alembic_head": head}}}
    at_head = {"rollback-db-revision": {"revision": head}}
    assert evaluate(start, {**ctx, "outputs": at_head})
    assert not evaluate(start, {**ctx, "outputs": {"rollback-db-revision": {"revision": "x"}}})
    assert evaluate(start, {**ctx, "outputs": {
        **at_head, "rollback-restore-db": {"restored": True, "incomplete": False}}})
    assert not evaluate(start, {**ctx, "outputs": {
        **at_head, "rollback-restore-db": {"restored": False, "incomplete": True}}})
    assert [s.kind for s in runbook.finally_] == ["service", "db_migrate"]
    assert all(s.args.action in ("status", "current") for s in runbook.finally_)


def test_shared_step_ids_are_used_everywhere(runbook: Runbook) -> None:
    shared = {"db-revision-before", "assert-db-at-from", "approve-control-plane-outage",
              "stop-housekeeping", "stop-health-manager", "stop-api", "stop-worker",
              "db-backup", "upgrade-packages", "config-check", "db-upgrade", "start-services",
              "wait-api", "verify-services", "db-revision-after", "assert-db-at-to",
              "amphora-image-upload", "amphora-image-reminder"}
    assert shared <= set(_ids(runbook))
    doc = (ROOT / "docs" / "runbooks.md").read_text(encoding="utf-8")
    for step_id in [s.id for s in runbook.all_steps()]:
        assert f"`{step_id}`" in doc, f"step id {step_id} is not documented in docs/runbooks.md"


# --------------------------------------------------------------------------- flavors


def _inventory(tmp_path: Path, flavor: str) -> Path:
    p = tmp_path / f"{flavor}.yaml"
    p.write_text(f"""apiVersion: octavia-upgrade/v1
kind: Inventory
deployment: rehearsal
flavor: {flavor}
hosts:
  ctl1: {{address: 192.0.2.11, roles: [api, worker, health-manager, housekeeping, driver-agent, db-migrate]}}
  ctl2: {{address: 192.0.2.12, roles: [api, worker, health-manager, housekeeping, driver-agent]}}
""", encoding="utf-8")
    return p


#: (flavor, stop-api command, packages fragment, db_manage fragment) from services.md.
FLAVOR_FACTS = {
    "deb": ("systemctl stop octavia-api", "python3-octavia python3-octavia-lib",
            "octavia-db-manage --config-file /etc/octavia/octavia.conf upgrade head"),
    "rdo": ("systemctl stop octavia-api", "dnf -y upgrade 'openstack-octavia-*' python3-octavia",
            "octavia-db-manage --config-file /usr/share/octavia/octavia-dist.conf"),
    "devstack": ("systemctl stop devstack@o-api.service",
                 "git -C /opt/stack/octavia checkout -f stable/2025.1",
                 "/opt/stack/data/venv/bin/octavia-db-manage --config-file"),
    "kolla": ("docker stop -t 60 octavia_api", "docker pull quay.io/openstack.kolla/octavia-api:2025.1-rocky-9",
              "quay.io/openstack.kolla/octavia-api:2025.1-rocky-9 bash -c 'sudo -E "
              "kolla_set_configs && exec octavia-db-manage"),
    "osa": ("systemctl stop octavia-api", "/openstack/venvs/octavia-2025.1/bin/pip install",
            "/bin/octavia-db-manage --config-file /etc/octavia/octavia.conf upgrade head"),
}


@pytest.mark.parametrize("flavor", sorted(FLAVOR_FACTS))
def test_every_runbook_renders_for_the_flavor(tmp_path: Path, flavor: str) -> None:
    from octavia_upgrade.flavors import load_flavor
    from octavia_upgrade.inventory import load_inventory
    from octavia_upgrade.plan import build_plan, resolve_params

    inv = load_inventory(_inventory(tmp_path, flavor))
    fl = load_flavor(flavor)
    units = set(fl.services.values())
    for name in PAIRS:
        rb = _load(name)
        plan = build_plan(rb, inv, fl, CAT, resolve_params(rb, {}))
        for ps in plan.steps:
            for host, cmds in ps.commands.items():
                for c in cmds:
                    if not c.render:
                        text = c.text.replace(RUN_ID_TOKEN, "").replace("'{{.", "")
                        assert "{{" not in text and "{%" not in text, (name, ps.id, c)
        stops = {ps.id: [c for c in ps.commands["ctl1"] if c.key.startswith("stop:")]
                 for ps in plan.steps if ps.id.startswith("stop-")}
        for cmds in stops.values():
            assert len(cmds) == 1 and cmds[0].text.split()[-1] in units


@pytest.mark.parametrize("flavor", sorted(FLAVOR_FACTS))
def test_dalmatian_to_epoxy_commands_per_flavor(tmp_path: Path, flavor: str) -> None:
    from octavia_upgrade.flavors import load_flavor
    from octavia_upgrade.inventory import load_inventory
    from octavia_upgrade.plan import build_plan, resolve_params

    rb = _load("dalmatian-to-epoxy")
    plan = build_plan(rb, load_inventory(_inventory(tmp_path, flavor)), load_flavor(flavor),
                      CAT, resolve_params(rb, {}))
    stop_api, pkg, dbm = FLAVOR_FACTS[flavor]
    assert plan.step("stop-api").command("ctl1", "stop:api").text == stop_api
    assert pkg in plan.step("upgrade-packages").command("ctl1", "upgrade").text
    assert plan.step("db-upgrade").hosts == ("ctl1",)
    assert dbm in plan.step("db-upgrade").command("ctl1", "upgrade").text
    backup = plan.step("db-backup").commands["ctl1"]
    dump = [c.text for c in backup if "mysqldump" in c.text]
    assert len(dump) == 1 and "mysqldump --defaults-extra-file=" in dump[0]
    # Credentials come from the options file, never from the command line.
    assert not re.search(r"\s(-p\S*|--password\S*)", dump[0])
    assert plan.step("upgrade-check").hosts == ("ctl1",)
    assert plan.step("wait-api").lines("ctl2") == (
        "GET http://192.0.2.12:9876/  # until HTTP 200, every 0.25s, up to 300s",)


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def api_servers(lab_nodes):  # type: ignore[no-untyped-def]
    """An HTTP server on port N of every bare node's address (what wait-api polls)."""
    import socket
    import subprocess
    import sys
    import time

    inv = lab_nodes.inventory_data({n: ["api"] for n in ("node1", "node2", "node3")},
                                   flavor="deb", deployment="x", vars={})
    addresses = [h["address"] for h in inv["hosts"].values()]
    with socket.socket() as s:
        s.bind((addresses[0], 0))
        port = s.getsockname()[1]
    procs = []
    try:
        for addr in addresses:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "http.server", "--bind", addr, str(port)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for addr in addresses:
            for _ in range(100):
                try:
                    socket.create_connection((addr, port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
        yield port
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _sim_deployment(tmp_path: Path, write_inventory):  # type: ignore[no-untyped-def]
    """Three bare sshd nodes at simulated Dalmatian (tests/engine/sim); returns (root, inv, cli)."""
    import os
    import subprocess
    import sys

    from octavia_upgrade.lab.octaviaconf import NodeConf, Shared, render

    sim_dir = ROOT / "tests" / "engine" / "sim"
    root = tmp_path / "sim"
    units = ("sim-api", "sim-worker", "sim-health-manager", "sim-housekeeping",
             "sim-driver-agent")
    conf = render(Shared("rabbit://o:Rabbit-Secret-1@127.0.0.1:5672/",
                         "mysql+pymysql://o:Db-Secret-2@127.0.0.1:3306/octavia",
                         "Heartbeat-Secret-3", ("127.0.0.11:5555",)),
                  NodeConf("node1", "127.0.0.11"))
    for n in ("node1", "node2", "node3"):
        (root / n / "run").mkdir(parents=True)
        (root / n / "version").write_text("15.1.0\n")
        (root / n / "lib-version").write_text("3.6.0\n")
        (root / n / "octavia.conf").write_text(conf)
        for u in units:
            (root / n / "run" / u).touch()
            (root / n / "units").mkdir(exist_ok=True)
            (root / n / "units" / u).touch()
    (root / "db-revision").write_text("db2a73e82626\n")
    (root / "status-rc").write_text("255\n")
    (root / "status-output").write_text(
        "oslo_config.cfg.NoSuchOptError: no such option oslo_policy in group [DEFAULT]\n")
    inv = write_inventory(tmp_path, flavor=str(sim_dir / "sim.yaml"), deployment="rb-e2e",
                          vars={"sim": str(sim_dir / "sim.sh"), "root": str(root),
                                "config_file": str(root / "node1" / "octavia.conf")})
    # The simulation has no RabbitMQ: node1's sshd stands in for it (wait-message-bus
    # only needs a port that accepts connections, read from the node's configuration).
    data = yaml.safe_load(inv.read_text())
    node1 = data["hosts"]["node1"]
    (root / "node1" / "octavia.conf").write_text(conf.replace(
        "127.0.0.1:5672", f"{node1['address']}:{node1.get('port', 22)}"))
    env = {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(tmp_path / "state")}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run([sys.executable, "-m", "octavia_upgrade", *args], env=env,
                                  capture_output=True, text=True, input="", timeout=180)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"octavia-upgrade {args[0]} did not finish: {exc.stdout!r} {exc.stderr!r}")

    return root, inv, cli


@pytest.mark.lab
def test_dalmatian_to_epoxy_runs_end_to_end_with_yes(tmp_path: Path, write_inventory,  # type: ignore[no-untyped-def]
                                                      api_servers: int) -> None:
    """The shipped demo runbook, executed by the real CLI over real SSH.

    The control plane is the engine tests' simulation (tests/engine/sim), so
    every action the runbook causes on a node is visible in ops.log, and
    octavia-status answers like Octavia 15.x/16.x do standalone: exit 255.
    """
    import json

    root, inv, cli = _sim_deployment(tmp_path, write_inventory)
    nodes = ("node1", "node2", "node3")
    res = cli("run", str(RUNBOOKS / "dalmatian-to-epoxy.yaml"), "-i", str(inv), "--yes",
              "-p", f"api_port={api_servers}", "-p", f"backup_dir={tmp_path / 'backups'}")
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    assert "Traceback" not in out
    for secret in ("Rabbit-Secret-1", "Db-Secret-2", "Heartbeat-Secret-3"):
        assert secret not in out

    ops = [line.split()[1:] for line in (root / "ops.log").read_text().splitlines()]
    acts = [(a[0], a[1], a[2] if len(a) > 2 else "") for a in ops]
    first_stop = min(i for i, a in enumerate(acts) if a[1] == "stop")
    status = [i for i, a in enumerate(acts) if a[1] == "status"]
    # both checks before anything stops: 15.x installed, then 16.x staged
    assert len(status) == 2 and status[1] < first_stop
    stops = [a[2] for a in acts if a[1] == "stop"]
    assert stops == [u for u in ("sim-housekeeping", "sim-health-manager", "sim-api",
                                 "sim-worker", "sim-driver-agent") for _ in nodes]
    order = [a[1] for a in acts]
    assert order.index("backup") > max(i for i, a in enumerate(order) if a == "stop")
    # the prepare phase: staged before the outage, activated inside it, never installed there
    stages = [i for i, a in enumerate(order) if a == "stage"]
    assert len(stages) == 3 and status[0] < stages[0] and stages[-1] < status[1]
    activations = [i for i, a in enumerate(order) if a == "activate"]
    assert len(activations) == 3 and order.index("backup") < activations[0]
    assert activations[-1] < order.index("db-upgrade")
    assert "upgrade" not in order
    assert order.index("db-upgrade") < min(i for i, a in enumerate(order) if a == "start")
    assert (root / "db-revision").read_text().strip() == "fabf4983846b"
    assert list((tmp_path / "backups").glob("*.sql.gz"))

    runs = json.loads(cli("runs", "-f", "json").stdout)
    assert [r["status"] for r in runs] == ["succeeded"]
    shown = cli("show", runs[0]["id"], "-f", "json")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    results = {(r["step_id"], r["host"]): r for r in doc["results"]}
    # Both checks ended with exit 255 and passed only through a recorded approval.
    for step_id in ("upgrade-check", "upgrade-check-staged"):
        r = results[(step_id, "node1")]
        assert r["rc"] == 255 and r["outputs"]["outcome"] == "error"
        assert "accepted by" in r["message"]
    assert results[("upgrade-check-target", "node1")]["status"] == "skipped"
    approved = {a["step_id"]: a["how"] for a in doc["approvals"]}
    assert approved["upgrade-check"] == approved["upgrade-check-staged"] == "--yes"
    assert {"confirm-rbac-defaults", "approve-control-plane-outage",
            "amphora-image-reminder"} <= set(approved)
    statuses = {k[0]: r["status"] for k, r in results.items()}
    assert statuses["amphora-image-upload"] == "skipped"  # no image file given
    assert statuses["db-upgrade-persistence"] == "skipped"  # no jobboard
    assert statuses["assert-db-at-to"] == "succeeded"
    for step_id in ("rollback-restore-db", "rollback-packages"):
        assert step_id not in statuses


@pytest.mark.lab
def test_failed_migration_rolls_back_to_the_old_release(tmp_path: Path, write_inventory,  # type: ignore[no-untyped-def]
                                                        api_servers: int) -> None:
    import json

    root, inv, cli = _sim_deployment(tmp_path, write_inventory)
    (root / "fail-migration").touch()
    res = cli("run", str(RUNBOOKS / "dalmatian-to-epoxy.yaml"), "-i", str(inv), "--yes",
              "-p", f"api_port={api_servers}", "-p", f"backup_dir={tmp_path / 'backups'}")
    out = res.stdout + res.stderr
    assert res.returncode == 1, out
    assert "Traceback" not in out
    ops = [line.split()[2:] for line in (root / "ops.log").read_text().splitlines()]
    order = [o[0] for o in ops]
    failed = order.index("db-upgrade")
    after = ops[failed + 1:]
    # Rollback, in its documented order: stop everything, back to the recorded 15.x, start.
    stops = [o for o in after if o[0] == "stop"]
    assert len(stops) == 15
    reverts = [o for o in after if o[0] == "revert"]
    assert [o[1] for o in reverts] == ["15.1.0"] * 3  # what record-packages found
    first_start = next(i for i, o in enumerate(after) if o[0] == "start")
    assert max(i for i, o in enumerate(after) if o[0] in ("stop", "revert")) < first_start
    for n in ("node1", "node2", "node3"):
        assert (root / n / "version").read_text().strip() == "15.1.0"
    runs = json.loads(cli("runs", "-f", "json").stdout)
    assert runs[0]["status"] == "rolled_back"
    doc = json.loads(cli("show", runs[0]["id"], "-f", "json").stdout)
    approved = [a["step_id"] for a in doc["approvals"]]
    # --yes never approves a rollback gate, and without it nothing is restored.
    assert "rollback-approve-restore" not in approved and "rollback-no-backup" not in approved
    gate = next(r for r in doc["results"] if r["step_id"] == "rollback-approve-restore")
    assert gate["status"] == "failed" and "--yes never approves" in gate["message"]
    restore = next(r for r in doc["results"] if r["step_id"] == "rollback-restore-db")
    assert restore["status"] == "failed" and "nothing restored" in restore["message"]
    assert "restore" not in order
    results = {r["step_id"]: r["status"] for r in doc["results"]}
    assert results["rollback-db-revision"] == "succeeded"
    assert results["rollback-start-services"] == "succeeded"  # the schema was never changed


@pytest.mark.lab
@pytest.mark.parametrize("tampered", [False, True], ids=["restored", "checksum-mismatch"])
def test_a_half_done_migration_is_restored_after_an_approval_at_a_terminal(
        tmp_path: Path, write_inventory, api_servers: int, tampered: bool) -> None:  # type: ignore[no-untyped-def]
    """The migration stops half way; the operator approves the restore at a terminal;
    the tool checks the dump's sha256 and restores it, or refuses a dump that changed."""
    import json

    from terminal import run_at_terminal

    root, inv, cli = _sim_deployment(tmp_path, write_inventory)
    backups = tmp_path / "backups"
    (root / "fail-migration-after").write_text("0123456789ab\n")
    if tampered:
        (root / "tamper-dumps").write_text(str(backups))
    env = {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(tmp_path / "state")}
    params = ["-p", f"api_port={api_servers}", "-p", f"backup_dir={backups}"]
    planned = cli("plan", str(RUNBOOKS / "dalmatian-to-epoxy.yaml"), "-i", str(inv), "-f", "json",
                  *params)
    assert planned.returncode == 0, planned.stderr
    res = run_at_terminal(["run", str(RUNBOOKS / "dalmatian-to-epoxy.yaml"), "-i", str(inv),
                           "--yes", *params], env)
    out = res.stdout + res.stderr
    assert res.returncode == 1 and "Traceback" not in out, out
    assert "APPROVAL NEEDED (rollback-approve-restore)" in out
    ops = [line.split()[2:] for line in (root / "ops.log").read_text().splitlines()]
    runs = json.loads(cli("runs", "-f", "json").stdout)
    doc = json.loads(cli("show", runs[0]["id"], "-f", "json").stdout)
    results = {r["step_id"]: r for r in doc["results"]}
    approved = {a["step_id"]: a["how"] for a in doc["approvals"]}
    assert approved["rollback-approve-restore"] == "prompt"
    restore = results["rollback-restore-db"]
    (dump,) = backups.glob("*.sql.gz")
    if tampered:
        # A dump that changed since the backup is never restored, and the old
        # services stay stopped on the half-migrated schema.
        assert restore["status"] == "failed", restore
        assert "nothing restored" in restore["message"] and "sha256" in restore["message"]
        assert ["restore", str(dump)] not in ops
        assert (root / "db-revision").read_text().strip() == "0123456789ab"
        assert results["rollback-start-services"]["status"] == "skipped"
        return
    assert restore["status"] == "succeeded", restore
    assert ["restore", str(dump)] in ops
    assert restore["outputs"]["revision"] == "db2a73e82626"
    assert restore["outputs"]["sha256"] == results["db-backup"]["outputs"]["sha256"]
    assert (root / "db-revision").read_text().strip() == "db2a73e82626"
    assert results["rollback-start-services"]["status"] == "succeeded"
    made = cli("report", runs[0]["id"], "-f", "json")
    assert made.returncode == 0, made.stderr
    report = json.loads(made.stdout)
    from plancheck import assert_ran_as_planned

    assert assert_ran_as_planned(json.loads(planned.stdout), report, runs[0]["id"]) > 0
    (rest,) = report["evidence"]["restores"]
    assert rest["step_id"] == "rollback-restore-db" and rest["verified"] is True
    assert rest["revision"] == "db2a73e82626" and rest["sha256"] == restore["outputs"]["sha256"]


def test_an_interrupted_prepare_phase_stopped_nothing_and_resumes(
        tmp_path: Path, write_inventory, api_servers: int) -> None:  # type: ignore[no-untyped-def]
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    root, inv, cli = _sim_deployment(tmp_path, write_inventory)
    (root / "slow-stage").touch()
    args = ["run", str(RUNBOOKS / "dalmatian-to-epoxy.yaml"), "-i", str(inv), "--yes",
            "-p", f"api_port={api_servers}", "-p", f"backup_dir={tmp_path / 'backups'}"]
    proc = subprocess.Popen([sys.executable, "-m", "octavia_upgrade", *args],
                            env={**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(tmp_path / "state")},
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    ops = root / "ops.log"
    try:
        end = time.monotonic() + 120
        while not (ops.exists() and " stage " in ops.read_text()) and time.monotonic() < end:
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)  # a crash in the middle of staging
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    acts = [line.split()[2] for line in ops.read_text().splitlines()]
    assert "stage" in acts and "stop" not in acts and "activate" not in acts
    # nothing of the deployment changed: services up, the old code runs
    for n in ("node1", "node2", "node3"):
        assert (root / n / "version").read_text().strip() == "15.1.0"
        assert (root / n / "run" / "sim-api").exists()
    (root / "slow-stage").unlink()
    run_id = json.loads(cli("runs", "-f", "json").stdout)[0]["id"]
    # the killed engine's staging still runs on the nodes: nothing runs beside it
    res = cli("resume", run_id, "--yes")
    assert res.returncode == 3, res.stdout[-3000:] + res.stderr
    assert "still running" in res.stderr and "step stage-packages (attempt 1) on node" in \
        res.stderr, res.stderr
    from stoppedrun import stop_named

    assert stop_named(res.stderr)
    res = cli("resume", run_id, "--yes")  # stage-packages is idempotent: staged again
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr
    for n in ("node1", "node2", "node3"):
        assert (root / n / "version").read_text().startswith("16.")

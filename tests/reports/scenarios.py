"""Realistic runs for report tests: a real Plan and the records a run leaves behind.

The plan is built by the real planner from a runbook, inventory and flavor
constructed in code; the records are the state store's own typed records,
with fixed timestamps so that rendered reports are deterministic.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from octavia_upgrade.commands import RUN_ID_TOKEN

from octavia_upgrade.catalog import load_catalog
from octavia_upgrade.model import (
    Flavor,
    Host,
    Inventory,
    Metadata,
    Parameter,
    Pos,
    Probe,
    Retry,
    Runbook,
    Step,
    Targets,
)
from octavia_upgrade.plan import Plan, build_plan
from octavia_upgrade.state.records import (
    Approval,
    Event,
    Evidence,
    ProbeSample,
    Run,
    StepResult,
)

T0 = datetime(2026, 11, 25, 16, 0, 0, tzinfo=timezone.utc)
SECRET = "Zq8-secret-Pa55word"
RUNBOOK_PATH = "runbooks/dalmatian-to-epoxy.yaml"
SHA = "3f9a1c" + "0" * 58
ALL = ("api", "worker", "health-manager", "housekeeping", "driver-agent")

FLAVOR = Flavor(
    name="deb", path="inventory/flavors/deb.yaml", description="Debian packages",
    services={"api": "octavia-api", "worker": "octavia-worker",
              "health-manager": "octavia-health-manager",
              "housekeeping": "octavia-housekeeping", "driver-agent": "octavia-driver-agent"},
    actions={
        "service_stop": "systemctl stop {{ unit }}",
        "service_start": "systemctl start {{ unit }}",
        "service_restart": "systemctl restart {{ unit }}",
        "service_is_active": "systemctl is-active --quiet {{ unit }}",
        "packages_upgrade": "apt-get install -y {{ packages | shell_join }}",
        "octavia_version": "dpkg-query -W -f '${Version}' octavia-common",
        "octavia_lib_version": "dpkg-query -W -f '${Version}' python3-octavia-lib",
        "db_manage": "octavia-db-manage --config-file {{ vars.config_file }} {{ args | raw }}",
        "octavia_status": "octavia-status upgrade check",
        "db_backup": "mysqldump --single-transaction {{ database }} | gzip > {{ dest }}",
        "read_config": "ls {{ vars.config_file }}",
    },
    vars={"config_file": "/etc/octavia/octavia.conf"},
)


def _step(i: int, id: str, kind: str, name: str, with_: dict[str, Any] | None = None,
          **kw: Any) -> Step:
    from octavia_upgrade.steps.args import parse

    return Step(id=id, kind=kind, name=name, pos=Pos(RUNBOOK_PATH, 20 + 6 * i, 5),
                args=parse(kind, with_), **kw)


def runbook() -> Runbook:
    steps = (
        _step(1, "upgrade-check", "upgrade_check", "Run octavia-status upgrade check"),
        _step(2, "config-check", "config_check", "Check octavia.conf against Epoxy"),
        _step(3, "lb-before", "local", "Record load balancers before",
              with_={"command": "openstack --os-cloud {{ deployment }} loadbalancer list -f json", "capture": "json"}),
        _step(4, "approve", "approval", "Approve the control-plane outage",
              with_={"message": "Stop the Octavia control plane on {{ deployment }}?"}),
        _step(5, "stop-control-plane", "service", "Stop Octavia services",
              with_={"action": "stop", "services": ["housekeeping", "health-manager", "api",
                                                    "worker", "driver-agent"]}),
        _step(6, "backup-db", "backup", "Back up the Octavia database",
              with_={"dest_dir": "{{ params.backup_dir }}"}),
        _step(7, "upgrade-packages", "packages", "Upgrade Octavia packages", serial=(1,),
              retry=Retry(attempts=2, delay=5), on_failure="rollback"),
        _step(8, "db-migrate", "db_migrate", "Migrate the database to head",
              with_={"action": "upgrade"}),
        _step(9, "start-control-plane", "service", "Start Octavia services", serial=(1,),
              with_={"action": "start", "services": list(ALL)}),
        _step(10, "wait-api", "wait", "Wait for the API", targets=Targets(hosts=("ctl1",)),
              with_={"tcp": "{{ host.address }}:9876"}),
        _step(11, "failover-udp", "command", "Fail over UDP load balancers",
              targets=Targets(once=True), when="{{ params.failover_udp }}",
              with_={"command": "openstack --os-cloud {{ deployment }} loadbalancer failover udp-lb"},
              data_plane_impact="UDP listeners drop traffic for about 30 s per load balancer"),
    )
    rollback = (  # in the order they run
        _step(14, "reinstall-old", "command", "Reinstall Dalmatian packages",
              with_={"command": "apt-get install -y --allow-downgrades {{ 'octavia-common=15.*' }}"}),
        _step(13, "restore-db", "command", "Restore the database backup",
              targets=Targets(once=True),
              with_={"command": "zcat {{ params.backup_dir }}/latest.sql.gz | "
                                "mysql --password={{ params.db_password }} octavia"}),
    )

    final = (
        _step(15, "ensure-started", "service", "Make sure services run",
              with_={"action": "start", "services": list(ALL)}),
        _step(16, "lb-after", "local", "Record load balancers after",
              with_={"command": "openstack --os-cloud {{ deployment }} loadbalancer list -f json", "capture": "json"}),
    )
    return Runbook(
        path=RUNBOOK_PATH, sha256=SHA,
        metadata=Metadata(name="dalmatian-to-epoxy", from_="dalmatian", to="epoxy", revision=3,
                          description="Cold upgrade of Octavia from Dalmatian to Epoxy.",
                          references=("https://docs.openstack.org/releasenotes/octavia/2025.1.html",)),
        parameters={
            "backup_dir": Parameter("backup_dir", default="/var/backups/octavia"),
            "db_password": Parameter("db_password", secret=True, required=True),
            "failover_udp": Parameter("failover_udp", type="boolean", default=False),
        },
        steps=steps, rollback=rollback, finally_=final,
    )


def inventory() -> Inventory:
    return Inventory(
        path="inventory/prod-east.yaml", deployment="prod-east", flavor="deb",
        hosts=(Host("ctl1", "10.0.0.11", roles=ALL + ("db-migrate",)),
               Host("ctl2", "10.0.0.12", roles=ALL)),
        probes=(Probe("web-vip", "http://203.0.113.10/"),),
        secrets={"db_root": SECRET},
    )


def plan(history: dict[str, float] | None = None) -> Plan:
    return build_plan(runbook(), inventory(), FLAVOR, load_catalog(),
                      {"backup_dir": "/var/backups/octavia", "db_password": SECRET,
                       "failover_udp": False}, history=history)


# --------------------------------------------------------------------------- recording

#: How the scenario runs were started (``run`` without --no-detect, --limit or --yes;
#: the secret parameter is given on the command line and must be masked when stored).
OPTIONS = {"detect": True, "limit": None, "yes": False,
           "params": {"db_password": SECRET, "failover_udp": "false"}}


class Recorder:
    """Writes what an executed run leaves in the state store, with a fake clock."""

    def __init__(self, run_id: str, the_plan: Plan) -> None:
        self.run_id = run_id
        self.plan = the_plan
        self.now = T0
        self.results: list[StepResult] = []
        self.evidence: list[Evidence] = []
        self.approvals: list[Approval] = []
        self.events: list[Event] = []
        self.samples: list[ProbeSample] = []
        self.series: list[Any] = []
        self._id = 0

    def tick(self, sec: float) -> None:
        self.now += timedelta(seconds=sec)

    def sent(self, step_id: str, host: str) -> list[dict[str, str]]:
        """What the executor records as sent for (step, host): the plan's commands, with
        the run id where the plan holds its token (a run-time value)."""
        planned = self.plan.step(step_id).commands.get(host, ())
        return [{"key": c.key, "planned": c.text,
                 "sent": c.text.replace(RUN_ID_TOKEN, self.run_id),
                 "at": (self.now + timedelta(seconds=0.25 * i)).isoformat()}
                for i, c in enumerate(planned)]

    def result(self, step_id: str, host: str, dur: float, status: str = "succeeded",
               rc: int | None = 0, stdout: str = "", stderr: str = "", message: str = "",
               attempt: int = 1, evidence: list[tuple[str, Any]] | None = None,
               phase: str | None = None, advance: bool = True,
               commands: list[dict[str, str]] | None = None) -> None:
        self._id += 1
        start, end = self.now, self.now + timedelta(seconds=dur)
        phase = phase or self.plan.step(step_id).phase
        in_flight = status in ("unknown", "running")
        if commands is None:
            # An attempt in flight never recorded its end; a skipped one sent nothing.
            commands = [] if in_flight or status == "skipped" else self.sent(step_id, host)
        self.results.append(StepResult(
            id=self._id, run_id=self.run_id, step_id=step_id, host=host, attempt=attempt,
            phase=phase, status=status, rc=rc, started_at=start,
            ended_at=None if in_flight else end,
            stdout_tail=stdout, stderr_tail=stderr, message=message, commands=commands))
        for kind, data in evidence or ():
            self.evidence.append(Evidence(self.run_id, step_id, host, kind, data, end))
        if advance:
            self.now = end

    def approve(self, step_id: str, user: str, how: str, message: str | None = None,
                impact: str | None = None) -> None:
        self.approvals.append(Approval(self.run_id, step_id, user, self.now, how))
        if message is not None:
            self.evidence.append(Evidence(self.run_id, step_id, "local", "approval",
                                          {"user": user, "how": how,
                                           "at": self.now.timestamp(), "message": message,
                                           "data_plane_impact": impact}, self.now))

    def event(self, kind: str, **data: Any) -> None:
        self.events.append(Event(self.run_id, self.now, kind, data))

    def probe(self, start: datetime, end: datetime, down: tuple[float, float] | None = None) -> None:
        t, i = start, 0
        while t <= end:
            off = (t - start).total_seconds()
            ok = not (down and down[0] <= off < down[1])
            self.samples.append(ProbeSample("web-vip", t, ok, 2.0 + (i % 5) * 0.5 if ok else None,
                                            None if ok else "timed out"))
            t += timedelta(seconds=2)
            i += 1

    def api_probe(self, end: datetime, down: dict[str, tuple[datetime, datetime]]) -> None:
        """The API probe of each host at 5 Hz from T0 to ``end``, not answering
        (connection refused) within ``down[host]``."""
        from octavia_upgrade.probeseries import ProbeTarget, Tally

        for host, (a, b) in sorted(down.items()):
            tally = Tally(ProbeTarget(f"api@{host}", "api", f"http://{host}:9876/", 0.2, 1.0,
                                      host=host))
            t = T0
            while t <= end:
                ok = not a <= t < b
                tally.add(t, ok, 4.0 if ok else None, None if ok else "Connection refused")
                t += timedelta(milliseconds=200)
            self.series.append(tally.series())

    def run(self, status: str, *, params: dict[str, Any] | None = None,
            options: dict[str, Any] | None = None) -> Run:
        return Run(
            id=self.run_id, runbook_name="dalmatian-to-epoxy", runbook_path=RUNBOOK_PATH,
            runbook_sha256=SHA, runbook_revision=3, from_release="dalmatian",
            to_release="epoxy", deployment="prod-east", inventory_path="inventory/prod-east.yaml",
            user="alice", hostname="ops-bastion", pid=4242, status=status, started_at=T0,
            ended_at=None if status == "running" else self.now,
            params=params or {"backup_dir": "/var/backups/octavia", "db_password": "***",
                              "failover_udp": False},
            plan=self.plan.to_dict(), tool_version="0.1.0", catalog_version="2026.11",
            provenance={"runbook_path": RUNBOOK_PATH, "runbook_name": "dalmatian-to-epoxy",
                        "revision": 3, "sha256": SHA,
                        "git_commit": "9c1e4b7d2a5f60718293a4b5c6d7e8f901234567",
                        "git_dirty": False, "tool_version": "0.1.0",
                        "catalog_version": "2026.11"},
            options=options if options is not None else OPTIONS)

    def records(self, status: str) -> dict[str, Any]:
        return {"run": self.run(status), "results": self.results, "approvals": self.approvals,
                "evidence": self.evidence, "probe_samples": self.samples, "events": self.events,
                "probe_series": self.series}


LB = {"id": "lb-1a2b", "name": "web", "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}
LB2 = {"id": "lb-3c4d", "name": "dns-udp", "provisioning_status": "ACTIVE",
       "operating_status": "ONLINE"}
AMPS = [{"id": "amp-0001", "loadbalancer_id": "lb-1a2b", "role": "MASTER", "status": "ALLOCATED"},
        {"id": "amp-0002", "loadbalancer_id": "lb-1a2b", "role": "BACKUP", "status": "ALLOCATED"},
        {"id": "amp-0003", "loadbalancer_id": "lb-3c4d", "role": "STANDALONE",
         "status": "ALLOCATED"}]
CONFIG_FINDING = {"host": "ctl2", "path": "/etc/octavia/octavia.conf", "line": 42,
                  "group": "controller_worker", "option": "amp_image_id", "severity": "warning",
                  "code": "deprecated", "message": "amp_image_id is deprecated",
                  "replacement": "[controller_worker] amp_image_tag"}
CHECK_OUT = ("+-------------------------------------------+\n| Upgrade Check Results |\n"
             "+-------------------------------------------+\n| Check: Sample Check\n"
             "| Result: Warning\n| Details: amphora image tag is not set\n"
             "+-------------------------------------------+")


def _before(r: Recorder) -> None:
    """Steps up to and including the stop: identical in every scenario."""
    r.result("upgrade-check", "ctl1", 4.2, rc=1, stdout=CHECK_OUT,
             message="octavia-status reported warning (rc 1); continuing by policy",
             evidence=[("upgrade_check", {"rc": 1, "outcome": "warning", "output": CHECK_OUT})])
    r.result("config-check", "ctl1", 1.1, stdout="1 file(s): no findings",
             evidence=[("config_check", {"target": "epoxy", "files": ["/etc/octavia/octavia.conf"],
                                         "findings": [], "counts": {}})], advance=False)
    r.result("config-check", "ctl2", 1.3,
             stdout="ctl2:/etc/octavia/octavia.conf:42: warning: amp_image_id is deprecated",
             evidence=[("config_check", {"target": "epoxy", "files": ["/etc/octavia/octavia.conf"],
                                         "findings": [CONFIG_FINDING],
                                         "counts": {"error": 0, "warning": 1, "info": 0}})])
    r.result("lb-before", "local", 2.5, stdout='[{"id": "lb-1a2b", ...}]',
             evidence=[("loadbalancers", {"loadbalancers": [LB, LB2], "amphorae": AMPS})])
    r.tick(30)
    r.approve("approve", "alice", "prompt", "Stop the Octavia control plane on prod-east?")
    r.result("approve", "local", 0.0, stdout="approved by alice (prompt)")
    for host in ("ctl1", "ctl2"):
        r.result("stop-control-plane", host, 6.0 if host == "ctl1" else 7.5,
                 stdout="$ systemctl stop octavia-housekeeping\n$ systemctl stop octavia-api",
                 evidence=[("services", {"action": "stop",
                                         "states": {s: "inactive" for s in ALL}})],
                 advance=host == "ctl2")
    r.result("backup-db", "ctl1", 12.0, stdout="",
             evidence=[("backup", {"path": "/var/backups/octavia/octavia-RUN-backup-db.sql.gz",
                                   "size": 1843211, "sha256": "ab" * 32, "host": "ctl1"})])


def _packages(r: Recorder, host: str, attempt: int = 1, dur: float = 40.0) -> None:
    r.result("upgrade-packages", host, dur, attempt=attempt,
             stdout="Setting up octavia-common (1:16.0.1-0ubuntu1) ...",
             evidence=[("versions", {"before": {"octavia": "15.1.0", "octavia-lib": "3.6.0"},
                                     "after": {"octavia": "16.0.1", "octavia-lib": "3.8.0"},
                                     "target": "epoxy"})])


def _start(r: Recorder, step: str = "start-control-plane") -> None:
    for host in ("ctl1", "ctl2"):
        r.result(step, host, 9.0, stdout="$ systemctl start octavia-api",
                 evidence=[("services", {"action": "start",
                                         "states": {s: "active" for s in ALL}})])


def _finish(r: Recorder, amps: list[dict[str, Any]] = AMPS) -> None:
    r.result("db-migrate", "ctl1", 21.0, stdout="INFO  [alembic] Running upgrade db2a73e82626 -> fabf4983846b",
             evidence=[("db_revision", {"before": "db2a73e82626", "after": "fabf4983846b",
                                        "expected": "fabf4983846b"})])
    _start(r)
    r.result("wait-api", "ctl1", 3.0, stdout="tcp 10.0.0.11:9876 is open")
    r.result("failover-udp", "ctl1", 0.0, status="skipped", rc=None,
             message="skipped: when '{{ params.failover_udp }}' is false")
    r.result("ensure-started", "ctl1", 1.0, advance=False)
    r.result("ensure-started", "ctl2", 1.0)
    r.result("lb-after", "local", 2.4, stdout='[{"id": "lb-1a2b", ...}]',
             evidence=[("loadbalancers", {"loadbalancers": [LB, LB2], "amphorae": amps})])


def successful() -> dict[str, Any]:
    r = Recorder("20261125-160000-a1b2", plan())
    _before(r)
    r.result("upgrade-packages", "ctl1", 3.0, status="failed", rc=100,
             stderr="E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 991",
             message="")
    r.tick(5)
    _packages(r, "ctl1", attempt=2)
    _packages(r, "ctl2")
    _finish(r)
    r.probe(T0, r.now)
    # The API goes down a second after the stop reached it, and answers again a
    # few seconds after its start step ended (readiness).
    stop = min(x.started_at for x in r.results if x.step_id == "stop-control-plane")
    started = {x.host: x.ended_at for x in r.results if x.step_id == "start-control-plane"}
    r.api_probe(r.now, {"ctl1": (stop + timedelta(seconds=1), started["ctl1"] + timedelta(
        seconds=2.6)), "ctl2": (stop + timedelta(seconds=1.2), started["ctl2"] + timedelta(
            seconds=3.4))})
    return r.records("succeeded")


def failed() -> dict[str, Any]:
    r = Recorder("20261125-170000-c3d4", plan())
    _before(r)
    _packages(r, "ctl1")
    _packages(r, "ctl2")
    r.result("db-migrate", "ctl1", 8.0, status="failed", rc=1,
             stderr="sqlalchemy.exc.OperationalError: (pymysql.err.OperationalError) "
                    "(2003, \"Can't connect to MySQL server on 'db.internal'\")",
             message="octavia-db-manage upgrade head failed (rc 1); database was at db2a73e82626",
             evidence=[("db_revision", {"before": "db2a73e82626", "after": "db2a73e82626",
                                        "expected": "fabf4983846b"})])
    _start(r, "ensure-started")
    r.probe(T0, r.now)
    return r.records("failed")


def resumed() -> dict[str, Any]:
    r = Recorder("20261125-180000-e5f6", plan())
    _before(r)
    _packages(r, "ctl1")
    r.result("upgrade-packages", "ctl2", 10.0, status="unknown", rc=None,
             message="in flight when the run stopped")
    r.tick(10)
    r.event("interrupted")
    r.tick(300)
    r.event("resumed", user="bob", unknown_rerun="upgrade-packages@ctl2")
    _packages(r, "ctl2", attempt=2)
    _finish(r)
    r.probe(T0, r.now)
    # The API goes down a second after the stop reached it, and answers again a
    # few seconds after its start step ended (readiness).
    stop = min(x.started_at for x in r.results if x.step_id == "stop-control-plane")
    started = {x.host: x.ended_at for x in r.results if x.step_id == "start-control-plane"}
    r.api_probe(r.now, {"ctl1": (stop + timedelta(seconds=1), started["ctl1"] + timedelta(
        seconds=2.6)), "ctl2": (stop + timedelta(seconds=1.2), started["ctl2"] + timedelta(
            seconds=3.4))})
    return r.records("succeeded")


def rolled_back() -> dict[str, Any]:
    r = Recorder("20261125-190000-a7b8", plan())
    _before(r)
    _packages(r, "ctl1")
    for attempt in (1, 2):
        r.result("upgrade-packages", "ctl2", 30.0, status="failed", rc=100, attempt=attempt,
                 stderr="E: Unable to locate package octavia-common=1:16.0.0-1")
        r.tick(5)
    probe_start = T0
    r.event("rollback-started", step_id="upgrade-packages")
    r.result("reinstall-old", "ctl1", 35.0, advance=False)
    r.result("reinstall-old", "ctl2", 38.0)
    r.result("restore-db", "ctl1", 14.0,
             stdout=f"mysql: [Warning] Using a password on the command line: --password={SECRET}")
    _start(r, "ensure-started")
    # The reinstall restarted amphora-facing services: amp-0003 was replaced.
    amps = AMPS[:2] + [{"id": "amp-0009", "loadbalancer_id": "lb-3c4d", "role": "STANDALONE",
                        "status": "ALLOCATED"}]
    r.result("lb-after", "local", 2.0,
             evidence=[("loadbalancers", {"loadbalancers": [LB, {**LB2, "operating_status":
                                                                  "DEGRADED"}],
                                          "amphorae": amps})])
    r.probe(probe_start, r.now, down=(150, 156))
    return r.records("rolled_back")


SCENARIOS = {"successful": successful, "failed": failed, "resumed": resumed,
             "rolled_back": rolled_back}

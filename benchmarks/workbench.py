"""The benchmark bench: bare lab nodes and the same workload run three ways.

One :class:`Workbench` owns N bare sshd nodes (``octavia_upgrade.lab.nodes``)
and a work folder. For each measured run it lays out fresh node state
(``ROOT/HOST/`` with service files, version files, ``octavia.conf``), runs the
workload with octavia-upgrade, ``ansible-playbook`` or the ``ssh`` loop, and
returns the wall time. Afterwards :meth:`Workbench.ops` reads what each host
really did (``ROOT/HOST/ops``, written by ``workload/node.sh``), so the runner
can check that all three did the same work.

Every process started here (nodes, ControlMasters, Ansible's ControlPersist
masters) is stopped by PID or by its control socket in :meth:`close`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from octavia_upgrade.lab.nodes import LabNodes, RunningNode, default_specs

HERE = Path(__file__).resolve().parent
WORKLOAD = HERE / "workload"
NODE_SH = WORKLOAD / "node.sh"
FLAVOR = WORKLOAD / "flavor.yaml"
RUNBOOK = WORKLOAD / "runbook.yaml"
PLAYBOOK = WORKLOAD / "playbook.yml"
SSH_LOOP = WORKLOAD / "ssh-loop.sh"
UNITS = ("octavia-api", "octavia-worker", "octavia-health-manager", "octavia-housekeeping",
         "octavia-driver-agent")
#: The benchmark venv (ansible-core, matplotlib), made by ``benchmarks/run``.
BENCH_VENV = Path(os.environ.get("OCTAVIA_BENCH_VENV") or HERE / ".venv-ansible").resolve()
ROLES = ["api", "worker", "health-manager", "housekeeping", "driver-agent", "db-migrate"]


@dataclass(frozen=True)
class Timed:
    """One measured process: wall and CPU seconds, peak RSS (KiB), exit code, output.

    CPU (user + system) and peak RSS come from ``wait4``: the process itself
    plus the children it waited for (Ansible's forks, for instance).
    """

    wall: float
    maxrss_kib: int
    rc: int
    output: str
    cpu: float = 0.0


def run_timed(cmd: list[str], *, env: dict[str, str] | None = None,
              cwd: Path | None = None) -> Timed:
    """Run ``cmd`` to completion; wall time from just before fork to reaping."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, env=env, cwd=cwd)
    try:
        # wait4 gives this child's own rusage (peak RSS) as it is reaped.
        assert proc.stdout is not None
        out = proc.stdout.read()
        _pid, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Timed(wall, int(usage.ru_maxrss), proc.returncode, out.decode(errors="replace"),
                 usage.ru_utime + usage.ru_stime)


class Workbench:
    def __init__(self, work: Path, count: int, net: str) -> None:
        self.work = work
        self.count = count
        self.nodes = LabNodes(work / "lab")
        self.state_dir = work / "state"
        self.bin = Path(sys.executable).parent
        self.ansible_bin = BENCH_VENV / "bin"
        self._masters: list[subprocess.Popen[bytes]] = []
        self._runs = 0
        try:
            started = self.nodes.start(default_specs(count, net=net))
        except BaseException:
            self.nodes.stop()  # the nodes that did start
            raise
        # node1, node2, ... in address order: every method uses the first N of these.
        self.running: list[RunningNode] = sorted(
            started, key=lambda n: tuple(int(x) for x in n.address.split(".")))

    # -- node state ----------------------------------------------------------

    def fresh_root(self, label: str) -> Path:
        """A new state folder for one run: every service running, at Dalmatian."""
        self._runs += 1
        root = self.work / "roots" / f"{self._runs:03d}-{label}"
        for node in self.running:
            d = root / node.name
            (d / "run").mkdir(parents=True)
            (d / "version").write_text("15.1.0\n")
            (d / "lib-version").write_text("3.6.0\n")
            (d / "octavia.conf").write_text("[DEFAULT]\ndebug = False\n")
            (d / "ops").touch()
            for unit in UNITS:
                (d / "run" / unit).touch()
        (root / "db-revision").write_text("db2a73e82626\n")
        return root

    def ops(self, root: Path, hosts: int) -> dict[str, list[str]]:
        """What each of the first ``hosts`` nodes did, in order."""
        return {n.name: (root / n.name / "ops").read_text().splitlines()
                for n in self.running[:hosts]}

    # -- octavia-upgrade -----------------------------------------------------

    def inventory(self, hosts: int, root: Path) -> Path:
        names = [n.name for n in self.running[:hosts]]
        data = self.nodes.inventory_data({n: ROLES for n in names}, flavor=str(FLAVOR),
                                         deployment=f"bench-{hosts}",
                                         vars={"node": str(NODE_SH), "root": str(root)})
        # The workload's nodes serve no API; ansible and ssh probe nothing either.
        data["api_probe"] = False
        path = root / "inventory.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def runbook(self, *, rolling: bool, steps: int, name: str = "runbook") -> Path:
        """The workload runbook: the first ``steps`` steps; ``serial: 1`` when rolling."""
        doc = yaml.safe_load(RUNBOOK.read_text())
        doc["steps"] = doc["steps"][:steps]
        if rolling:
            for step in doc["steps"]:
                if not step.get("targets", {}).get("once"):
                    step["serial"] = 1
        doc["metadata"]["name"] = name
        path = self.work / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def true_runbook(self, steps: int, command: str = "true") -> Path:
        """``steps`` command steps running ``command`` on every host at once (per-step cost)."""
        doc = yaml.safe_load(RUNBOOK.read_text())
        label = "true" if command == "true" else "work"
        doc["metadata"]["name"] = f"{label}-{steps}"
        doc["steps"] = [{"id": f"{label}-{i}", "name": f"{command} {i}", "kind": "command",
                         "with": {"command": command}} for i in range(1, steps + 1)]
        path = self.work / f"{label}-{steps}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    def engine_env(self, state_dir: Path | None = None) -> dict[str, str]:
        return {**os.environ, "OCTAVIA_UPGRADE_STATE_DIR": str(state_dir or self.state_dir)}

    def engine(self, runbook: Path, hosts: int, root: Path,
               state_dir: Path | None = None) -> Timed:
        inv = self.inventory(hosts, root)
        return run_timed([str(self.bin / "octavia-upgrade"), "run", str(runbook), "-i", str(inv),
                          "--yes", "--no-detect", "-q"], env=self.engine_env(state_dir))

    # -- ansible-playbook ----------------------------------------------------

    def _ansible_files(self, hosts: int) -> tuple[Path, Path]:
        adir = self.work / "ansible"
        (adir / "cp").mkdir(parents=True, exist_ok=True)
        lines = ["[bench]"]
        for n in self.running[:hosts]:
            lines.append(f"{n.name} ansible_host={n.address} ansible_port={n.port}")
        lines += ["", "[bench:vars]", "ansible_user=root",
                  f"ansible_ssh_private_key_file={self.nodes.client_key}",
                  "ansible_python_interpreter=/usr/bin/python3"]
        inv = adir / f"hosts-{hosts}.ini"
        inv.write_text("\n".join(lines) + "\n")
        cfg = adir / f"ansible-{hosts}.cfg"
        cfg.write_text(
            "[defaults]\n"
            f"forks = {max(hosts, 5)}\n"
            "gathering = explicit\n"
            "host_key_checking = True\n"
            "retry_files_enabled = False\n"
            f"local_tmp = {adir / 'tmp'}\n"
            "[ssh_connection]\n"
            "pipelining = True\n"
            "ssh_args = -F none -o ControlMaster=auto -o ControlPersist=120s "
            f"-o UserKnownHostsFile={self.nodes.known_hosts} -o StrictHostKeyChecking=yes\n"
            f"control_path_dir = {adir / 'cp'}\n")
        return inv, cfg

    def ansible(self, hosts: int, root: Path, *, rolling: bool, steps: int) -> Timed:
        inv, cfg = self._ansible_files(hosts)
        tags = ",".join(f"s{i:02d}" for i in range(1, steps + 1))
        cmd = [str(self.ansible_bin / "ansible-playbook"), "-i", str(inv), str(PLAYBOOK),
               "-e", f"node={NODE_SH}", "-e", f"root={root}", "--tags", tags]
        if rolling:
            cmd += ["-e", "bench_serial=1"]
        env = {**os.environ, "ANSIBLE_CONFIG": str(cfg),
               "PATH": f"{self.ansible_bin}:{os.environ.get('PATH', '')}"}
        return run_timed(cmd, env=env)

    def close_ansible_masters(self) -> None:
        """Ask each ControlPersist master Ansible left behind to exit (by its socket)."""
        cp = self.work / "ansible" / "cp"
        for sock in cp.glob("*") if cp.exists() else ():
            subprocess.run(["ssh", "-F", "none", "-o", f"ControlPath={sock}", "-O", "exit",
                            "bench"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           check=False, timeout=10)

    # -- ssh loop ------------------------------------------------------------

    def _ssh_base(self, node: RunningNode) -> list[str]:
        return ["ssh", "-F", "none", "-i", str(self.nodes.client_key), "-p", str(node.port),
                "-o", f"UserKnownHostsFile={self.nodes.known_hosts}",
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"]

    def start_masters(self, hosts: int) -> Path:
        """One foreground ControlMaster per host (we own their PIDs); ready on return."""
        cdir = self.work / "cm"
        cdir.mkdir(exist_ok=True)
        for node in self.running[:hosts]:
            sock = cdir / node.name
            self._masters.append(subprocess.Popen(
                [*self._ssh_base(node), "-N", "-o", "ControlMaster=yes",
                 "-o", "ControlPersist=no", "-o", f"ControlPath={sock}", f"root@{node.address}"],
                stdin=subprocess.DEVNULL))
        deadline = time.monotonic() + 30
        for node in self.running[:hosts]:
            while not (cdir / node.name).exists():
                if time.monotonic() > deadline:
                    raise RuntimeError(f"ControlMaster for {node.name} did not come up")
                time.sleep(0.002)
        return cdir

    def stop_masters(self) -> None:
        for proc in self._masters:
            proc.terminate()
        for proc in self._masters:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self._masters.clear()

    def ssh_hosts(self, hosts: int) -> list[str]:
        return [f"{n.name}={n.address}" for n in self.running[:hosts]]

    def ssh_loop(self, hosts: int, root: Path, *, rolling: bool, steps: int) -> Timed:
        """The loop, including bringing up its ControlMasters (connection setup counts)."""
        started = time.perf_counter()
        try:
            cdir = self.start_masters(hosts)
            res = run_timed([str(SSH_LOOP), "rolling" if rolling else "parallel", str(steps),
                             str(NODE_SH), str(root), str(cdir), *self.ssh_hosts(hosts)])
        finally:
            stop = time.perf_counter()
            self.stop_masters()
        return Timed(stop - started, res.maxrss_kib, res.rc, res.output, res.cpu)

    def ssh_command(self, node: RunningNode, cdir: Path, command: str) -> list[str]:
        return ["ssh", "-F", "none", "-o", "BatchMode=yes", "-o", "ControlMaster=no",
                "-o", f"ControlPath={cdir / node.name}", f"root@{node.address}", command]

    # -- teardown ------------------------------------------------------------

    def close(self) -> None:
        try:
            self.stop_masters()
            self.close_ansible_masters()
        finally:
            self.nodes.stop()
            shutil.rmtree(self.work / "roots", ignore_errors=True)


def require(condition: bool, message: str) -> None:
    if not condition:
        raise SystemExit(f"benchmarks: {message}")

"""The kolla lab's images and registry: built in the lab, served on loopback.

Each release's image is built the way kolla lays an image out, without a
distribution of its own (docs/lab.md, "The kolla style"):

* a base of a few hundred kB imported from a tar: the merged-usr symlinks, a
  minimal ``/etc`` (kolla's users and ids: ``octavia`` 42437, group ``kolla``
  42400; the machine's ``pam.d`` and ``security``, which sudo needs whole),
  and :mod:`.kollaimage`'s ``kolla_start``, ``kolla_set_configs``,
  ``kolla_extend_start`` and sudoers. Python, bash, sudo and the MySQL clients
  come from the machine's ``/usr``, which every lab container mounts
  read-only (the nodes' ``containers.conf``);
* per release, ``/var/lib/kolla/venv`` installed offline from the release's
  wheelhouse in a container of the base, committed with ``dumb-init`` as the
  entry point and ``USER octavia``, and tagged as each Octavia service's
  image (``openstack.kolla/octavia-api:2024.2-debian-bookworm`` …).

Everything runs in a private mount namespace whose ``/var/lib/containers``,
``/run/containers``, ``/run/libpod`` and ``/etc/containers`` are folders of the
lab: the machine's own podman storage is never touched, and the build's mounts
end with it. The images are pushed, as manifest lists (podman 4.3 cannot
``manifest inspect`` a plain image), to Debian's ``docker-registry`` listening
on 127.0.0.1, which the nodes pull from as a kolla host pulls from its registry.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from octavia_upgrade.errors import LabError
from octavia_upgrade.lab import procs
from octavia_upgrade.lab.procs import Proc

#: Where podman keeps its state; each is a folder of the lab inside a namespace.
PODMAN_PATHS = ("/etc/containers", "/var/lib/containers", "/run/containers", "/run/libpod")
#: The Octavia venv inside kolla's images.
VENV = "/var/lib/kolla/venv"
#: kolla's ids (kolla/common/users.py).
OCTAVIA_UID, KOLLA_GID = 42437, 42400
BASE_REPO = "octavia-upgrade-lab/kolla-base"
BASE_TAG = "latest"
#: The machine's folders every lab container mounts read-only (not the whole /usr:
#: that would hide the image's /usr/local/bin, where kolla_start lives).
SHARED_USR = ("/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64", "/usr/libexec", "/usr/share")
#: The files written into the images and onto the nodes (:mod:`.kollaimage`).
IMAGE_FILES = Path(__file__).with_name("kollaimage")


@dataclass(frozen=True)
class ReleaseImage:
    """One release's image: where its wheels are and the names it is pushed as."""

    series: str
    wheelhouse: Path
    requirements: tuple[str, ...]
    #: Every reference of this one image (one per Octavia service).
    names: tuple[str, ...]


def containers_conf(tmp_dir: str = "/run/containers/libpod-tmp") -> str:
    """``containers.conf`` of the lab's podman (measured on Debian 12's podman 4.3)."""
    volumes = ", ".join(f'"{d}:{d}:ro"' for d in SHARED_USR)
    return ("# Written by `octavia-upgrade lab up` (kolla style).\n"
            "[containers]\n"
            "# crun and the default ulimits fail here on setrlimit(RLIMIT_NOFILE).\n"
            "default_ulimits = []\n"
            "# The caller's proxy variables never reach a container.\n"
            "http_proxy = false\n"
            "# No network unless asked for (kolla's containers ask for the host's): a\n"
            "# bridge would change the machine's firewall and routes.\n"
            'netns = "none"\n'
            f"volumes = [{volumes}]\n"
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'runtime = "runc"\n'
            f'tmp_dir = "{tmp_dir}"\n'
            'events_logger = "file"\n'
            'events_logfile_path = "/run/containers/events.log"\n'
            "[engine.runtimes]\n"
            'runc = ["/usr/sbin/runc"]\n'
            "[network]\n"
            'network_config_dir = "/var/lib/containers/net"\n')


def podman_config(registry: str) -> dict[str, str]:
    """The files of a namespace's ``/etc/containers`` (name → text)."""
    return {
        "containers.conf": containers_conf(),
        "storage.conf": ('[storage]\ndriver = "overlay"\n'
                         'graphroot = "/var/lib/containers/storage"\n'
                         'runroot = "/run/containers/storage"\n'),
        "registries.conf": ("unqualified-search-registries = []\n"
                            f'[[registry]]\nlocation = "{registry}"\ninsecure = true\n'),
        "policy.json": json.dumps({"default": [{"type": "insecureAcceptAnything"}]}) + "\n",
    }


def write_podman_config(etc_containers: Path, registry: str) -> None:
    etc_containers.mkdir(parents=True, exist_ok=True)
    for name, text in podman_config(registry).items():
        (etc_containers / name).write_text(text, encoding="utf-8")


def base_rootfs(root: Path) -> None:
    """The base image's root file system in ``root`` (see the module's docstring)."""
    if root.exists():
        shutil.rmtree(root)
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64"),
                         ("sbin", "usr/sbin")):
        root.mkdir(parents=True, exist_ok=True)
        (root / link).symlink_to(target)
    for d in (*(p.lstrip("/") for p in SHARED_USR), "usr/local/bin", "etc/sudoers.d",
              "etc/octavia", "var/lib/kolla/config_files", "var/log/kolla/octavia",
              "var/lib/octavia", "var/tmp", "tmp", "root", "run", "proc", "sys", "dev"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "var/tmp").chmod(0o1777)
    etc = root / "etc"
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n"
                                "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
                                f"octavia:x:{OCTAVIA_UID}:{OCTAVIA_UID}::/var/lib/octavia:"
                                "/usr/sbin/nologin\n")
    (etc / "group").write_text(f"root:x:0:\nkolla:x:{KOLLA_GID}:octavia\n"
                               f"octavia:x:{OCTAVIA_UID}:\nnogroup:x:65534:\n")
    (etc / "shadow").write_text("root:*:19000:0:99999:7:::\noctavia:!:19000:0:99999:7:::\n")
    (etc / "gshadow").write_text("root:*::\nkolla:!::octavia\noctavia:!::\nnogroup:*::\n")
    for name in ("shadow", "gshadow"):
        (etc / name).chmod(0o640)
    # sudo fails ("unable to initialize PAM") with only part of pam.d and security.
    for folder in ("pam.d", "security", "alternatives", "ld.so.conf.d"):
        if Path("/etc", folder).is_dir():
            shutil.copytree(Path("/etc", folder), etc / folder, symlinks=True)
    for name in ("nsswitch.conf", "ld.so.cache", "ld.so.conf", "debian_version", "os-release"):
        if Path("/etc", name).is_file():
            shutil.copyfile(Path("/etc", name), etc / name)
    shutil.copyfile(IMAGE_FILES / "sudoers", etc / "sudoers")
    (etc / "sudoers").chmod(0o440)
    local = root / "usr/local/bin"
    for src, dest in (("set_configs.py", "kolla_set_configs"), ("kolla_start", "kolla_start"),
                      ("extend_start", "kolla_extend_start")):
        shutil.copyfile(IMAGE_FILES / src, local / dest)
        (local / dest).chmod(0o755)
    for d in ("var/lib/octavia", "var/log/kolla/octavia"):
        os.chown(root / d, OCTAVIA_UID, OCTAVIA_UID)


def build_script(base_tar: Path, base_ref: str, images: Sequence[ReleaseImage],
                 venv_copy: Path | None) -> str:
    """The shell script run inside the build's namespace (pure, for the tests)."""
    q = shlex.quote
    path = f"ENV PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    lines = ["set -euo pipefail", "pids=()",
             f"podman import -q --change {q(path)}"
             f" --change 'ENV LANG=C.UTF-8' --change 'ENV KOLLA_BASE_DISTRO=debian'"
             f" --change 'CMD [\"kolla_start\"]' {q(str(base_tar))} {q(base_ref)} >/dev/null",
             f"echo 'base image {base_ref}'"]
    # The releases build side by side (pip is mostly one core's work); each is a
    # function run in the background, waited for by its PID so a failure stops here.
    for i, img in enumerate(images):
        reqs = " ".join(q(r) for r in img.requirements)
        copy = f" && cp -a {VENV}/. /venv-copy/" if (i == 0 and venv_copy) else ""
        mount = f" -v {q(str(venv_copy))}:/venv-copy" if (i == 0 and venv_copy) else ""
        install = (f"/usr/bin/python3 -m venv {VENV} && {VENV}/bin/pip install -q "
                   "--no-cache-dir --disable-pip-version-check --no-index "
                   f"--find-links /wheelhouse --constraint /wheelhouse/constraints.txt {reqs}"
                   f"{copy}")
        ctr = f"build-{img.series}"
        first, *others = img.names
        lines += [
            f"build_{i}() {{",
            f"  podman rm -f {ctr} >/dev/null 2>&1 || true",
            f"  podman run --name {ctr} --network host --user root"
            f" -v {q(str(img.wheelhouse))}:/wheelhouse:ro{mount} {q(base_ref)}"
            f" bash -c {q(install)}",
            f"  podman commit -q --change 'USER octavia' --change 'CMD [\"kolla_start\"]'"
            f" --change 'ENTRYPOINT [\"dumb-init\", \"--single-child\", \"--\"]'"
            f" --change {q('LABEL octavia-upgrade-lab.series=' + img.series)}"
            f" {ctr} {q(first)} >/dev/null",
            f"  podman rm {ctr} >/dev/null",
            *(f"  podman tag {q(first)} {q(n)}" for n in others),
            f"  echo {q(img.series + ': ' + first)}",
            "}",
            f"build_{i} & pids+=($!)",
        ]
    lines.append('for pid in "${pids[@]}"; do wait "$pid"; done')
    # Manifest lists: podman 4.3 cannot `manifest inspect` a single image.
    for n, ref in enumerate([base_ref, *(name for img in images for name in img.names)]):
        lst = f"localhost/octavia-upgrade-lab-list-{n}"
        lines += [f"podman manifest create {lst} >/dev/null",
                  f"podman manifest add {lst} containers-storage:{q(ref)} >/dev/null",
                  f"podman manifest push -q --all --tls-verify=false {lst} docker://{q(ref)}",
                  f"podman manifest rm {lst} >/dev/null"]
    lines.append("echo pushed")
    return "\n".join(lines) + "\n"


def in_namespace(binds: dict[str, Path], script: str) -> list[str]:
    """argv running ``script`` in a new private mount namespace with ``binds``
    (path inside → folder of the lab) mounted; every mount ends with it."""
    mounts = " && ".join(f"mount --bind {shlex.quote(str(src))} {shlex.quote(tgt)}"
                         for tgt, src in binds.items())
    return ["unshare", "--mount", "--propagation", "private", "--", "bash", "-c",
            f"{mounts} && exec bash -c {shlex.quote(script)}"]


def build(work: Path, registry: str, images: Sequence[ReleaseImage], *,
          venv_copy: Path | None, record: Callable[[Proc | None], None],
          log: Callable[[str], None]) -> None:
    """Build the base and every release's image in ``work`` and push them to ``registry``.

    ``record`` is called with the build's process as soon as it runs (so a
    ``lab down`` from another process can stop it) and with ``None`` once it
    ended. ``venv_copy``: a folder that receives a copy of the first release's
    venv (the lab's own tools run from it). The build's storage is removed
    afterwards: the nodes pull from the registry.

    Raises:
        LabError: a step failed (the last lines of the build's log).
    """
    work.mkdir(parents=True, exist_ok=True)
    binds = {}
    for target in PODMAN_PATHS:
        src = work / target.strip("/").replace("/", "-")
        src.mkdir(parents=True, exist_ok=True)
        binds[target] = src
    write_podman_config(binds["/etc/containers"], registry)
    base_rootfs(work / "rootfs")
    base_tar = work / "base.tar"
    subprocess.run(["tar", "--numeric-owner", "-C", str(work / "rootfs"), "-cf",
                    str(base_tar), "."], check=True)
    if venv_copy is not None:
        venv_copy.mkdir(parents=True, exist_ok=True)
    script = build_script(base_tar, f"{registry}/{BASE_REPO}:{BASE_TAG}", images, venv_copy)
    log_file = work / "build.log"
    t0 = time.monotonic()
    popen, proc = procs.spawn("kolla-image-build", in_namespace(binds, script), cwd=work,
                              log=log_file)
    record(proc)
    try:
        rc = popen.wait(timeout=1800)
    except subprocess.TimeoutExpired:
        rc = -1
    try:
        os.killpg(popen.pid, signal.SIGKILL)  # a build still running beside a failed one
    except ProcessLookupError:
        pass
    popen.wait()
    record(None)
    if rc != 0:
        tail = "\n".join(log_file.read_text(errors="replace").strip().splitlines()[-15:])
        raise LabError(f"building the kolla images failed (exit {rc}; {log_file}):\n{tail}")
    log(f"kolla images of {', '.join(i.series for i in images)} built and pushed to "
        f"{registry} in {time.monotonic() - t0:.0f}s")
    for folder in binds.values():
        shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(work / "rootfs", ignore_errors=True)
    base_tar.unlink(missing_ok=True)


def start_registry(folder: Path) -> tuple[Proc, str]:
    """Debian's ``docker-registry`` on 127.0.0.1 (a free port), storage in ``folder``.

    Returns its process and ``address:port``.

    Raises:
        LabError: it is not installed or does not answer within 30 s.
    """
    exe = shutil.which("docker-registry")
    if exe is None:
        raise LabError("docker-registry is not installed (Debian package docker-registry; "
                       "scripts/bootstrap installs it)")
    folder.mkdir(parents=True, exist_ok=True)
    port = procs.free_port()
    address = f"127.0.0.1:{port}"
    config = folder / "config.yml"
    config.write_text("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                      f"    rootdirectory: {folder / 'data'}\n  delete:\n    enabled: true\n"
                      f"http:\n  addr: {address}\n", encoding="utf-8")
    _popen, proc = procs.spawn("docker-registry", [exe, "serve", str(config)], cwd=folder,
                               log=folder / "registry.log")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{address}/v2/", timeout=2):  # noqa: S310
                return proc, address
        except OSError:
            if not proc.alive():
                break
            time.sleep(0.1)
    proc.stop(5)
    raise LabError(f"the image registry did not answer on {address} "
                   f"(see {folder / 'registry.log'})")

"""kolla-ansible's settings and image names, as kolla-ansible computes them.

Pure: the settings come in as plain variables (flavor vars < inventory vars
< ``globals.yml``, the way kolla-ansible's ``-e @globals.yml`` wins over
group vars) and the image references come out. Facts from
openstack/kolla-ansible at each release tag:

* ``ansible/group_vars/all.yml`` (``all/common.yml`` from 2025.2):
  ``docker_registry``/``docker_namespace`` (``""``/``kolla`` until Wallaby,
  ``quay.io``/``openstack.kolla`` from Xena), ``docker_image_name_prefix``
  (2024.2 on), ``kolla_base_distro`` (``centos`` until Yoga, ``rocky`` from
  Zed), ``kolla_container_engine`` (Zed on; docker before),
  ``openstack_tag`` = ``openstack_release ~ openstack_tag_suffix`` until
  Yoga, ``{openstack_release}-{kolla_base_distro}-{kolla_base_distro_version}
  {openstack_tag_suffix}`` from Zed, with ``kolla_base_distro_version_default_map``;
* ``ansible/roles/octavia/defaults/main.yml``: ``octavia_api_image`` is
  ``…/{kolla_base_distro}-{kolla_install_type}-octavia-api`` until Yoga
  (``binary`` the default until Wallaby, ``source`` in Xena and Yoga) and
  ``…/octavia-api`` from Zed; containers ``octavia_api``, ``octavia_worker``,
  ``octavia_health_manager``, ``octavia_housekeeping``,
  ``octavia_driver_agent``;
* ``ansible/group_vars/all/octavia.yml``: ``enable_octavia_driver_agent:
  "{{ enable_octavia | bool and neutron_plugin_agent == 'ovn' }}"`` (Wallaby
  on, and Victoria's later 11.x) with ``neutron_plugin_agent: openvswitch`` by default.

Templates of the kolla flavor see the result as ``kolla`` (see
:func:`context`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from octavia_upgrade.errors import InvalidInput

#: The container engines kolla-ansible supports (``kolla_container_engine``).
ENGINES = ("docker", "podman")

#: Abstract service → kolla image (and service) name.
IMAGE_NAMES = {"api": "octavia-api", "worker": "octavia-worker",
               "health-manager": "octavia-health-manager",
               "housekeeping": "octavia-housekeeping", "driver-agent": "octavia-driver-agent"}

#: ``kolla_base_distro_version_default_map`` of each release (Zed on).
_DISTRO_VERSIONS: dict[str, dict[str, str]] = {
    "zed": {"centos": "stream9", "debian": "bullseye", "rocky": "9", "ubuntu": "jammy"},
    "antelope": {"centos": "stream9", "debian": "bullseye", "rocky": "9", "ubuntu": "jammy"},
    "bobcat": {"centos": "stream9", "debian": "bookworm", "rocky": "9", "ubuntu": "jammy"},
    "caracal": {"centos": "stream9", "debian": "bookworm", "rocky": "9", "ubuntu": "jammy"},
    "dalmatian": {"centos": "stream9", "debian": "bookworm", "rocky": "9", "ubuntu": "noble"},
    "epoxy": {"centos": "stream9", "debian": "bookworm", "rocky": "9", "ubuntu": "noble"},
    "flamingo": {"centos": "stream10", "debian": "bookworm", "rocky": "10", "ubuntu": "noble"},
    "gazpacho": {"centos": "stream10", "debian": "trixie", "rocky": "10", "ubuntu": "noble"},
    "hibiscus": {"centos": "stream10", "debian": "trixie", "rocky": "10", "ubuntu": "noble"},
}
#: Series before Zed that kolla-ansible deployed Octavia in (Pike on: 5.0.0).
_PRE_ZED = ("pike", "queens", "rocky", "stein", "train", "ussuri", "victoria", "wallaby", "xena",
            "yoga")
#: Series whose default ``kolla_install_type`` was ``source`` (before: ``binary``).
_SOURCE_DEFAULT = ("xena", "yoga")
#: Series whose default registry was Docker Hub's ``kolla`` namespace.
_DOCKER_HUB = ("pike", "queens", "rocky", "stein", "train", "ussuri", "victoria", "wallaby")
_PRE_ZED_DISTROS = ("centos", "debian", "ubuntu", "rhel", "oraclelinux")
#: Series from which kolla-ansible can run ``octavia_driver_agent`` (commit 7a066f715,
#: in 12.0.0 Wallaby and backported to Victoria's 11.x point releases; inventories
#: of older releases have no ``octavia-driver-agent`` group).
DRIVER_AGENT_FROM = "victoria"

#: The settings this module reads (flavor/inventory variables and globals.yml keys).
SETTINGS = ("kolla_container_engine", "docker_registry", "docker_namespace",
            "docker_image_name_prefix", "kolla_base_distro", "kolla_base_distro_version",
            "kolla_install_type", "openstack_tag_suffix", "kolla_tags",
            "enable_octavia_driver_agent", "neutron_plugin_agent", "docker_graceful_timeout")


@dataclass(frozen=True)
class Settings:
    """What decides kolla's container engine and image references.

    ``None`` means "kolla-ansible's default for the release" (registry,
    namespace, distro, install type, distro version). ``tags`` maps a series
    or version id to an explicit tag (an operator's pinned
    ``openstack_tag``), which wins over the computed one.
    """

    engine: str = "docker"
    registry: str | None = None
    namespace: str | None = None
    name_prefix: str = ""
    distro: str | None = None
    distro_version: str | None = None
    install_type: str | None = None
    tag_suffix: str = ""
    tags: Mapping[str, str] | None = None

    @classmethod
    def from_vars(cls, v: Mapping[str, Any], where: str = "vars") -> Settings:
        """Read the settings from template variables (``kolla_*``, ``docker_*``).

        ``container_engine`` is read too (the flavor's older name).

        Raises:
            InvalidInput: an unknown container engine, distro or install type.
        """
        engine = str(v.get("kolla_container_engine") or v.get("container_engine") or "docker")
        if engine not in ENGINES:
            raise InvalidInput(f"{where}: kolla_container_engine {engine!r} is not one kolla "
                               f"supports ({', '.join(ENGINES)})")
        install = _opt(v.get("kolla_install_type"))
        if install not in (None, "source", "binary"):
            raise InvalidInput(f"{where}: kolla_install_type {install!r} is not 'source' or "
                               "'binary'")
        tags = v.get("kolla_tags") or {}
        if not isinstance(tags, Mapping):
            raise InvalidInput(f"{where}: kolla_tags must map a release (series or version) "
                               f"to an image tag, not {type(tags).__name__}")
        return cls(engine=engine, registry=_opt(v.get("docker_registry"), keep_empty=True),
                   namespace=_opt(v.get("docker_namespace")),
                   name_prefix=str(v.get("docker_image_name_prefix") or ""),
                   distro=_opt(v.get("kolla_base_distro")),
                   distro_version=_opt(v.get("kolla_base_distro_version")),
                   install_type=install, tag_suffix=str(v.get("openstack_tag_suffix") or ""),
                   tags={str(k): str(t) for k, t in tags.items()})

    # ------------------------------------------------------------------ naming

    def distro_for(self, series: str) -> str:
        if self.distro:
            return self.distro
        return "centos" if series in _PRE_ZED else "rocky"

    def tag(self, release: Mapping[str, Any]) -> str:
        """The image tag kolla-ansible uses for ``release`` (a catalog entry as a dict)."""
        series, version_id = release["series"], release.get("version_id")
        for key in (series, version_id):
            if key and self.tags and key in self.tags:
                return self.tags[key]
        _check_known(series)
        name = version_id or series
        if series in _PRE_ZED:
            return f"{name}{self.tag_suffix}"
        distro = self.distro_for(series)
        version = self.distro_version or _DISTRO_VERSIONS[series].get(distro)
        if version is None:
            raise InvalidInput(f"kolla_base_distro {distro!r}: kolla-ansible {release_label(release)} "
                               f"builds no such images (distros: "
                               f"{', '.join(sorted(_DISTRO_VERSIONS[series]))}); set "
                               "kolla_base_distro_version or kolla_tags")
        return f"{name}-{distro}-{version}{self.tag_suffix}"

    def repository(self, service: str, release: Mapping[str, Any]) -> str:
        """``registry/namespace/name`` (no tag) of ``service``'s image for ``release``."""
        series = release["series"]
        _check_known(series)
        try:
            name = IMAGE_NAMES[service]
        except KeyError:
            raise InvalidInput(f"unknown service {service!r}; services: "
                               f"{', '.join(IMAGE_NAMES)}") from None
        hub = series in _DOCKER_HUB
        registry = self.registry if self.registry is not None else ("" if hub else "quay.io")
        namespace = self.namespace or ("kolla" if hub else "openstack.kolla")
        if series in _PRE_ZED:
            distro = self.distro_for(series)
            if distro not in _PRE_ZED_DISTROS:
                raise InvalidInput(f"kolla_base_distro {distro!r}: kolla images of "
                                   f"{release_label(release)} were built for "
                                   f"{', '.join(_PRE_ZED_DISTROS)}")
            install = self.install_type or ("source" if series in _SOURCE_DEFAULT
                                            else "binary")
            name = f"{distro}-{install}-{name}"
        return f"{registry + '/' if registry else ''}{namespace}/{self.name_prefix}{name}"

    def image(self, service: str, release: Mapping[str, Any]) -> str:
        """The full image reference (``repository:tag``) of ``service`` for ``release``."""
        return f"{self.repository(service, release)}:{self.tag(release)}"


def release_label(release: Mapping[str, Any]) -> str:
    vid = release.get("version_id")
    return f"{vid} {release['series'].capitalize()}" if vid else release["series"].capitalize()


def _check_known(series: str) -> None:
    if series not in _PRE_ZED and series not in _DISTRO_VERSIONS:
        raise InvalidInput(f"kolla-ansible has no images of release {series!r} "
                           "(its Octavia containers exist from Pike)")


def _opt(value: Any, keep_empty: bool = False) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text if (text or keep_empty) else None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def driver_agent_enabled(v: Mapping[str, Any]) -> bool:
    """kolla-ansible's ``enable_octavia_driver_agent``: given, or true with OVN only.

    A templated value (kolla's own default is a Jinja expression) counts as
    not given: the default rule, ``neutron_plugin_agent == 'ovn'``, applies.
    """
    given = v.get("enable_octavia_driver_agent")
    if given is not None and not (isinstance(given, str) and "{{" in given):
        return _truthy(given)
    return str(v.get("neutron_plugin_agent") or "openvswitch") == "ovn"


def container(service: str) -> str:
    """kolla-ansible's container name of an abstract service (``octavia_health_manager``)."""
    return "octavia_" + service.replace("-", "_")


def context(v: Mapping[str, Any], release: Mapping[str, Mapping[str, Any]],
            roles: tuple[str, ...] | list[str] = (), where: str = "vars") -> dict[str, Any]:
    """What kolla flavor templates see as ``kolla``::

        kolla.engine                      docker | podman
        kolla.images.from.api             image of the deployed release
        kolla.images.to["health-manager"] image of the target release
        kolla.tags.from / kolla.tags.to   the tags alone
        kolla.containers / kolla.container the host's Octavia containers (by its
                                          roles), the first (octavia_api if any)
        kolla.recreate.to / .from         "container=image ..." of the host's
                                          containers on the target (deployed) images

    Raises:
        InvalidInput: bad settings, or a release/distro kolla never built.
    """
    s = Settings.from_vars(v, where)
    names = [container(r) for r in IMAGE_NAMES if r in roles]
    out: dict[str, Any] = {"engine": s.engine, "images": {}, "tags": {}, "containers": names,
                           "container": names[0] if names else container("api")}
    try:
        # Without a runbook (detect) there are no releases: names and containers only.
        for side in ("from", "to"):
            if side in release:
                out["images"][side] = {svc: s.image(svc, release[side]) for svc in IMAGE_NAMES}
                out["tags"][side] = s.tag(release[side])
    except InvalidInput as exc:
        raise InvalidInput(f"{where}: {exc}") from None
    out["recreate"] = {side: " ".join(f"{container(r)}={images[r]}"
                                      for r in IMAGE_NAMES if r in roles)
                       for side, images in out["images"].items()}
    return out


def is_kolla(v: Mapping[str, Any]) -> bool:
    """True for the variables of a kolla-style flavor (it declares ``kolla_base_distro``)."""
    return "kolla_base_distro" in v or "kolla_container_engine" in v

"""Where the Octavia API is and how to reach it, from the inventory's ``vars``.

An operator states the API once per deployment, in the inventory (or a host's
vars): ``octavia_api_cloud`` names a ``clouds.yaml`` cloud (keystone, as
OpenStackClient uses it); without it, openstacksdk reads ``OS_CLOUD`` or the
``OS_*`` variables of the environment. ``octavia_api_endpoint`` overrides the
load-balancer endpoint from the catalog; with ``octavia_api_project_id`` too,
the API is reached without keystone (``auth_strategy = noauth``, the project
in ``X-Project-Id``), as the rehearsal lab runs it. Credentials stay in
``clouds.yaml`` or the environment: nothing here is secret, and nothing here
is ever a password.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

VARS = ("octavia_api_cloud", "octavia_api_endpoint", "octavia_api_project_id",
        "octavia_api_region", "octavia_api_timeout")


@dataclass(frozen=True)
class ApiSettings:
    cloud: str | None = None
    endpoint: str | None = None
    project_id: str | None = None
    region: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_vars(cls, vars_: Mapping[str, Any]) -> ApiSettings:
        def text(name: str) -> str | None:
            value = vars_.get(name)
            return str(value).strip() or None if value is not None else None

        timeout = vars_.get("octavia_api_timeout")
        return cls(cloud=text("octavia_api_cloud"), endpoint=text("octavia_api_endpoint"),
                   project_id=text("octavia_api_project_id"), region=text("octavia_api_region"),
                   timeout=float(timeout) if timeout not in (None, "") else 30.0)

    @property
    def noauth(self) -> bool:
        """The API is reached without keystone (endpoint and project id given)."""
        return bool(self.endpoint and self.project_id)

    def describe(self) -> str:
        """How the API is reached, in words for plans and reports (no credentials)."""
        if self.noauth:
            return f"{self.endpoint} without keystone (project {self.project_id})"
        where = f"clouds.yaml cloud {self.cloud!r}" if self.cloud else \
            "OS_CLOUD / OS_* environment variables"
        extra = f", endpoint {self.endpoint}" if self.endpoint else ""
        region = f", region {self.region}" if self.region else ""
        return f"keystone via {where}{region}{extra}"

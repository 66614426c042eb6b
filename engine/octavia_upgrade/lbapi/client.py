"""The Octavia v2 API through openstacksdk: the reads and writes the engine needs.

openstacksdk is heavy, so it is imported only when a client is first used,
never when the CLI starts. Every answer is returned as plain dictionaries
(the API's field names). Every failure — the API unreachable, credentials
refused or expired, a 4xx/5xx answer — becomes :class:`ApiFailure` carrying
the API's own message; credentials never appear in it.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from octavia_upgrade.errors import UpgradeError
from octavia_upgrade.lbapi.settings import ApiSettings

T = TypeVar("T")


class ApiFailure(UpgradeError):
    """The Octavia API could not be reached or answered with an error."""


def _message(exc: BaseException) -> str:
    """The API's own words for a failure (status code and details, no secrets)."""
    status = getattr(exc, "status_code", None) or getattr(exc, "http_status", None)
    details = getattr(exc, "details", None) or getattr(exc, "message", None) or str(exc)
    text = " ".join(str(details).split())[:400]
    if status == 401:
        text = f"credentials refused or expired: {text}"
    return f"HTTP {status}: {text}" if status else f"{type(exc).__name__}: {text}"


@contextmanager
def _api(what: str) -> Iterator[None]:
    try:
        with warnings.catch_warnings():
            # openstacksdk's deprecation notices are for its developers, not operators.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            yield
    except ApiFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - sdk, keystoneauth and requests errors alike
        raise ApiFailure(f"Octavia API: {what}: {_message(exc)}") from None


class LbApi:
    """A connection to one deployment's Octavia API (thread-safe use of one session)."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self._conn: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        s = self.settings
        try:
            import openstack.connection
        except ImportError:
            raise ApiFailure("the Octavia API client needs openstacksdk: "
                             "pip install 'openstacksdk>=1.0'") from None
        with _api("connect"):
            if s.noauth:
                from keystoneauth1 import noauth
                from keystoneauth1 import session as ks_session

                sess = ks_session.Session(auth=noauth.NoAuth(), timeout=s.timeout,
                                          additional_headers={"X-Project-Id": s.project_id})
                return openstack.connection.Connection(
                    session=sess, load_balancer_endpoint_override=s.endpoint,
                    load_balancer_api_version="2")
            import openstack

            kwargs: dict[str, Any] = {"api_timeout": s.timeout}
            if s.cloud:
                kwargs["cloud"] = s.cloud
            if s.region:
                kwargs["region_name"] = s.region
            if s.endpoint:
                kwargs["load_balancer_endpoint_override"] = s.endpoint
            return openstack.connect(**kwargs)

    @property
    def lb(self) -> Any:
        with self._lock:
            if self._conn is None:
                self._conn = self._connect()
            return self._conn.load_balancer

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        with _api(what):
            return fn()

    def _list(self, what: str, fn: Callable[[], Any]) -> list[dict[str, Any]]:
        with _api(what):
            return [dict(r.to_dict()) for r in fn()]

    # -- reads --------------------------------------------------------------------

    def loadbalancers(self) -> list[dict[str, Any]]:
        return self._list("list load balancers", lambda: self.lb.load_balancers())

    def loadbalancer(self, lb_id: str) -> dict[str, Any]:
        return self._call(f"show load balancer {lb_id}", lambda: dict(
            self.lb.get_load_balancer(lb_id).to_dict()))

    def amphorae(self, lb_id: str | None = None) -> list[dict[str, Any]]:
        query = {"loadbalancer_id": lb_id} if lb_id else {}
        return self._list("list amphorae", lambda: self.lb.amphorae(**query))

    def listeners(self) -> list[dict[str, Any]]:
        return self._list("list listeners", lambda: self.lb.listeners())

    def pools(self) -> list[dict[str, Any]]:
        return self._list("list pools", lambda: self.lb.pools())

    def members(self, pool_id: str) -> list[dict[str, Any]]:
        return self._list(f"list members of pool {pool_id}", lambda: self.lb.members(pool_id))

    def health_monitors(self) -> list[dict[str, Any]]:
        return self._list("list health monitors", lambda: self.lb.health_monitors())

    def l7_policies(self) -> list[dict[str, Any]]:
        return self._list("list L7 policies", lambda: self.lb.l7_policies())

    # -- writes -------------------------------------------------------------------

    def failover(self, lb_id: str) -> None:
        self._call(f"fail over load balancer {lb_id}",
                   lambda: self.lb.failover_load_balancer(lb_id))

    def create(self, what: str, **attrs: Any) -> dict[str, Any]:
        """Create a ``load_balancer``, ``listener``, ``pool`` or ``health_monitor``."""
        return self._call(f"create {what.replace('_', ' ')}", lambda: dict(
            getattr(self.lb, f"create_{what}")(**attrs).to_dict()))

    def create_member(self, pool_id: str, **attrs: Any) -> dict[str, Any]:
        return self._call("create member", lambda: dict(
            self.lb.create_member(pool_id, **attrs).to_dict()))

    def delete_loadbalancer(self, lb_id: str) -> None:
        """Delete a load balancer and everything under it (``cascade``)."""
        self._call(f"delete load balancer {lb_id}",
                   lambda: self.lb.delete_load_balancer(lb_id, cascade=True,
                                                        ignore_missing=True))

"""Host and URL -> client resolution: the host index.

One in-process index maps every client host (default host and verified custom-domain
host) to a small immutable :class:`ClientRoute`. The same index answers "is this an
allowed Host?", "may this Origin call this client?" (CORS) and "is this Origin one of
ours?" (CSRF), so none of them ever scans the clients table.

The index stays correct across processes through a version stamp
(:class:`~app.models.RoutingVersion`): every transaction that changes what a host
resolves to bumps it (see :func:`install_version_bump`), and each process compares its
index's version with the stamp (one primary-key read, at most every
``HOST_INDEX_CHECK_SECONDS``) and rebuilds when they differ. A chat request skips that
read: it takes the index as it is (:meth:`HostResolver.current`) and compares the stamp
its settings read returns (:class:`StaleHostIndex` when they differ).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from math import inf

from sqlalchemy import select

from app.domains.names import default_host
from app.domains.serving import FOREVER, custom_host_serving_until
from app.hosts.origins import normalize_host, normalize_origin, origin_host
from app.hosts.version import AnySession, current_version
from app.models import Account, CustomDomain, DeploymentStatus, LlmClient, ResourceStatus

DEV_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
NO_ORIGINS: frozenset[str] = frozenset()


class StaleHostIndex(Exception):
    """The stamp read with a chat's settings differs from the index it was routed with:
    route the request again on a fresh index."""


@dataclass(frozen=True, slots=True)
class ClientRoute:
    """What a request needs to know about the client behind a host."""

    client_id: int
    name: str
    account_id: int
    account_number: str
    deployed: bool
    require_api_key: bool
    hosts: tuple[str, ...]
    allowed_origins: frozenset[str] = field(default_factory=frozenset)

    @property
    def canonical_host(self) -> str:
        """The custom-domain host when there is one, else the default host."""
        return self.hosts[-1]

    def allows_origin(self, origin: str) -> bool:
        """CORS: the client's own hosts (any scheme/port) and its ``allowed_origins``."""
        normalized = normalize_origin(origin)
        if normalized is None:
            return False
        return normalized in self.allowed_origins or origin_host(origin) in self.hosts


@dataclass(frozen=True, slots=True)
class HostIndex:
    """An immutable snapshot; swapped whole on rebuild so readers never lock."""

    version: int
    by_host: dict[str, ClientRoute]
    by_id: dict[int, ClientRoute]
    # Custom hosts of domains that lost their delegation: served until this epoch second.
    expiring: dict[str, float] = field(default_factory=dict)
    # Every account's custom domains, served or not: their hosts are tenants', never ours.
    tenant_domains: frozenset[str] = frozenset()

    def route_for(self, host: str) -> ClientRoute | None:
        """The client behind a normalized host (None past a lost domain's grace period)."""
        route = self.by_host.get(host)
        if route is not None and self.expiring and time.time() >= self.expiring.get(host, inf):
            return None
        return route

    @classmethod
    def build(
        cls,
        session: AnySession,
        customer_api_domain: str,
        version: int,
        grace: timedelta = timedelta(0),
    ) -> HostIndex:
        rows = session.execute(
            select(
                LlmClient.id,
                LlmClient.name,
                LlmClient.account_id,
                LlmClient.deployment_status,
                LlmClient.require_api_key,
                LlmClient.allowed_origins,
                LlmClient.live_hosts,
                LlmClient.dns_status,
                Account.account_number,
                CustomDomain.domain,
                CustomDomain.status,
                CustomDomain.delegation_lost_at,
            )
            .join(Account, LlmClient.account_id == Account.id)
            .outerjoin(
                CustomDomain,
                (LlmClient.custom_domain_id == CustomDomain.id)
                & (CustomDomain.account_id == LlmClient.account_id),
            )
        )
        by_host: dict[str, ClientRoute] = {}
        by_id: dict[int, ClientRoute] = {}
        expiring: dict[str, float] = {}
        for row in rows:
            cid, name, account_id, status, require_key, origins, live, dns, number = row[:9]
            domain, domain_status, lost_at = row[9:]
            hosts = [default_host(name, number, customer_api_domain)]
            custom = custom_host_serving_until(
                name, domain, domain_status, lost_at, grace, live, dns == ResourceStatus.UNMANAGED
            )
            if custom is not None:
                hosts.append(custom[0])
                if custom[1] != FOREVER:
                    expiring[custom[0]] = custom[1].timestamp()
            route = ClientRoute(
                client_id=cid,
                name=name,
                account_id=account_id,
                account_number=number,
                deployed=status == DeploymentStatus.DEPLOYED,
                require_api_key=require_key,
                hosts=tuple(hosts),
                allowed_origins=(
                    frozenset(o for o in map(normalize_origin, origins) if o)
                    if origins
                    else NO_ORIGINS
                ),
            )
            by_id[cid] = route
            for host in hosts:
                by_host[host] = route
        tenant_domains = frozenset(
            d.lower() for d in session.execute(select(CustomDomain.domain)).scalars()
        )
        return cls(version, by_host, by_id, expiring, tenant_domains)


class HostResolver:
    """Per-process holder of the current :class:`HostIndex`, refreshed on version change."""

    def __init__(
        self,
        customer_api_domain: str,
        platform_hosts: frozenset[str],
        dev_hosts_enabled: bool,
        check_seconds: float,
        domain_grace: timedelta = timedelta(0),
    ) -> None:
        self.customer_api_domain = customer_api_domain.lower()
        self.domain_grace = domain_grace
        self.platform_hosts = platform_hosts
        self.dev_hosts_enabled = dev_hosts_enabled
        self.check_seconds = check_seconds
        self._index = HostIndex(version=-1, by_host={}, by_id={})
        self._checked_at = float("-inf")
        self._lock = threading.Lock()

    def index(self, session: AnySession, *, force: bool = False) -> HostIndex:
        """The current index, after a cheap staleness check when one is due (``force``:
        now).

        One thread rebuilds a stale index while the others keep answering from the
        previous one, so a large rebuild never stalls the whole worker."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.check_seconds:
            return self._index
        self._checked_at = now
        version = current_version(session)
        if version == self._index.version:
            return self._index
        if self._index.version >= 0 and not self._lock.acquire(blocking=False):
            return self._index  # someone is rebuilding; serve the previous index meanwhile
        if self._index.version < 0:
            self._lock.acquire()  # nothing to serve yet: wait for the first build
        try:
            if version != self._index.version:
                self._index = HostIndex.build(
                    session, self.customer_api_domain, version, self.domain_grace
                )
        finally:
            self._lock.release()
        return self._index

    def current(self, session: AnySession) -> HostIndex:
        """The index as last built, without the staleness check (built when there is
        none yet): for a caller that verifies the version itself."""
        if self._index.version < 0:
            return self.index(session)
        return self._index

    def lookup_host(self, session: AnySession, host: str) -> ClientRoute | None:
        return self.index(session).route_for(normalize_host(host))

    def is_platform_host(self, host: str) -> bool:
        """Hosts that serve the platform itself (admin, /api/v0), not one client."""
        host = normalize_host(host)
        if host in self.platform_hosts:
            return True
        return self.dev_hosts_enabled and (host in DEV_HOSTS or host.endswith(".localhost"))

    def is_client_host(self, index: HostIndex, host: str) -> bool:
        """A host of a client or of a tenant's domain: the platform's own endpoints (the
        console, /api/v1, the OpenAPI document, /readyz, /metrics) never answer there.

        Any host under CUSTOMER_API_DOMAIN or under an account's custom domain counts,
        served or not, unless it is listed in PLATFORM_HOSTS."""
        host = normalize_host(host)
        if host in index.by_host:
            return True
        if host in self.platform_hosts:
            return False
        if host.endswith("." + self.customer_api_domain):
            return True
        labels = host.split(".")
        return any(".".join(labels[i:]) in index.tenant_domains for i in range(len(labels)))

    @property
    def snapshot(self) -> HostIndex:
        """The index as last built, without a staleness check (no database needed)."""
        return self._index

    def is_trusted_origin(self, origin: str) -> bool:
        """CSRF: browser form posts to the console must come from a platform host."""
        host = origin_host(origin)
        return host is not None and self.is_platform_host(host)

    def invalidate(self) -> None:
        """Force a version check on the next lookup (after a local commit, in tests)."""
        self._checked_at = float("-inf")

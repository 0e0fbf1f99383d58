"""Which client a request's Host names, and who may call it.

- ``index``: the in-process host index (host -> :class:`ClientRoute`, allowed origins);
- ``version``: its version stamp, bumped in the flush of any routing change;
- ``origins``: hosts and origins normalised as the index compares them.
"""

from app.domains.names import default_host
from app.hosts.index import DEV_HOSTS, ClientRoute, HostIndex, HostResolver, StaleHostIndex
from app.hosts.origins import normalize_host, normalize_origin, origin_host
from app.hosts.version import AnySession, bump_version, current_version, install_version_bump

__all__ = [
    "DEV_HOSTS",
    "AnySession",
    "ClientRoute",
    "HostIndex",
    "HostResolver",
    "StaleHostIndex",
    "bump_version",
    "current_version",
    "default_host",
    "install_version_bump",
    "normalize_host",
    "normalize_origin",
    "origin_host",
]

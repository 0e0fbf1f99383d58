"""How a list setting is written in the environment: comma-separated, parsed once here
into typed items (``Annotated`` types the settings' fields use)."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Network
from typing import Annotated, Any

from pydantic import BeforeValidator, SecretStr
from pydantic_settings import NoDecode

from app.names import is_host_name


def _comma_separated(value: Any) -> Any:
    """The environment's ``a, b,c`` as ``["a", "b", "c"]`` (empty items dropped)."""
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def _host_names(value: Any) -> Any:
    """Lower-case host names without a trailing dot; anything else is refused."""
    hosts = [str(h).strip().lower().rstrip(".") for h in _comma_separated(value)]
    bad = [h for h in hosts if not is_host_name(h)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a host name")
    return hosts


IntList = Annotated[list[int], NoDecode, BeforeValidator(_comma_separated)]
HostList = Annotated[list[str], NoDecode, BeforeValidator(_host_names)]
IPv4List = Annotated[list[IPv4Address], NoDecode, BeforeValidator(_comma_separated)]
NetworkList = Annotated[
    list[IPv4Network | IPv6Network], NoDecode, BeforeValidator(_comma_separated)
]
SecretList = Annotated[list[SecretStr], NoDecode, BeforeValidator(_comma_separated)]

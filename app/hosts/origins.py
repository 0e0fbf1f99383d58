"""Hosts and origins as the index compares them: lower case, no port or trailing dot,
default ports dropped. Pure."""

from __future__ import annotations

from urllib.parse import urlsplit

from app.names import is_host_name


def normalize_host(host: str) -> str:
    """Lower-case host without port or trailing dot; ``[::1]:5000`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def normalize_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` in lower case, default ports dropped; None if malformed
    (user info, or a host that is neither an IP address nor a DNS name)."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname.lower().rstrip(".")
    if not is_host_name(host):
        return None
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def origin_host(origin: str) -> str | None:
    try:
        hostname = urlsplit(origin.strip()).hostname
    except ValueError:
        return None
    return normalize_host(hostname) if hostname else None

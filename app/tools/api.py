"""``api`` plugins: one HTTP request to an account's API connection.

``{param}`` placeholders of the path take the argument URL-encoded (``/``, ``?``, ``..``
included: a value can never change the path or add a query), the other arguments go in
the query string (GET, DELETE) or a JSON body. Every connection, redirect hops included,
goes through the network guard, and a hop to another origin goes without the
connection's headers; the body is read up to the size cap and cut there.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from app.netguard import NetworkRefused, guarded_http_client, was_truncated
from app.tools.base import ConnectionConfig, Limits, ToolFailed
from app.tools.specs import PLACEHOLDER

MAX_REDIRECTS = 5
BODY_METHODS = ("POST", "PUT", "PATCH")


def build_request(
    base_url: str, method: str, path: str, arguments: dict[str, Any]
) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    """URL, query parameters and JSON body of the call."""
    used = set(PLACEHOLDER.findall(path))

    def fill(match: Any) -> str:
        return quote(_text(arguments.get(match.group(1), "")), safe="")

    url = base_url.rstrip("/") + PLACEHOLDER.sub(fill, path)
    rest = {k: v for k, v in arguments.items() if k not in used and v is not None}
    if method in BODY_METHODS:
        return url, {}, rest
    return url, {k: _text(v) for k, v in rest.items()}, None


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def call_api(
    connection: ConnectionConfig,
    method: str,
    path: str,
    arguments: dict[str, Any],
    limits: Limits,
) -> dict[str, Any]:
    url, params, body = build_request(connection.config["base_url"], method, path, arguments)
    headers = {h["name"]: h["value"] for h in connection.secrets.get("headers", [])}
    cap = limits.api_max_response_bytes
    try:
        with guarded_http_client(
            list(limits.allowed_networks),
            timeout=limits.timeout,
            max_response_bytes=cap,
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers=headers,
        ) as client:
            client.event_hooks["request"] = [_secrets_stay_home(url, list(headers))]
            response = client.request(method, url, params=params, json=body)
            raw, cut = response.content, was_truncated(response)
    except NetworkRefused as refused:
        raise ToolFailed(str(refused), "refused") from None
    except httpx.TimeoutException:
        raise ToolFailed(f"the API did not answer within {limits.timeout:g}s", "timeout") from None
    except httpx.TooManyRedirects:
        raise ToolFailed(f"the API redirected more than {MAX_REDIRECTS} times") from None
    except httpx.HTTPError as error:
        raise ToolFailed(f"the API could not be reached: {type(error).__name__}") from None
    result: dict[str, Any] = {"status": response.status_code, "body": _body(response, raw, cut)}
    if cut:
        result["truncated"] = f"the response was cut at {cap} bytes"
    if response.status_code >= 400:
        raise ToolFailed(json.dumps(result, default=str))
    return result


def _secrets_stay_home(url: str, names: list[str]) -> Any:
    """A request hook: a redirect hop to another origin goes without the connection's
    headers (its secrets are for the connection's own host)."""
    home = httpx.URL(url)

    def strip(request: httpx.Request) -> None:
        if (request.url.scheme, request.url.host, request.url.port) != (
            home.scheme,
            home.host,
            home.port,
        ):
            for name in names:
                request.headers.pop(name, None)

    return strip


def _body(response: httpx.Response, raw: bytes, cut: bool) -> Any:
    """Parsed JSON when the API says JSON (and it was read whole), else text."""
    if not cut and "json" in response.headers.get("content-type", ""):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    return raw.decode(response.encoding or "utf-8", "replace")

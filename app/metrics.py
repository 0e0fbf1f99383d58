"""Prometheus metrics. Under gunicorn set PROMETHEUS_MULTIPROC_DIR so /metrics sums
all workers (prometheus_client's multiprocess mode).

Every label takes its value from a known, small set (a request's method, route rule
and status are chosen by the caller, and each new value would be a new series kept
forever): methods outside the standard ones and unregistered status codes are
``other``, endpoints are the matched route's rule or ``unmatched``."""

from __future__ import annotations

import os
from http import HTTPStatus

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

REQUESTS = Counter(
    "chatdock_http_requests_total", "HTTP requests served", ["method", "endpoint", "status"]
)
LATENCY = Histogram(
    "chatdock_http_request_duration_seconds",
    "Time to answer a request (to the first byte for streams)",
    ["method", "endpoint"],
)
PROVIDER_ERRORS = Counter(
    "chatdock_provider_errors_total", "LLM provider calls that failed", ["provider", "code"]
)
FALLBACKS = Counter(
    "chatdock_llm_fallbacks_total",
    "Chat calls passed on to a client's next fallback model, by why the previous one failed",
    ["reason"],
)
LIMITS_UNAVAILABLE = Counter(
    "chatdock_limits_unavailable_total",
    "Chat requests let through unchecked because Redis could not be asked (fail open)",
)
LIMITS_REFUSED = Counter(
    "chatdock_limits_refused_total", "Chat requests refused by a limit", ["limit"]
)
WIDGET_IDENTITY_REFUSED = Counter(
    "chatdock_widget_identity_refused_total",
    "Widget identities refused: the user hash did not match the user id",
)
CHAT_OVERHEAD = Histogram(
    "chatdock_chat_overhead_seconds",
    "chatdock's own time in a chat request: the whole request less the provider's time",
    ["route"],
    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
TOKENS = Counter("chatdock_llm_tokens_total", "Tokens used by LLM calls", ["provider", "kind"])
TOOL_CALLS = Counter(
    "chatdock_tool_calls_total",
    "Tool calls a model made, by tool kind and outcome",
    ["kind", "outcome"],
)
TOOL_LATENCY = Histogram(
    "chatdock_tool_call_duration_seconds",
    "Time one tool call took (validation and execution)",
    ["kind"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
STATUS_CODES = frozenset(status.value for status in HTTPStatus)
OTHER = "other"


def method_label(method: str) -> str:
    return method if method in HTTP_METHODS else OTHER


def status_label(status: int) -> str:
    return str(status) if status in STATUS_CODES else OTHER


def record_request(method: str, rule: str | None, status: int, seconds: float) -> None:
    """Count one answered request; ``rule`` is the matched route's rule (None: no route)."""
    method, endpoint = method_label(method), rule or "unmatched"
    REQUESTS.labels(method, endpoint, status_label(status)).inc()
    LATENCY.labels(method, endpoint).observe(seconds)


def render_latest() -> tuple[bytes, str]:
    """The exposition text of this process, or of every worker in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST

"""Every setting of chatdock, read from the environment (and a ``.env`` file).

Each field's default is the development default, so ``flask run`` works with nothing
configured. Values are typed: a setting with a fixed set of values is a ``Literal`` and a
list is comma-separated in the environment and parsed once here, so a typo stops the
process at start with the setting's name and its valid values (:func:`get_settings`)
instead of silently meaning something else. ``docs/settings.md`` is generated from these
fields (``python -m app.config_docs``).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from ipaddress import IPv4Address
from typing import Any, Literal, get_args

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.config_types import HostList, IntList, IPv4List, NetworkList, SecretList

DEV_SECRET_KEY = "dev-insecure-change-me"
MIN_SECRET_KEY_LENGTH = 32


ProviderName = Literal["echo", "openai", "anthropic"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class InsecureSettings(RuntimeError):
    """Settings no production process may run with (not a ValueError: pydantic would wrap
    it and echo the input values, the secret among them)."""


class SettingsRefused(SystemExit):
    """The process cannot start with its environment. A SystemExit, so ``flask ...``,
    gunicorn's ``wsgi:app`` and the worker stop with this one message on stderr and a
    non-zero status, not a traceback."""


class Settings(BaseSettings):
    """Settings of one chatdock process. Names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=True)

    ENVIRONMENT: Literal["development", "production"] = Field(
        "development",
        description="development (the run command, tests) or production: production refuses "
        "to start with the default or a short (under 32 characters) SECRET_KEY.",
    )
    SECRET_KEY: SecretStr = Field(
        SecretStr(DEV_SECRET_KEY),
        description="Flask secret key (sessions, CSRF). Set a long random value in production.",
    )
    DATABASE_URL: str = Field(
        "sqlite:///chatdock.db",
        description="SQLAlchemy URL. Relative SQLite paths live in the instance folder.",
    )
    DATABASE_POOL_SIZE: int = Field(
        15,
        ge=1,
        description="PostgreSQL connections each web or worker process keeps open. A chat "
        "holds one only while it reads or writes, never while the model answers, so a few "
        "serve a thousand conversations in flight.",
    )
    DATABASE_MAX_OVERFLOW: int = Field(
        0,
        ge=0,
        description="Connections a process may open beyond the pool under bursts (each "
        "opened and closed per use: a pool too small for the load churns connections).",
    )
    DATABASE_POOL_TIMEOUT_SECONDS: float = Field(
        30.0,
        gt=0,
        description="How long a request waits for a free pooled connection before it "
        "answers 503 database_busy (with Retry-After).",
    )
    SQLITE_BUSY_TIMEOUT_SECONDS: float = Field(
        15.0,
        description="SQLite only (WAL mode): how long a write waits for another writer's "
        "transaction before failing.",
    )
    REDIS_URL: str = Field("", description="Redis URL; empty disables Redis (readyz skips it).")
    REDIS_CONNECT_TIMEOUT_SECONDS: float = Field(
        2.0,
        gt=0,
        description="How long a connection to Redis may take (the job queue, locks, "
        "readiness, the RQ dashboard, rate limits of the console's login).",
    )
    REDIS_READ_TIMEOUT_SECONDS: float = Field(
        5.0,
        gt=0,
        description="How long a Redis command may wait for its reply: a Redis that stops "
        "answering fails a request (503) after this instead of holding it. The RQ "
        "worker's blocking dequeue has a connection of its own.",
    )
    CUSTOMER_API_DOMAIN: str = Field(
        "api.localhost", description="Base domain of client hosts: {name}.{account}.{domain}."
    )
    PLATFORM_HOSTS: HostList = Field(
        default_factory=list,
        description="Comma-separated extra hosts the platform serves (admin, API), e.g. "
        "'chatdock.example.com'. Client hosts come from the host index.",
    )
    DEV_HOSTS_ENABLED: bool = Field(
        True, description="Serve localhost, 127.0.0.1 and *.localhost (turn off in production)."
    )
    HOST_INDEX_CHECK_SECONDS: float = Field(
        0.0,
        description="How often (seconds) a process checks the host index version stamp in the "
        "database; 0 checks on every request (one primary-key read). Chat calls check it "
        "with their settings read instead, and every refusal checks it first.",
    )
    CHAT_SETTINGS_CACHE: bool = Field(
        True,
        description="PostgreSQL: each web worker keeps its clients' chat settings (model, "
        "prompt, limits, budget) and drops them when the database announces a change "
        "(LISTEN on one connection of its own per worker; a database trigger NOTIFYs on "
        "commit), instead of reading them on every chat. Turn off behind a pooler in "
        "transaction mode (PgBouncer), where LISTEN does not work.",
    )
    MAX_CONTENT_LENGTH: int = Field(
        1_000_000, description="Largest accepted request body in bytes (413 above)."
    )
    CHAT_MAX_MESSAGES: int = Field(
        100, description="Most messages + prompt_history items in one request."
    )
    CHAT_MAX_MESSAGE_CHARS: int = Field(
        32_000, description="Longest single message, in characters."
    )
    CHAT_HISTORY_TURNS: int = Field(
        50, description="Most stored turns of a session sent back to the provider."
    )
    CHAT_RATE_LIMIT: str = Field(
        "",
        description="Chat requests allowed per client and caller address, e.g. '60/minute' "
        "(limits syntax; '' turns it off), one budget across all its paths and hosts. "
        "Counted in Redis when REDIS_URL is set.",
    )
    CHAT_LIMITS_ENABLED: bool = Field(
        True,
        description="Enforce the accounts' monthly token budgets and the per-minute limits of "
        "clients and API keys (in Redis; they fail open when Redis is unreachable).",
    )
    WIDGET_TOKEN_SECONDS: int = Field(
        600,
        ge=60,
        le=86_400,
        description="Lifetime of a widget token (bound to one client and one embedding "
        "origin); the widget renews it before it expires.",
    )
    API_KEY_LAST_USED_RESOLUTION_SECONDS: int = Field(
        60, description="last_used_at of an API key is written at most this often."
    )
    DEFAULT_PROVIDER: ProviderName = Field("echo", description="Provider of new clients.")
    DEFAULT_MODEL: str = Field("echo-1", description="Model of new clients when none is given.")
    OPENAI_API_KEY: SecretStr = Field(SecretStr(""), description="Key for the openai provider.")
    OPENAI_BASE_URL: str = Field(
        "", description="Base URL of an OpenAI-compatible API (Ollama, vLLM, ...); empty = OpenAI."
    )
    ANTHROPIC_API_KEY: SecretStr = Field(
        SecretStr(""), description="Key for the anthropic provider."
    )
    ANTHROPIC_BASE_URL: str = Field(
        "", description="Base URL of the Anthropic API; empty = default."
    )
    LLM_TIMEOUT_SECONDS: float = Field(60.0, description="Timeout of one provider call.")
    TOOLS_ALLOWED_NETWORKS: NetworkList = Field(
        default_factory=list,
        description="Comma-separated CIDR networks that tools, connections and provider "
        "base URLs may reach although they are not public (e.g. '10.20.0.0/16' for a "
        "customer database on a peered network). Empty: only public addresses; loopback, "
        "private, link-local (cloud metadata), shared, multicast and reserved addresses "
        "are refused on the resolved address of every request.",
    )
    SECRETS_ENCRYPTION_KEYS: SecretList = Field(
        default_factory=list,
        description="Comma-separated Fernet keys that encrypt connection secrets at rest "
        "(the first encrypts, every one decrypts: put a new key first to rotate). Empty in "
        "development: a key derived from SECRET_KEY; production refuses to start without "
        "one. Make one with python3 -c 'from cryptography.fernet import Fernet; "
        "print(Fernet.generate_key().decode())'.",
    )
    # --- tools (plugins, built-in functions; docs/tools.md) ------------------------------
    TOOLS_MAX_ROUNDS: int = Field(
        5, ge=1, description="Most model rounds of one chat turn that calls tools."
    )
    TOOLS_MAX_PER_REQUEST: int = Field(
        16, ge=0, description="Most tools (selected plugins and built-ins) offered in one request."
    )
    TOOLS_TIMEOUT_SECONDS: float = Field(
        10.0, gt=0, description="Timeout of one tool call (SQL statement, HTTP request)."
    )
    TOOLS_MAX_RESULT_CHARS: int = Field(
        16_000, ge=100, description="Longest tool result given back to the model (cut beyond)."
    )
    TOOLS_SQL_MAX_ROWS: int = Field(100, ge=1, description="Most rows a sql plugin returns.")
    TOOLS_API_MAX_RESPONSE_BYTES: int = Field(
        1_000_000, ge=1024, description="Largest response body an api plugin reads (cut beyond)."
    )
    # --- infrastructure (Terraform, AWS, Kubernetes) -----------------------------------
    TF_BINARY: str = Field("terraform", description="The terraform executable.")
    TF_PLUGIN_DIR: str = Field(
        "/opt/tf-plugins",
        description="Local provider mirror (filesystem_mirror); no registry is contacted.",
    )
    TF_TIMEOUT_SECONDS: float = Field(
        900.0, description="Longest one terraform command may run (then SIGINT, then SIGTERM)."
    )
    WORKSPACES_DIR: str = Field(
        "", description="Where client workspaces are rendered; empty = <instance>/workspaces."
    )
    TF_STATE_BACKEND: Literal["local", "s3"] = Field(
        "local", description="local, or s3 (with a lockfile)."
    )
    TF_STATE_BUCKET: str = Field("", description="S3 bucket of the state when the backend is s3.")
    AWS_REGION: str = Field("us-east-1", description="AWS region of the provider and boto3.")
    AWS_ENDPOINT_URL: str = Field(
        "", description="AWS endpoint override (moto's server in development and tests)."
    )
    MOTO_PORT: int = Field(
        5055,
        ge=0,
        le=65535,
        description="Development only: the loopback port of the run command's moto (the AWS "
        "endpoint), the same on every start so that workspaces and plans made before a "
        "restart still point at it; taken by another process: a free port, said on start "
        "(0 = a free port each time).",
    )
    AWS_MAX_ATTEMPTS: int = Field(
        0,
        description="Attempts per AWS API call in terraform (AWS_MAX_ATTEMPTS); 0 = the "
        "provider's default (25, minutes against a dead endpoint).",
    )
    ROUTE53_ZONE_ID: str = Field(
        "", description="Hosted zone of CUSTOMER_API_DOMAIN; empty = found by name."
    )
    DNS_RECORD_MODE: Literal["a", "alias"] = Field(
        "a", description="a (plain A records to INGRESS_IPS) or alias (to the load balancer)."
    )
    INGRESS_IPS: IPv4List = Field(
        default_factory=lambda: [IPv4Address("127.0.0.1")],
        description="Comma-separated IPv4 addresses of the ingress (mode a).",
    )
    INGRESS_LB_DNS_NAME: str = Field("", description="Load balancer DNS name (mode alias).")
    INGRESS_LB_ZONE_ID: str = Field("", description="Load balancer hosted zone id (mode alias).")
    DNS_TTL: int = Field(300, description="TTL of client records (mode a).")
    KUBERNETES_ENABLED: bool = Field(
        False, description="Declare the ingress and certificate (needs the Kubernetes provider)."
    )
    KUBERNETES_NAMESPACE: str = Field(
        "chatdock", description="Namespace of the client routes, listeners and certificates."
    )
    ROUTING_API: Literal["gateway", "ingress"] = Field(
        "gateway",
        description="How clients are routed: gateway (Gateway API HTTPRoutes on a ListenerSet "
        "per account) or ingress (an Ingress per client, for clusters without the Gateway "
        "API); both use one wildcard certificate per account and per custom domain.",
    )
    GATEWAY_NAME: str = Field(
        "chatdock", description="The platform's Gateway the account ListenerSets attach to."
    )
    GATEWAY_NAMESPACE: str = Field(
        "chatdock-gateway",
        description="Namespace of that Gateway (it must allow ListenerSets "
        "from KUBERNETES_NAMESPACE: spec.allowedListeners).",
    )
    GATEWAY_LISTENER_PORT: int = Field(
        443, description="Port of the HTTPS listeners of the account ListenerSets."
    )
    INGRESS_CLASS: str = Field("nginx", description="IngressClass of client ingresses (ingress).")
    CERT_ISSUER: str = Field(
        "letsencrypt-dns01",
        description="cert-manager ClusterIssuer of the wildcard certificates (DNS-01: "
        "deploy/cluster/cluster-issuer.yaml).",
    )
    TLS_CHECK_MINUTES: float = Field(
        60.0,
        description="How often a worker re-reads the wildcard Certificates and updates the "
        "clients' tls_status (expiry, failed renewals); 0 = only after applies.",
    )
    TLS_RENEWAL_MARGIN_DAYS: int = Field(
        10,
        description="A certificate this close to its notAfter is shown errored: cert-manager "
        "renews at two thirds of its lifetime, so its renewal is failing.",
    )
    INGRESS_SERVICE_NAME: str = Field("chatdock", description="Service the ingress routes to.")
    INGRESS_SERVICE_PORT: int = Field(80, description="Port of that service.")
    AUTO_APPROVE: Literal["never", "creates_only", "always"] = Field(
        "never",
        description="Apply plans without review: never, only plans that create nothing but "
        "new resources (creates_only), or always.",
    )
    RQ_QUEUE: str = Field("chatdock", description="RQ queue of infrastructure jobs.")
    JOB_MAX_RETRIES: int = Field(3, description="Retries of a job after a transient failure.")
    JOB_BACKOFF_SECONDS: IntList = Field(
        default_factory=lambda: [5, 15, 45],
        description="Comma-separated waits (seconds) before each retry (the last repeats; "
        "empty = 10).",
    )
    JOB_TIMEOUT_SECONDS: int = Field(1800, description="RQ job timeout of infrastructure jobs.")
    LOCK_TTL_SECONDS: int = Field(
        60, description="Workspace lock lifetime; renewed while a job runs, expires on a crash."
    )
    LOCK_RETRY_SECONDS: float = Field(
        10.0,
        description="A job whose workspace another run holds does not wait for it: its run "
        "stays queued and the job is scheduled again this many seconds later (so "
        "JOB_TIMEOUT_SECONDS counts from when the job holds the lock).",
    )
    RECONCILE_SECONDS: float = Field(
        30.0,
        description="How often a worker reconciles Redis with the database: re-enqueues runs "
        "queued without a job, marks runs abandoned by a dead worker errored, re-arms lost "
        "domain checks (0 = never; `flask infra reconcile` runs it once).",
    )
    LOG_JOBS: bool = Field(True, description="Log start and result of every job.")
    LOG_CLIENTS: bool = Field(True, description="Log client lifecycle changes.")
    LOG_LEVEL: LogLevel = Field("INFO", description="Log level of the app's structured JSON logs.")
    LOG_FORMAT: Literal["json", "console"] = Field(
        "json", description="json, or console for human-readable dev logs."
    )
    CLI_LOG_LEVEL: LogLevel = Field(
        "WARNING",
        description="Operator commands (`flask clients ...`, every group but `flask worker`) "
        "print only log lines of this level or above on stderr, so logs do not mix with "
        "their output.",
    )
    CLI_LOG_FILE: str = Field(
        "",
        description="Operator commands also append all their log lines (LOG_LEVEL, JSON) to "
        "this file ('' = none; relative paths live in the instance folder).",
    )
    SESSION_COOKIE_SECURE: bool | None = Field(
        None,
        description="Send the console's session and remember cookies over HTTPS only "
        "(unset: on when ENVIRONMENT=production, off in development).",
    )
    RESERVED_DOMAINS: HostList = Field(
        default_factory=list,
        description="Comma-separated domains no account may add, nor their subdomains or "
        "parents (CUSTOMER_API_DOMAIN and PLATFORM_HOSTS are always reserved).",
    )
    DNS_RESOLVER_ADDRESS: str = Field(
        "",
        description="Resolver the delegation checks ask for NS records ('' = the system's "
        "resolvers from /etc/resolv.conf).",
    )
    DEV_DNS_FILE: str = Field(
        "",
        description="Development only: the delegations file of the loopback DNS server that "
        "scripts/run starts (`flask dev-dns` edits it); '' = no such server.",
    )
    DNS_RESOLVER_PORT: int = Field(53, description="Port of DNS_RESOLVER_ADDRESS.")
    DNS_TIMEOUT_SECONDS: float = Field(5.0, description="Timeout of one delegation lookup.")
    DOMAIN_VERIFY_WINDOW_HOURS: float = Field(
        48.0,
        description="How long after its zone exists a domain's delegation is re-checked "
        "(with backoff) before it stays failed; `flask domains verify` checks any time.",
    )
    DOMAIN_CHECK_BACKOFF_SECONDS: IntList = Field(
        default_factory=lambda: [60, 300, 900, 1800, 3600],
        description="Comma-separated delays (seconds) before the 1st, 2nd, ... re-check "
        "after a failed check (the last repeats; empty = 60), scheduled with RQ's scheduler.",
    )
    DOMAIN_RECHECK_HOURS: float = Field(
        24.0, description="Interval of the re-check of verified domains (daily)."
    )
    DOMAIN_GRACE_HOURS: float = Field(
        24.0,
        description="How long a domain's client hosts keep being served after a re-check "
        "finds its delegation gone.",
    )
    NOTIFY_WEBHOOK_URL: str = Field(
        "",
        description="POST every account notification as JSON to this URL ('' = console only).",
    )
    NOTIFY_SMTP_URL: str = Field(
        "",
        description="smtp://[user:password@]host:port (or smtps://) to email notifications "
        "to an account's contact email ('' = no email).",
    )
    NOTIFY_SMTP_CA_FILE: str = Field(
        "",
        description="CA bundle (PEM) that verifies the SMTP server's certificate ('' = the "
        "system's). smtp:// uses STARTTLS when offered and refuses to log in without it; "
        "smtps:// is TLS from the start.",
    )
    NOTIFY_EMAIL_FROM: str = Field(
        "chatdock@localhost", description="Sender address of notification emails."
    )
    NOTIFY_TIMEOUT_SECONDS: float = Field(
        10.0, description="Timeout of one webhook call or SMTP session."
    )
    ADMIN_LOGIN_RATE_LIMIT: str = Field(
        "10/minute",
        description="Console login attempts allowed per caller address ('' turns it off).",
    )
    TRUSTED_PROXY_COUNT: int = Field(
        0,
        description="Proxies in front of the app (ingress): trust that many X-Forwarded-* hops.",
    )

    @field_validator("TF_STATE_BACKEND", "DNS_RECORD_MODE", mode="before")
    @classmethod
    def _lower_case(cls, value: Any) -> Any:
        """These were always read case-insensitively (``S3`` works)."""
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("LOG_LEVEL", "CLI_LOG_LEVEL", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        """Log levels, as the logging module spells them (``info`` works)."""
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("DNS_RESOLVER_ADDRESS")
    @classmethod
    def _ip_address_or_empty(cls, value: str) -> str:
        if value:
            ipaddress.ip_address(value)  # ValueError names what is wrong
        return value

    @property
    def cookies_secure(self) -> bool:
        """SESSION_COOKIE_SECURE, or by default on in production (cookies over HTTPS)."""
        if self.SESSION_COOKIE_SECURE is None:
            return self.ENVIRONMENT == "production"
        return self.SESSION_COOKIE_SECURE

    @model_validator(mode="after")
    def _refuse_a_known_secret_key_in_production(self) -> Settings:
        """Anyone can sign a session or remember cookie with the published default key."""
        if self.ENVIRONMENT == "production":
            key = self.SECRET_KEY.get_secret_value()
            if key == DEV_SECRET_KEY or len(key) < MIN_SECRET_KEY_LENGTH:
                raise InsecureSettings(
                    "ENVIRONMENT=production needs its own SECRET_KEY of at least "
                    f"{MIN_SECRET_KEY_LENGTH} characters (the default is public); e.g. "
                    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
            if not self.SECRETS_ENCRYPTION_KEYS:
                raise InsecureSettings(
                    "ENVIRONMENT=production needs SECRETS_ENCRYPTION_KEYS (connection "
                    "secrets are encrypted with it); e.g. python3 -c 'from "
                    "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
                )
        return self


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once; refused settings stop the process."""
    try:
        return Settings()
    except ValidationError as error:
        raise SettingsRefused(describe_errors(error)) from None
    except InsecureSettings as error:
        raise SettingsRefused(f"chatdock: {error}") from None


def describe_errors(error: ValidationError) -> str:
    """One line per bad setting: its name, what it must be, and what it got (never the
    value of a secret or of a URL, which may hold a password)."""
    lines = []
    for item in error.errors(include_url=False):
        name = str(item["loc"][0]) if item["loc"] else "settings"
        where = name + "".join(f"[{part}]" for part in item["loc"][1:])
        field = Settings.model_fields.get(name)
        choices = get_args(field.annotation) if field is not None else ()
        if item["type"] == "literal_error" and choices:
            problem = "must be one of " + ", ".join(map(str, choices))
        else:
            problem = item["msg"].removeprefix("Value error, ")
        hidden = field is None or field.annotation is SecretStr or "URL" in name
        got = "" if hidden else f"; got {item['input']!r}"
        lines.append(f"chatdock: invalid setting {where}: {problem}{got}")
    return "\n".join(lines)


def current_settings() -> Settings:
    """The settings of the current app (tests build apps with their own), else the process's."""
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.extensions["chatdock.settings"]
    return get_settings()

"""Every setting of chatdock, read from the environment (and a ``.env`` file).

Each field's default is the development default, so ``flask run`` works with nothing
configured. The README's settings table is generated from the descriptions here.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-insecure-change-me"
MIN_SECRET_KEY_LENGTH = 32


class InsecureSettings(RuntimeError):
    """Settings no production process may run with (not a ValueError: pydantic would wrap
    it and echo the input values, the secret among them)."""


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
    SQLITE_BUSY_TIMEOUT_SECONDS: float = Field(
        15.0,
        description="SQLite only (WAL mode): how long a write waits for another writer's "
        "transaction before failing.",
    )
    REDIS_URL: str = Field("", description="Redis URL; empty disables Redis (readyz skips it).")
    CUSTOMER_API_DOMAIN: str = Field(
        "api.localhost", description="Base domain of client hosts: {name}.{account}.{domain}."
    )
    PLATFORM_HOSTS: str = Field(
        "",
        description="Comma-separated extra hosts the platform serves (admin, API), e.g. "
        "'chatdock.example.com'. Client hosts come from the host index.",
    )
    DEV_HOSTS_ENABLED: bool = Field(
        True, description="Serve localhost, 127.0.0.1 and *.localhost (turn off in production)."
    )
    HOST_INDEX_CHECK_SECONDS: float = Field(
        0.0,
        description="How often (seconds) a process checks the host index version stamp in the "
        "database; 0 checks on every request (one primary-key read).",
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
    API_KEY_LAST_USED_RESOLUTION_SECONDS: int = Field(
        60, description="last_used_at of an API key is written at most this often."
    )
    DEFAULT_PROVIDER: str = Field(
        "echo", description="Provider of new clients (echo|openai|anthropic)."
    )
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
    TF_STATE_BACKEND: str = Field("local", description="local, or s3 (with a lockfile).")
    TF_STATE_BUCKET: str = Field("", description="S3 bucket of the state when the backend is s3.")
    AWS_REGION: str = Field("us-east-1", description="AWS region of the provider and boto3.")
    AWS_ENDPOINT_URL: str = Field(
        "", description="AWS endpoint override (moto's server in development and tests)."
    )
    AWS_MAX_ATTEMPTS: int = Field(
        0,
        description="Attempts per AWS API call in terraform (AWS_MAX_ATTEMPTS); 0 = the "
        "provider's default (25, minutes against a dead endpoint).",
    )
    ROUTE53_ZONE_ID: str = Field(
        "", description="Hosted zone of CUSTOMER_API_DOMAIN; empty = found by name."
    )
    DNS_RECORD_MODE: str = Field(
        "a", description="a (plain A records to INGRESS_IPS) or alias (to the load balancer)."
    )
    INGRESS_IPS: str = Field(
        "127.0.0.1", description="Comma-separated addresses of the ingress (mode a)."
    )
    INGRESS_LB_DNS_NAME: str = Field("", description="Load balancer DNS name (mode alias).")
    INGRESS_LB_ZONE_ID: str = Field("", description="Load balancer hosted zone id (mode alias).")
    DNS_TTL: int = Field(300, description="TTL of client records (mode a).")
    KUBERNETES_ENABLED: bool = Field(
        False, description="Declare the ingress and certificate (needs the Kubernetes provider)."
    )
    KUBERNETES_NAMESPACE: str = Field("chatdock", description="Namespace of client ingresses.")
    INGRESS_CLASS: str = Field("nginx", description="IngressClass of client ingresses.")
    CERT_ISSUER: str = Field("letsencrypt", description="cert-manager ClusterIssuer name.")
    INGRESS_SERVICE_NAME: str = Field("chatdock", description="Service the ingress routes to.")
    INGRESS_SERVICE_PORT: int = Field(80, description="Port of that service.")
    AUTO_APPROVE: str = Field(
        "never", description="never | creates_only | always: apply plans without review."
    )
    RQ_QUEUE: str = Field("chatdock", description="RQ queue of infrastructure jobs.")
    JOB_MAX_RETRIES: int = Field(3, description="Retries of a job after a transient failure.")
    JOB_BACKOFF_SECONDS: str = Field(
        "5,15,45", description="Comma-separated waits before each retry."
    )
    JOB_TIMEOUT_SECONDS: int = Field(1800, description="RQ job timeout of infrastructure jobs.")
    LOCK_TTL_SECONDS: int = Field(
        60, description="Workspace lock lifetime; renewed while a job runs, expires on a crash."
    )
    RECONCILE_SECONDS: float = Field(
        30.0,
        description="How often a worker reconciles Redis with the database: re-enqueues runs "
        "queued without a job, marks runs abandoned by a dead worker errored, re-arms lost "
        "domain checks (0 = never; `flask infra reconcile` runs it once).",
    )
    LOG_JOBS: bool = Field(True, description="Log start and result of every job.")
    LOG_CLIENTS: bool = Field(True, description="Log client lifecycle changes.")
    LOG_LEVEL: str = Field("INFO", description="Log level of the app's structured JSON logs.")
    LOG_FORMAT: str = Field("json", description="json, or console for human-readable dev logs.")
    CLI_LOG_LEVEL: str = Field(
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
    SESSION_COOKIE_SECURE: bool = Field(
        False, description="Send the admin session cookie over HTTPS only (on in production)."
    )
    RESERVED_DOMAINS: str = Field(
        "",
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
    DOMAIN_CHECK_BACKOFF_SECONDS: str = Field(
        "60,300,900,1800,3600",
        description="Delays before the 1st, 2nd, ... re-check after a failed check (the "
        "last repeats), scheduled with RQ's scheduler.",
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
        return self

    @property
    def platform_hosts(self) -> frozenset[str]:
        """PLATFORM_HOSTS as a set of lower-case host names."""
        return frozenset(h.strip().lower() for h in self.PLATFORM_HOSTS.split(",") if h.strip())


@lru_cache
def get_settings() -> Settings:
    """The settings of this process, read once."""
    return Settings()


def current_settings() -> Settings:
    """The settings of the current app (tests build apps with their own), else the process's."""
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.extensions["chatdock.settings"]
    return get_settings()


def settings_table() -> str:
    """The README's settings table (``python -m app.config`` prints it)."""
    rows = ["| name | default | meaning |", "| --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        default = field.default
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        rows.append(f"| `{name}` | `{default}` | {field.description} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(settings_table(), end="")

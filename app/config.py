"""Every setting of chatdock, read from the environment (and a ``.env`` file).

Each field's default is the development default, so ``flask run`` works with nothing
configured. The README's settings table is generated from the descriptions here.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Settings of one chatdock process. Names match the environment variables."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=True)

    SECRET_KEY: SecretStr = Field(
        SecretStr("dev-insecure-change-me"),
        description="Flask secret key (sessions, CSRF). Set a long random value in production.",
    )
    DATABASE_URL: str = Field(
        "sqlite:///chatdock.db",
        description="SQLAlchemy URL. Relative SQLite paths live in the instance folder.",
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
        "(limits syntax; '' turns it off). Counted in Redis when REDIS_URL is set.",
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
    LOG_LEVEL: str = Field("INFO", description="Log level of the app's structured JSON logs.")
    LOG_FORMAT: str = Field("json", description="json, or console for human-readable dev logs.")
    SESSION_COOKIE_SECURE: bool = Field(
        False, description="Send the admin session cookie over HTTPS only (on in production)."
    )
    TRUSTED_PROXY_COUNT: int = Field(
        0,
        description="Proxies in front of the app (ingress): trust that many X-Forwarded-* hops.",
    )


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

"""The rules of a published client: its presentation (``appearance``), how visitors are
identified, and the check of an identified user's hash. Pure values: no database, no
Flask, so the services, the manifests and the tests share one definition."""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel, to_snake

from app.names import is_host_name

# "off": visitors are anonymous (no identify); "optional": identify() is honoured when its
# hash is right; "required": the widget chats only for an identified user.
IdentityMode = Literal["off", "optional", "required"]
IDENTITY_MODES: tuple[IdentityMode, ...] = ("off", "optional", "required")

# The customer's own user ids: printable, no spaces, short enough for a counter's key.
USER_ID_RE = re.compile(r"[A-Za-z0-9._@+:|=-]{1,128}")
USER_HASH_RE = re.compile(r"[0-9a-f]{64}")
COLOR_RE = r"#[0-9a-fA-F]{6}"


class Appearance(BaseModel):
    """What the chat page and the widget show. Accepts snake_case (API, CLI) and the
    manifest's camelCase (``spec.appearance.welcomeMessage``)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    display_name: str = Field("", max_length=80)
    welcome_message: str = Field("", max_length=1000)
    example_prompts: list[str] = Field(default_factory=list, max_length=6)
    placeholder: str = Field("", max_length=120)
    logo_url: str = Field("", max_length=500)
    accent_color: str = "#2563eb"

    @model_validator(mode="before")
    @classmethod
    def _camel_case(cls, data: Any) -> Any:
        """The manifest's camelCase names are the same fields (``welcomeMessage``)."""
        if isinstance(data, dict):
            return {to_snake(k) if isinstance(k, str) else k: v for k, v in data.items()}
        return data

    @field_validator("accent_color")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not re.fullmatch(COLOR_RE, value):
            raise ValueError(f"the accent colour must be #rrggbb, not {value[:20]!r}")
        return value.lower()

    @field_validator("example_prompts")
    @classmethod
    def _prompts(cls, values: list[str]) -> list[str]:
        prompts = [value.strip() for value in values if value.strip()]
        for prompt in prompts:
            if len(prompt) > 200:
                raise ValueError("an example prompt is at most 200 characters")
        return prompts

    @field_validator("logo_url")
    @classmethod
    def _logo(cls, value: str) -> str:
        if not value:
            return value
        try:
            parts = urlsplit(value)
        except ValueError:
            parts = None
        if (
            parts is None
            or parts.scheme != "https"
            or not parts.hostname
            or not is_host_name(parts.hostname)
            or parts.username is not None
            or any(c.isspace() or c in "\"'<>;," for c in value)
        ):
            raise ValueError("the logo URL must be an https:// URL")
        return value

    def stored(self) -> dict[str, object]:
        """The column's value (snake_case, as the API answers it)."""
        return self.model_dump()


class ManifestAppearance(Appearance):
    """The same presentation as a manifest writes and shows it: camelCase names (snake_case
    accepted too), so ``flask get`` and the kind's JSON Schema say ``welcomeMessage``."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def logo_origin(logo_url: str) -> str:
    """The logo's origin, for the chat page's ``img-src`` (a validated URL)."""
    parts = urlsplit(logo_url)
    return f"https://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def appearance_of(stored: dict[str, object] | None) -> Appearance:
    """The stored column as a model (a row from before the column: the defaults)."""
    return Appearance.model_validate(stored or {})


def user_hash(secret: str, user_id: str) -> str:
    """``HMAC-SHA256(identity secret, user_id)`` in hex: what the customer's server
    computes and passes to ``identify``."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def hash_matches(secret: str, user_id: str, presented: str) -> bool:
    """Constant-time comparison of the presented hash with the right one."""
    return hmac.compare_digest(user_hash(secret, user_id), presented.strip().lower())

"""Publishing a client on the web: what its chat page and widget may know (``/config``),
the short-lived widget tokens that stand in for an API key in a browser, the identity
secret and the check of an identified user, and a visitor's conversation history.

A widget token is signed with SECRET_KEY (itsdangerous, with an expiry) and bound to one
client and one embedding origin (one of the client's ``allowed_origins``), and to the
identified user when the visitor was identified. It never grants more than the page
could do: a chat request with it must come from that origin or from the client's own
hosts (the chat page in its iframe), and the origin must still be allowed.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from app.config import current_settings
from app.domains.publish import USER_HASH_RE, USER_ID_RE, appearance_of, hash_matches
from app.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from app.extensions import db
from app.hosts import ClientRoute, normalize_origin, origin_host
from app.metrics import WIDGET_IDENTITY_REFUSED
from app.models import ChatMessage, ChatSession, LlmClient
from app.secret_box import SecretUnavailable, seal, unseal
from app.services import audit
from app.services.chat_settings import ChatSettings

TOKEN_SALT = "chatdock.widget-token"
SECRET_PREFIX = "cdi_"
HISTORY_MESSAGES = 100


@dataclass(frozen=True)
class Visitor:
    """Who is chatting from a browser: the origin usage is counted under (the embedding
    site for the widget, else the request's Origin) and the identified user, if any."""

    origin: str | None = None
    end_user: str | None = None
    widget: bool = False


ANONYMOUS = Visitor()


@dataclass(frozen=True)
class WidgetToken:
    token: str
    expires_in: int
    user_id: str | None


# --- the identity secret ---------------------------------------------------------------


def rotate_identity_secret(client: LlmClient) -> str:
    """A new identity secret for ``client``, stored sealed; returned once (it is never
    shown again: the API, CLI and console say only whether one is set)."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    before = "set" if client.identity_secret else "unset"
    client.identity_secret = seal(secret)
    audit.record(
        "rotate_identity_secret",
        "client",
        client.id,
        account_id=client.account_id,
        changes={"identity_secret": (before, "set")},
    )
    db.session.commit()
    return secret


def identity_secret_state(client: LlmClient) -> str:
    return "set" if client.identity_secret else "unset"


# --- /config ---------------------------------------------------------------------------


def public_config(route: ClientRoute) -> dict[str, Any]:
    """What the widget and chat page need, and nothing else: never the system prompt,
    the model, tools, keys, owner or account data."""
    row = db.session.execute(
        select(
            LlmClient.appearance,
            LlmClient.identity_mode,
            LlmClient.user_requests_per_minute,
        ).where(LlmClient.id == route.client_id)
    ).one_or_none()
    if row is None:
        raise NotFound("this client no longer exists", code="client_not_found")
    appearance = appearance_of(row.appearance).stored()
    appearance["display_name"] = appearance["display_name"] or route.name
    settings = current_settings()
    return {
        "client": route.name,
        "appearance": appearance,
        "requires_token": requires_token(route, row.identity_mode),
        "identity": row.identity_mode,
        "limits": {
            "max_message_chars": settings.CHAT_MAX_MESSAGE_CHARS,
            "requests_per_minute_per_user": row.user_requests_per_minute,
        },
        "token_seconds": settings.WIDGET_TOKEN_SECONDS,
    }


def requires_token(route: ClientRoute, identity_mode: str) -> bool:
    """Whether a browser needs a widget token to chat: the client requires an API key
    (which no page may hold) or an identified user."""
    return route.require_api_key or identity_mode == "required"


# --- widget tokens ---------------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_settings().SECRET_KEY.get_secret_value(), salt=TOKEN_SALT)


def issue_token(
    route: ClientRoute, origin: str | None, user_id: str | None, user_hash: str | None
) -> WidgetToken:
    """A token for a page of ``origin`` embedding ``route``'s client; refused unless
    ``origin`` is one of the client's ``allowed_origins`` (its own hosts are not: a page
    opened directly holds no token, so a client that requires a key is only reachable
    from the sites it lists). A user is included only when their hash verifies."""
    embedding = normalize_origin(origin) if origin else None
    if embedding is None or embedding not in route.allowed_origins:
        raise Forbidden(
            f"origin {origin or '(none)'} may not embed this client", code="origin_not_allowed"
        )
    mode, sealed = db.session.execute(
        select(LlmClient.identity_mode, LlmClient.identity_secret).where(
            LlmClient.id == route.client_id
        )
    ).one()
    end_user = None
    if (user_id is not None or user_hash is not None) and mode != "off":
        end_user = _verified_user(route, sealed, user_id or "", user_hash or "")
    if mode == "required" and end_user is None:
        raise Unauthorized(
            "this client chats only with identified users: call chatdock.identify(userId, "
            "userHash) first",
            code="identity_required",
        )
    seconds = current_settings().WIDGET_TOKEN_SECONDS
    token = _serializer().dumps({"c": route.client_id, "o": embedding, "u": end_user})
    return WidgetToken(token=token, expires_in=seconds, user_id=end_user)


def _verified_user(route: ClientRoute, sealed: str | None, user_id: str, user_hash: str) -> str:
    if not USER_ID_RE.fullmatch(user_id):
        raise InvalidInput(
            "user_id must be 1-128 characters: letters, digits and . _ @ + : | = -",
            code="invalid_user_id",
        )
    try:
        secret = unseal(sealed) if sealed else None
    except SecretUnavailable:
        secret = None
    if secret is None:
        raise Forbidden(
            "this client has no identity secret: its owner must create one",
            code="identity_unavailable",
        )
    if not USER_HASH_RE.fullmatch(user_hash.strip().lower()) or not hash_matches(
        secret, user_id, user_hash
    ):
        WIDGET_IDENTITY_REFUSED.inc()
        audit.record(
            "identity_refused",
            "client",
            route.client_id,
            account_id=route.account_id,
            changes={"user_id": (None, user_id)},
        )
        db.session.commit()
        raise Forbidden("the user hash does not match this user id", code="identity_invalid")
    return user_id


def read_token(token: str, route: ClientRoute, request_origin: str | None) -> Visitor:
    """The visitor a token stands for, or 401/403: expired or forged, another client's,
    an origin no longer allowed, or a request from anywhere but that origin or the
    client's own hosts."""
    try:
        claims = _serializer().loads(token, max_age=current_settings().WIDGET_TOKEN_SECONDS)
    except SignatureExpired:
        raise Unauthorized(
            "the widget token expired; get a new one", code="widget_token_expired"
        ) from None
    except BadSignature:
        raise Unauthorized("invalid widget token", code="widget_token_invalid") from None
    if not isinstance(claims, dict) or claims.get("c") != route.client_id:
        raise Unauthorized("this widget token is for another client", code="widget_token_invalid")
    embedding = claims.get("o")
    if embedding not in route.allowed_origins:
        raise Forbidden(
            f"origin {embedding} may no longer embed this client", code="origin_not_allowed"
        )
    if not request_origin or not (
        normalize_origin(request_origin) == embedding or origin_host(request_origin) in route.hosts
    ):
        raise Forbidden(
            "a widget token is accepted only from the page that embeds the client",
            code="origin_not_allowed",
        )
    user = claims.get("u")
    return Visitor(origin=embedding, end_user=user if isinstance(user, str) else None, widget=True)


def check_visitor(client: ChatSettings, visitor: Visitor, has_api_key: bool) -> None:
    """A client that requires identified users chats from a browser only with one."""
    if client.identity_mode == "required" and not has_api_key and visitor.end_user is None:
        raise Unauthorized(
            "this client chats only with identified users (the widget's identify)",
            code="identity_required",
        )


# --- history ---------------------------------------------------------------------------


def history(route: ClientRoute, visitor: Visitor, session_key: str | None) -> dict[str, Any]:
    """The visitor's conversation: an identified user's latest session (on any device),
    else the anonymous session the browser kept the key of."""
    query = select(ChatSession.id, ChatSession.session_key).where(
        ChatSession.client_id == route.client_id
    )
    if visitor.end_user is not None:
        query = query.where(ChatSession.end_user == visitor.end_user).order_by(
            ChatSession.updated_at.desc(), ChatSession.id.desc()
        )
    elif session_key:
        query = query.where(ChatSession.session_key == session_key, ChatSession.end_user.is_(None))
    else:
        return {"session_key": None, "messages": []}
    found = db.session.execute(query.limit(1)).first()
    if found is None:
        return {"session_key": None, "messages": []}
    rows = db.session.execute(
        select(ChatMessage.role, ChatMessage.content)
        .where(ChatMessage.session_id == found.id, ChatMessage.role.in_(("user", "assistant")))
        .order_by(ChatMessage.id.desc())
        .limit(HISTORY_MESSAGES)
    ).all()
    return {
        "session_key": found.session_key,
        "messages": [{"role": role, "content": content} for role, content in reversed(rows)],
    }

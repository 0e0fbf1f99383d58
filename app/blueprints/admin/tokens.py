"""Personal access tokens: create (the secret is shown once, after a redirect:
post/redirect/get, as the API keys, so a reload never makes a second token), revoke."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import (
    attempt,
    keep_to_show_once,
    required,
    take_to_show_once,
)
from app.blueprints.admin.forms import ActionForm, TokenForm
from app.errors import NotFound
from app.services import tokens as tokens_service

NEW_TOKEN = "new_access_token"


def _page(form: TokenForm, status: int = 200) -> ResponseReturnValue:
    page = render_template(
        "admin/tokens.html",
        form=form,
        rows=tokens_service.list_tokens(current_user),
        status=tokens_service.token_status,
    )
    return page, status, {"Cache-Control": "no-store"}


@bp.get("/tokens")
def tokens() -> ResponseReturnValue:
    """The signed-in user's tokens."""
    return _page(TokenForm(formdata=None))


@bp.post("/tokens")
def token_create() -> ResponseReturnValue:
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    issued = attempt(
        lambda: tokens_service.create_token(
            current_user, form.label.data or "", required(form.expires_in_days.data)
        )
    )
    if issued is None:
        return redirect(url_for("admin.tokens"))
    keep_to_show_once(NEW_TOKEN, issued.token.token_id, issued.plaintext)
    return redirect(url_for("admin.token_created", token_id=issued.token.token_id), 303)


@bp.get("/tokens/<token_id>/created")
def token_created(token_id: str) -> ResponseReturnValue:
    """The new token, once: a reload (or the back button) says it was shown."""
    token = next(
        (t for t in tokens_service.list_tokens(current_user) if t.token_id == token_id), None
    )
    if token is None:
        abort(404)
    plaintext = take_to_show_once(NEW_TOKEN, token_id)
    page = render_template("admin/token_created.html", token=token, plaintext=plaintext)
    return page, 200, {"Cache-Control": "no-store"}


@bp.post("/tokens/<token_id>/revoke")
def token_revoke(token_id: str) -> ResponseReturnValue:
    """Revoke one of the signed-in user's tokens (anyone else's is not found)."""
    if ActionForm().validate_on_submit():
        try:
            tokens_service.revoke_token(current_user, token_id)
        except NotFound:
            abort(404)
        flash(f"Revoked {token_id}.", "success")
    return redirect(url_for("admin.tokens"))

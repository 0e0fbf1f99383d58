"""API keys: create (the key is shown once, after a redirect: post/redirect/get, so a
reload never makes a second key), revoke."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import (
    attempt,
    get_or_404,
    keep_to_show_once,
    take_to_show_once,
)
from app.blueprints.admin.forms import ActionForm, ApiKeyForm
from app.models import Account, ApiKey
from app.services import access
from app.services import api_keys as service


@bp.post("/accounts/<int:account_id>/keys")
def key_create(account_id: int) -> ResponseReturnValue:
    account = get_or_404(Account, account_id)
    form = ApiKeyForm()
    form.clients.choices = [(c.id, c.name) for c in account.clients]
    if not form.validate_on_submit():
        for field, errors in form.errors.items():
            flash(f"{field}: {'; '.join(map(str, errors))}", "danger")
        return redirect(url_for("admin.account", account_id=account_id))
    scope = [c for c in account.clients if c.id in set(form.clients.data or [])]
    issued = attempt(
        lambda: service.create_api_key(
            account, scope, expires_in_days=form.expires_in_days.data, label=form.label.data or ""
        )
    )
    if issued is None:
        return redirect(url_for("admin.account", account_id=account_id))
    keep_to_show_once(NEW_KEY, issued.api_key.id, issued.plaintext)
    return redirect(url_for("admin.key_created", key_id=issued.api_key.id), 303)


NEW_KEY = "new_api_key"


@bp.get("/keys/<int:key_id>/created")
def key_created(key_id: int) -> ResponseReturnValue:
    """The new key, once: the session's copy is dropped as it is shown, so a reload
    (or the back button) says it was shown instead of showing or making it again."""
    api_key = get_or_404(ApiKey, key_id)
    plaintext = take_to_show_once(NEW_KEY, key_id)
    response = render_template(
        "admin/key_created.html", account=api_key.account, api_key=api_key, plaintext=plaintext
    )
    return response, 200, {"Cache-Control": "no-store"}


@bp.post("/keys/<key_id>/revoke")
def key_revoke(key_id: str) -> ResponseReturnValue:
    form = ActionForm()
    key = None
    owned = service.find_api_key(key_id)
    if owned is None or not access.may_see(current_user, owned.account_id):
        abort(404)
    if form.validate_on_submit():
        outcome = attempt(lambda: service.revoke_api_key(key_id))
        if outcome is not None:
            key, revoked = outcome
            said = "revoked." if revoked else "was already revoked."
            flash(f"Key {key.key_id} {said}", "success" if revoked else "info")
    if key is None:
        return redirect(url_for("admin.accounts"))
    return redirect(url_for("admin.account", account_id=key.account_id))

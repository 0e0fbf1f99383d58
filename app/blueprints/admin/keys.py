"""API keys: create (the key is shown once, on the response page only), revoke."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from app.blueprints.admin import bp
from app.blueprints.admin.common import attempt, get_or_404
from app.blueprints.admin.forms import ActionForm, ApiKeyForm
from app.extensions import db
from app.models import Account, ApiKey
from app.services import access
from app.services import api_keys as service


@bp.post("/accounts/<int:account_id>/keys")
def key_create(account_id: int):
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
    # Rendered, not redirected: the plaintext exists only in this response.
    response = render_template("admin/key_created.html", account=account, issued=issued)
    return response, 201, {"Cache-Control": "no-store"}


@bp.post("/keys/<key_id>/revoke")
def key_revoke(key_id: str):
    form = ActionForm()
    key = None
    owned = db.session.execute(select(ApiKey).where(ApiKey.key_id == key_id)).scalar_one_or_none()
    if owned is None or not access.may_see(current_user, owned.account_id):
        abort(404)
    if form.validate_on_submit():
        key = attempt(lambda: service.revoke_api_key(key_id), f"Key {key_id} revoked.")
    if key is None:
        return redirect(url_for("admin.accounts"))
    return redirect(url_for("admin.account", account_id=key.account_id))

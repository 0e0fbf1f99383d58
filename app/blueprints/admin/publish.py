"""A client's identity secret in the console: made (or replaced) with one button and
shown once, after a redirect (post/redirect/get, as API keys and tokens), so a reload
never makes another."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import get_or_404, keep_to_show_once, take_to_show_once
from app.blueprints.admin.forms import ActionForm
from app.models import LlmClient
from app.services import publish

NEW_SECRET = "new_identity_secret"


@bp.post("/clients/<int:client_id>/identity-secret")
def client_identity_secret(client_id: int) -> ResponseReturnValue:
    client = get_or_404(LlmClient, client_id)
    if not ActionForm().validate_on_submit():
        return redirect(url_for("admin.client", client_id=client.id))
    keep_to_show_once(NEW_SECRET, client.id, publish.rotate_identity_secret(client))
    return redirect(url_for("admin.client_identity_secret_made", client_id=client.id), 303)


@bp.get("/clients/<int:client_id>/identity-secret")
def client_identity_secret_made(client_id: int) -> ResponseReturnValue:
    client = get_or_404(LlmClient, client_id)
    secret = take_to_show_once(NEW_SECRET, client.id)
    page = render_template("admin/identity_secret.html", client=client, secret=secret)
    return page, 200, {"Cache-Control": "no-store"}

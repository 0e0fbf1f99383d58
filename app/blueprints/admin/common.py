"""Small helpers shared by the console's views."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort, flash, redirect, render_template, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.blueprints.admin.forms import ActionForm
from app.errors import ChatdockError, NotFound
from app.extensions import db
from app.models import (
    Account,
    AccountInvitation,
    ApiKey,
    CustomDomain,
    InfraRun,
    LlmClient,
    Plugin,
)
from app.services import access

T = TypeVar("T")
Model = TypeVar(
    "Model", Account, LlmClient, CustomDomain, InfraRun, ApiKey, AccountInvitation, Plugin
)


def get_or_404(model: type[Model], object_id: int) -> Model:
    """The object, if it exists and the signed-in user reaches its account (else 404)."""
    try:
        return access.find_visible(current_user, model, object_id, model.__name__)
    except NotFound:
        abort(404)


def visible(objects: list[T]) -> list[T]:
    """Only the objects of the signed-in user's accounts."""
    return access.filter_visible(current_user, objects)


def required(data: T | None) -> T:
    """A DataRequired field's data once its form validated (WTForms types it optional)."""
    if data is None:
        raise ValueError("a required form field has no data after validation")
    return data


def may_auto_approve(requested: bool) -> bool:
    """Skipping review is the platform admins' call (members go by AUTO_APPROVE)."""
    return bool(requested) and current_user.is_platform_admin


def attempt(action: Callable[[], T], success: str | None = None) -> T | None:
    """Run a service call; its refusal (conflict, bad input, no Redis) becomes a flash."""
    try:
        result = action()
    except ChatdockError as error:
        db.session.rollback()
        flash(error.message, "danger")
        return None
    if success:
        flash(success, "success")
    return result


def operator() -> str:
    """Who asked, for runs' ``requested_by`` and ``approved_by``."""
    return f"console:{current_user.email}"


def confirm_then_run(
    request_run: Callable[[], InfraRun | None],
    *,
    title: str,
    message: str,
    button: str,
    back: str,
) -> ResponseReturnValue:
    """A destructive action: a confirmation page (GET), then the run it starts (POST),
    shown on its page; a refusal goes back with the reason."""
    form = ActionForm()
    if form.validate_on_submit():
        run = attempt(request_run)
        return redirect(url_for("admin.run", run_id=run.id) if run is not None else back)
    return render_template(
        "admin/confirm.html", form=form, title=title, message=message, button=button, cancel=back
    )


def keep_to_show_once(slot: str, object_id: int | str, secret: str) -> None:
    """Keep a new secret (a key, a token, an invitation link) in the signed, HttpOnly
    session until the page after the redirect shows it (post/redirect/get)."""
    session[slot] = {"id": object_id, "secret": secret}


def take_to_show_once(slot: str, object_id: int | str) -> str | None:
    """The secret kept for this object, dropped as it is taken: a reload (or the back
    button) gets None and says it was shown, and never makes another."""
    kept = session.get(slot) or {}
    if kept.get("id") != object_id or not kept.get("secret"):
        return None
    session.pop(slot)
    return str(kept["secret"])

"""Sign in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_user, logout_user

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import required
from app.blueprints.admin.forms import ActionForm, LoginForm
from app.config import current_settings
from app.extensions import limiter
from app.logging_setup import get_logger
from app.services.users import sign_in, sign_out

log = get_logger("chatdock.admin")


def _login_limit() -> str:
    return current_settings().ADMIN_LOGIN_RATE_LIMIT


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host): never an open redirect."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/admin"):
            return target
    return url_for("admin.home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("admin.home"))
    form = LoginForm()
    if form.validate_on_submit():
        user = sign_in(required(form.email.data), required(form.password.data))
        if user is not None:
            login_user(user, remember=bool(form.remember.data))
            log.info("admin_login", admin=user.email)
            return redirect(_safe_next(request.args.get("next")))
        log.warning("admin_login_failed")
        form.form_errors.append("Invalid email or password.")
    return render_template("admin/login.html", form=form), 200 if not form.errors else 401


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    if ActionForm().validate_on_submit():
        if current_user.is_authenticated:
            sign_out(current_user)
        logout_user()
        flash("Signed out.", "info")
    return redirect(url_for("admin.login"))

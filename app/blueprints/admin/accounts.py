"""Accounts: list, create, and one account with its clients, keys, domains, notices."""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import get_or_404, required, visible
from app.blueprints.admin.forms import AccountForm, ApiKeyForm, BudgetForm, DomainForm
from app.blueprints.admin.members import members_panel
from app.blueprints.admin.provider_connections import ProviderConnectionForm
from app.blueprints.admin.usage import usage_panel
from app.errors import ChatdockError
from app.models import Account
from app.services import accounts as service
from app.services import provider_connections
from app.services.api_keys import key_status, list_api_keys
from app.services.client_state import client_states
from app.services.limit_settings import may_set_budget
from app.services.notifications import list_notifications


@bp.get("/accounts")
def accounts() -> ResponseReturnValue:
    return render_template("admin/accounts.html", accounts=visible(service.list_accounts()))


@bp.route("/accounts/new", methods=["GET", "POST"])
def account_new() -> ResponseReturnValue:
    form = AccountForm()
    if form.validate_on_submit():
        try:
            account = service.create_account(
                required(form.name.data), form.contact_email.data or None
            )
        except ChatdockError as error:
            form.contact_email.errors = [*form.contact_email.errors, error.message]
        else:
            return redirect(url_for("admin.account", account_id=account.id))
    return render_template("admin/account_new.html", form=form)


@bp.get("/accounts/<int:account_id>")
def account(account_id: int) -> ResponseReturnValue:
    found = get_or_404(Account, account_id)
    key_form = ApiKeyForm()
    key_form.clients.choices = [(c.id, c.name) for c in found.clients]
    return render_template(
        "admin/account.html",
        account=found,
        states=client_states(found.clients),
        keys=list_api_keys(found),
        key_status=key_status,
        notifications=list_notifications(found),
        key_form=key_form,
        domain_form=DomainForm(),
        usage=usage_panel(found),
        people=members_panel(found),
        limits_form=BudgetForm(monthly_tokens=found.monthly_token_budget)
        if may_set_budget(current_user)
        else None,
        limits_action=url_for("admin.account_limits", account_id=found.id),
        connections=[
            (c.name, provider_connections.shown(c))
            for c in provider_connections.list_connections(found)
        ],
        connection_form=ProviderConnectionForm(),
    )

"""Custom domains: add, the NS records to set, status and last check, verify now,
attach and detach clients, delete."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import (
    attempt,
    confirm_then_run,
    get_or_404,
    may_auto_approve,
    operator,
    required,
    visible,
)
from app.blueprints.admin.forms import AccountDomainForm, ActionForm, AttachForm, DomainForm
from app.models import Account, CustomDomain, LlmClient
from app.services import domain_checks
from app.services import domains as service
from app.services.accounts import list_accounts


def _account_domain_form() -> AccountDomainForm:
    form = AccountDomainForm()
    form.account.choices = [
        (a.id, f"{a.name} ({a.account_number})") for a in visible(list_accounts())
    ]
    return form


@bp.get("/domains")
def domains() -> ResponseReturnValue:
    return render_template(
        "admin/domains.html", domains=visible(service.list_domains()), form=_account_domain_form()
    )


@bp.post("/domains")
def domain_add_for_account() -> ResponseReturnValue:
    """Add a domain from the Domains page, for the account chosen in its form."""
    form = _account_domain_form()
    if not form.validate_on_submit():
        flash("Choose an account and enter a domain, e.g. api.example.com.", "danger")
        return redirect(url_for("admin.domains"))
    return _add_domain(get_or_404(Account, form.account.data), form, url_for("admin.domains"))


@bp.post("/accounts/<int:account_id>/domains")
def domain_add(account_id: int) -> ResponseReturnValue:
    account = get_or_404(Account, account_id)
    form = DomainForm()
    if not form.validate_on_submit():
        flash("Enter a domain, e.g. api.example.com.", "danger")
        return redirect(url_for("admin.account", account_id=account_id))
    return _add_domain(account, form, url_for("admin.account", account_id=account_id))


def _add_domain(account: Account, form: DomainForm, back: str) -> ResponseReturnValue:
    """Claim the domain and plan its zone; refusals go back to where the form was."""
    added = attempt(
        lambda: service.add_domain(
            account,
            required(form.domain.data),
            auto_approve=may_auto_approve(form.auto_approve.data),
            requested_by=operator(),
        ),
        "Domain added: its zone is being planned.",
    )
    if added is None:
        return redirect(back)
    return redirect(url_for("admin.domain", domain_id=added[0].id))


@bp.get("/domains/<int:domain_id>")
def domain(domain_id: int) -> ResponseReturnValue:
    found = get_or_404(CustomDomain, domain_id)
    attach_form = AttachForm()
    attach_form.client.choices = [
        (c.id, c.name) for c in found.account.clients if c.custom_domain_id != found.id
    ]
    return render_template(
        "admin/domain.html",
        domain=found,
        run=service.latest_run(found),
        attach_form=attach_form,
        action_form=ActionForm(),
    )


@bp.post("/domains/<int:domain_id>/verify")
def domain_verify(domain_id: int) -> ResponseReturnValue:
    found = get_or_404(CustomDomain, domain_id)
    if ActionForm().validate_on_submit():
        attempt(lambda: domain_checks.request_check(found), "Check queued: reload in a moment.")
    return redirect(url_for("admin.domain", domain_id=domain_id))


@bp.post("/domains/<int:domain_id>/attach")
def domain_attach(domain_id: int) -> ResponseReturnValue:
    found = get_or_404(CustomDomain, domain_id)
    form = AttachForm()
    form.client.choices = [(c.id, c.name) for c in found.account.clients]
    if form.validate_on_submit():
        client = get_or_404(LlmClient, form.client.data)
        attempt(
            lambda: service.attach_client(found, client),
            f"{client.name} attached: {client.name}.{found.domain}",
        )
    return redirect(url_for("admin.domain", domain_id=domain_id))


@bp.post("/clients/<int:client_id>/detach")
def domain_detach(client_id: int) -> ResponseReturnValue:
    client = get_or_404(LlmClient, client_id)
    domain_id = client.custom_domain_id
    if ActionForm().validate_on_submit():
        attempt(lambda: service.detach_client(client), f"{client.name} detached.")
    target = request.form.get("back") == "client" or domain_id is None
    if target:
        return redirect(url_for("admin.client", client_id=client_id))
    return redirect(url_for("admin.domain", domain_id=domain_id))


@bp.route("/domains/<int:domain_id>/delete", methods=["GET", "POST"])
def domain_delete(domain_id: int) -> ResponseReturnValue:
    found = get_or_404(CustomDomain, domain_id)
    return confirm_then_run(
        lambda: service.delete_domain(found, requested_by=operator()),
        title=f"Delete {found.domain}?",
        message=f"The hosted zone of {found.domain} is destroyed and the domain forgotten.",
        button="Delete",
        back=url_for("admin.domain", domain_id=domain_id),
    )

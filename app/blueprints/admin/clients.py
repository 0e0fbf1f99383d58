"""Clients: list with status badges, create and edit (validation next to the fields),
deploy, undeploy and delete (with confirmation), and one client's page."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from app.blueprints.admin.blueprint import bp
from app.blueprints.admin.common import (
    attempt,
    confirm_then_run,
    get_or_404,
    may_auto_approve,
    operator,
    visible,
)
from app.blueprints.admin.forms import (
    ActionForm,
    AttachForm,
    ClientForm,
    DeployForm,
    RateLimitForm,
    attach_errors,
)
from app.blueprints.admin.usage import usage_panel
from app.errors import ChatdockError, InvalidInput
from app.extensions import db
from app.models import Account, DeploymentStatus, LlmClient
from app.services import clients as service
from app.services import infra, usage
from app.services.client_state import client_state, client_states
from app.services.limit_settings import may_set_rate_limits
from app.services.llm_models import selectable_models


def host_url(host: str) -> str:
    """A link to the host as this console is reached (scheme, and port in development)."""
    port = request.host.rsplit(":", 1)[1] if ":" in request.host.lstrip("[") else ""
    return f"{request.scheme}://{host}{':' + port if port else ''}/llm-client/"


@bp.get("/clients")
def clients() -> ResponseReturnValue:
    status = request.args.get("status", "")
    wanted = DeploymentStatus(status) if status in {s.value for s in DeploymentStatus} else None
    rows = visible(service.list_clients(status=wanted))
    return render_template(
        "admin/clients.html",
        clients=rows,
        states=client_states(rows),
        status=status,
        statuses=[s.value for s in DeploymentStatus],
        client_hosts=service.client_hosts,
        host_url=host_url,
    )


@bp.route("/accounts/<int:account_id>/clients/new", methods=["GET", "POST"])
def client_new(account_id: int) -> ResponseReturnValue:
    account = get_or_404(Account, account_id)
    form = ClientForm()
    form.set_model_choices(selectable_models())
    if form.validate_on_submit():
        try:
            client = service.create_client(account, service.parse_spec(**form.spec_fields()))
        except InvalidInput as error:
            attach_errors(form, error)
        except ChatdockError as error:
            form.name.errors = [*form.name.errors, error.message]
        else:
            return redirect(url_for("admin.client", client_id=client.id))
    return render_template("admin/client_form.html", form=form, account=account, client=None)


@bp.route("/clients/<int:client_id>/edit", methods=["GET", "POST"])
def client_edit(client_id: int) -> ResponseReturnValue:
    client = get_or_404(LlmClient, client_id)
    form = ClientForm(obj=client)
    form.set_model_choices(selectable_models(keep=client.llm_model), current=client.llm_model)
    if request.method == "GET":
        form.allowed_origins.data = "\n".join(client.allowed_origins or [])
        form.show_appearance(client.appearance)
        form.identity.data = client.identity_mode
    form.name.render_kw = {"readonly": True}
    form.name.data = client.name
    if form.validate_on_submit():
        try:
            service.update_client(client, service.patched_spec(client, form.spec_fields()))
        except InvalidInput as error:
            db.session.rollback()
            attach_errors(form, error)
        else:
            return redirect(url_for("admin.client", client_id=client.id))
    return render_template(
        "admin/client_form.html", form=form, account=client.account, client=client
    )


@bp.get("/clients/<int:client_id>")
def client(client_id: int) -> ResponseReturnValue:
    found = get_or_404(LlmClient, client_id)
    attach_form = AttachForm()
    attach_form.client.choices = [(found.id, found.name)]
    runs = infra.runs_of_client(found)
    return render_template(
        "admin/client.html",
        client=found,
        state=client_state(found),
        hosts=service.client_hosts(found),
        host_url=host_url,
        runs=runs,
        deploy_form=DeployForm(),
        action_form=ActionForm(),
        usage=usage_panel(found.account, found),
        origins=usage.report(client_id=found.id, since=usage.month_start(), by="origin"),
        limits_form=RateLimitForm(
            requests_per_minute=found.requests_per_minute,
            tokens_per_minute=found.tokens_per_minute,
        )
        if may_set_rate_limits(current_user, found.account_id)
        else None,
        limits_action=url_for("admin.client_limits", client_id=found.id),
    )


@bp.post("/clients/<int:client_id>/deploy")
def client_deploy(client_id: int) -> ResponseReturnValue:
    found = get_or_404(LlmClient, client_id)
    form = DeployForm()
    if form.validate_on_submit():
        live = found.deployment_status == DeploymentStatus.DEPLOYED
        run = attempt(
            lambda: infra.request_deploy(
                found,
                auto_approve=may_auto_approve(form.auto_approve.data),
                requested_by=operator(),
            ),
            f"Deploy requested: {found.name} keeps being served on its current hosts until "
            "the new plan is applied."
            if live
            else f"Deploy requested: {found.name} is served once its plan is applied.",
        )
        if run is not None:
            return redirect(url_for("admin.run", run_id=run.id))
    return redirect(url_for("admin.client", client_id=client_id))


@bp.route("/clients/<int:client_id>/undeploy", methods=["GET", "POST"])
def client_undeploy(client_id: int) -> ResponseReturnValue:
    found = get_or_404(LlmClient, client_id)
    return confirm_then_run(
        lambda: infra.request_undeploy(found, requested_by=operator()),
        title=f"Undeploy {found.name}?",
        message=f"{found.name} stops being served at once and its infrastructure is "
        "destroyed (after you review the plan). The client and its settings stay.",
        button="Undeploy",
        back=url_for("admin.client", client_id=client_id),
    )


@bp.route("/clients/<int:client_id>/delete", methods=["GET", "POST"])
def client_delete(client_id: int) -> ResponseReturnValue:
    found = get_or_404(LlmClient, client_id)
    return confirm_then_run(
        lambda: infra.request_delete(found, requested_by=operator()),
        title=f"Delete {found.name}?",
        message=f"{found.name}, its chat sessions and its infrastructure are deleted. "
        "This cannot be undone.",
        button="Delete",
        back=url_for("admin.client", client_id=client_id),
    )

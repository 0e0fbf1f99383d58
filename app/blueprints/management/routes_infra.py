"""The management API's custom domains, runs, model catalog and notices."""

from __future__ import annotations

from flask.typing import ResponseReturnValue

from app.blueprints.management.common import (
    answer,
    caller,
    operation,
    page_of,
    parse_body,
    who,
)
from app.blueprints.management.views import (
    domain_out,
    owned,
    run_of,
    run_out,
)
from app.models import (
    CustomDomain,
    LlmModel,
)
from app.schemas import management as s
from app.services import (
    access,
    customer_log,
    domain_checks,
    domains,
    infra,
    notifications,
)
from app.services.llm_models import models_query, replacement_shown

# --- domains --------------------------------------------------------------------------


@operation(
    "GET",
    "/accounts/<int:account_id>/domains",
    summary="The account's custom domains",
    response=s.DomainOut,
    paged=True,
)
def domains_list(account_id: int) -> ResponseReturnValue:
    return page_of(domains.domains_query(access.account_for(caller(), account_id)), domain_out)


@operation(
    "POST",
    "/accounts/<int:account_id>/domains",
    summary="Claim a custom domain and plan its hosted zone",
    response=s.DomainOut,
    status=202,
    body=s.DomainIn,
    creates=True,
)
def domains_add(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id)
    spec = parse_body(s.DomainIn)
    domain, _ = domains.add_domain(account, spec.domain, requested_by=who())
    return answer(domain_out(domain), 202)


@operation(
    "GET",
    "/domains/<int:domain_id>",
    summary="One domain, with its NS records",
    response=s.DomainOut,
)
def domain_show(domain_id: int) -> ResponseReturnValue:
    return answer(domain_out(owned(CustomDomain, domain_id, "domain")))


@operation(
    "POST",
    "/domains/<int:domain_id>/verify",
    summary="Check the delegation now (in a worker)",
    response=s.DomainOut,
    status=202,
)
def domain_verify(domain_id: int) -> ResponseReturnValue:
    domain = owned(CustomDomain, domain_id, "domain")
    domain_checks.request_check(domain)
    return answer(domain_out(domain), 202)


@operation(
    "DELETE",
    "/domains/<int:domain_id>",
    summary="Destroy the zone and forget the domain",
    response=s.RunOut,
    status=202,
)
def domain_delete(domain_id: int) -> ResponseReturnValue:
    domain = owned(CustomDomain, domain_id, "domain")
    return answer(run_out(domains.delete_domain(domain, requested_by=who())), 202)


# --- runs -----------------------------------------------------------------------------


@operation(
    "GET",
    "/runs",
    summary="Runs of the caller's accounts, newest first",
    response=s.RunOut,
    paged=True,
)
def runs_list() -> ResponseReturnValue:
    query = infra.runs_query(account_ids=access.visible_account_ids_query(caller()))
    return page_of(query, run_out)


@operation("GET", "/runs/<int:run_id>", summary="One run, with its plan summary", response=s.RunOut)
def run_show(run_id: int) -> ResponseReturnValue:
    return answer(run_out(run_of(run_id)))


@operation("GET", "/runs/<int:run_id>/logs", summary="A run's full log", response=s.RunLog)
def run_logs(run_id: int) -> ResponseReturnValue:
    run = run_of(run_id)
    log = customer_log.shown_log(run.log, caller())
    return answer(s.RunLog(id=run.id, status=run.status.value, log=log))


@operation(
    "POST",
    "/runs/<int:run_id>/approve",
    summary="Apply exactly the reviewed plan (platform admins)",
    response=s.RunOut,
    status=202,
    admin_only=True,
)
def run_approve(run_id: int) -> ResponseReturnValue:
    run = run_of(run_id)
    access.require_platform_admin(caller(), "approve plans")
    return answer(run_out(infra.approve_run(run.id, approved_by=who())), 202)


@operation(
    "POST",
    "/runs/<int:run_id>/discard",
    summary="Drop a plan awaiting review",
    response=s.RunOut,
)
def run_discard(run_id: int) -> ResponseReturnValue:
    run = run_of(run_id)
    return answer(run_out(infra.discard_run(run.id)))


# --- models and notifications ---------------------------------------------------------


@operation("GET", "/models", summary="The model catalog", response=s.ModelOut, paged=True)
def models_list() -> ResponseReturnValue:
    def render(row: tuple[LlmModel, int]) -> s.ModelOut:
        model, clients = row
        return s.ModelOut(
            id=model.id,
            provider=model.provider,
            name=model.name,
            token_limit=model.token_limit,
            deprecated=model.deprecated,
            is_default=model.is_default,
            replacement=replacement_shown(model),
            clients=clients,
        )

    return page_of(models_query(account_ids=access.visible_account_ids_query(caller())), render)


@operation(
    "GET",
    "/accounts/<int:account_id>/notifications",
    summary="The account's notices, newest first",
    response=s.NotificationOut,
    paged=True,
)
def notifications_list(account_id: int) -> ResponseReturnValue:
    query = notifications.notifications_query(access.account_for(caller(), account_id))
    return page_of(query, lambda n: s.NotificationOut.model_validate(n, from_attributes=True))

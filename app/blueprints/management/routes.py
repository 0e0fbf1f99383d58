"""The management API's routes: thin, each one access check and one service call."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import Response, url_for
from flask.typing import ResponseReturnValue

from app.blueprints.management import schemas as s
from app.blueprints.management.common import (
    answer,
    caller,
    current_page,
    operation,
    page_answer,
    page_of,
    parse_body,
    who,
)
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import (
    Account,
    AccountInvitation,
    AccountMember,
    ApiKey,
    CustomDomain,
    InfraRun,
    LlmClient,
    LlmModel,
    MemberRole,
)
from app.services import (
    access,
    api_keys,
    customer_log,
    domain_checks,
    domains,
    infra,
    members,
    notifications,
)
from app.services import clients as client_service
from app.services.accounts import accounts_query, create_account
from app.services.client_state import ClientState, client_state, client_states
from app.services.llm_models import models_query, replacement_shown

# --- renderers ------------------------------------------------------------------------


def _account_out(account: Account) -> s.AccountOut:
    user = caller()
    member = None if user.is_platform_admin else access.role_in(user, account.id)
    if member is None and not user.is_platform_admin:
        raise NotFound("not found")  # access.account_for lets only members through
    role = member.value if member is not None else "admin"
    return s.AccountOut(
        id=account.id,
        account_number=account.account_number,
        name=account.name,
        contact_email=account.contact_email,
        role=role,
        created_at=account.created_at,
    )


def _member_out(member: AccountMember) -> s.MemberOut:
    return s.MemberOut(
        id=member.id,
        user_id=member.user_id,
        email=member.user.email,
        role=member.role.value,
        created_at=member.created_at,
        last_seen_at=member.user.last_seen_at,
    )


def _invitation_out(invitation: AccountInvitation) -> s.InvitationInfo:
    return s.InvitationInfo(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role.value,
        status=members.invitation_status(invitation),
        invited_by=invitation.invited_by,
        created_at=invitation.created_at,
        expires_at=invitation.expires_at,
        accepted_at=invitation.accepted_at,
        revoked_at=invitation.revoked_at,
    )


def _client_out(client: LlmClient, state: ClientState | None = None) -> s.ClientOut:
    state = state or client_state(client)
    change = state.change
    return s.ClientOut(
        id=client.id,
        account_id=client.account_id,
        name=client.name,
        provider=client.provider,
        model=client.model,
        system_prompt=client.system_prompt,
        temperature=client.temperature,
        max_tokens=client.max_tokens,
        require_api_key=client.require_api_key,
        allowed_origins=list(client.allowed_origins or []),
        status=state.status.value,
        serving=state.serving,
        serving_hosts=list(state.hosts),
        serving_since=state.since,
        serving_text=state.serving_text(),
        pending_change=None
        if change is None
        else s.PendingChangeOut(
            run_id=change.run_id,
            kind=change.kind.value,
            status=change.status.value,
            error=change.error,
            text=change.text(),
        ),
        custom_domain_id=client.custom_domain_id,
        created_at=client.created_at,
    )


def _key_out(api_key: ApiKey, model: type[s.ApiKeyOut] = s.ApiKeyOut, **extra: Any) -> s.ApiKeyOut:
    return model(
        id=api_key.id,
        key_id=api_key.key_id,
        label=api_key.label,
        status=api_keys.key_status(api_key),
        client_ids=sorted(c.id for c in api_key.clients),
        created_at=api_key.created_at,
        expires_at=api_key.expires_at,
        last_used_at=api_key.last_used_at,
        **extra,
    )


def _domain_out(domain: CustomDomain) -> s.DomainOut:
    return s.DomainOut(
        id=domain.id,
        account_id=domain.account_id,
        domain=domain.domain,
        status=domain.status.value,
        name_servers=list(domain.name_servers or []),
        verified_at=domain.verified_at,
        last_checked_at=domain.last_checked_at,
        last_check_result=domain.last_check_result,
        next_check_at=domain.next_check_at,
        client_ids=sorted(c.id for c in domain.clients),
    )


def _run_out(run: InfraRun) -> s.RunOut:
    return s.RunOut(
        id=run.id,
        kind=run.kind.value,
        status=run.status.value,
        account_number=run.account_number,
        target_name=run.target_name,
        client_id=run.client_id,
        domain_id=run.domain_id,
        plan_summary=run.plan_summary,
        error=run.error,
        note=run.note,
        requested_by=run.requested_by,
        approved_by=run.approved_by,
        created_at=run.created_at,
        finished_at=run.finished_at,
    )


# --- finding objects the caller may reach (404 otherwise) -----------------------------


Owned = TypeVar("Owned", LlmClient, CustomDomain, ApiKey, InfraRun)


def _owned(model: type[Owned], object_id: int, what: str) -> Owned:
    """The object, if it exists in one of the caller's accounts; one 404 message whether it
    does not exist or is another account's, so that ids of other accounts stay unknown."""
    found = db.session.get(model, object_id)
    if found is None or not access.may_see(caller(), access.account_id_of(found)):
        raise NotFound(f"no {what} {object_id}")
    return found


def _run(run_id: int) -> InfraRun:
    return _owned(InfraRun, run_id, "run")


# --- accounts and members -------------------------------------------------------------


@operation(
    "GET", "/accounts", summary="The accounts the caller reaches", response=s.AccountOut, paged=True
)
def accounts_list() -> ResponseReturnValue:
    return page_of(accounts_query(access.visible_account_ids_query(caller())), _account_out)


@operation(
    "POST",
    "/accounts",
    summary="Create an account (platform admins)",
    response=s.AccountOut,
    status=201,
    body=s.AccountIn,
    creates=True,
    admin_only=True,
)
def accounts_create() -> ResponseReturnValue:
    access.require_platform_admin(caller(), "create accounts")
    spec = parse_body(s.AccountIn)
    return answer(_account_out(create_account(spec.name, spec.contact_email)), 201)


@operation("GET", "/accounts/<int:account_id>", summary="One account", response=s.AccountOut)
def account_show(account_id: int) -> ResponseReturnValue:
    return answer(_account_out(access.account_for(caller(), account_id)))


@operation(
    "GET",
    "/accounts/<int:account_id>/members",
    summary="The account's members",
    response=s.MemberOut,
    paged=True,
)
def members_list(account_id: int) -> ResponseReturnValue:
    return page_of(members.members_query(access.account_for(caller(), account_id)), _member_out)


@operation(
    "POST",
    "/accounts/<int:account_id>/members",
    summary="Invite someone by email (owners): a single-use link, emailed and answered once",
    response=s.InvitationOut,
    status=201,
    body=s.InvitationIn,
    creates=True,
)
def members_invite(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    spec = parse_body(s.InvitationIn)
    issued = members.invite(caller(), account, spec.email, MemberRole(spec.role), _accept_url())
    return answer(_issued_out(issued), 201)


def _accept_url() -> str:
    return url_for("admin.accept_invitation", token="-", _external=True)[:-1]


def _issued_out(issued: members.IssuedInvitation) -> s.InvitationOut:
    invitation = issued.invitation
    return s.InvitationOut(
        id=invitation.id,
        email=invitation.email,
        role=invitation.role.value,
        expires_at=invitation.expires_at,
        accept_url=issued.link,
    )


@operation(
    "PATCH",
    "/accounts/<int:account_id>/members/<int:member_id>",
    summary="Change a member's role (owners; never one's own)",
    response=s.MemberOut,
    body=s.RoleIn,
)
def member_update(account_id: int, member_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    member = members.get_member(account, member_id)
    spec = parse_body(s.RoleIn)
    return answer(_member_out(members.change_role(caller(), member, MemberRole(spec.role))))


@operation(
    "DELETE",
    "/accounts/<int:account_id>/members/<int:member_id>",
    summary="Remove a member (owners)",
    response=None,
    status=204,
)
def member_remove(account_id: int, member_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    members.remove_member(caller(), members.get_member(account, member_id))
    return Response(status=204)


@operation(
    "GET",
    "/accounts/<int:account_id>/invitations",
    summary="The account's invitations, newest first, with their status (owners)",
    response=s.InvitationInfo,
    paged=True,
)
def invitations_list(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    return page_of(members.invitations_query(caller(), account), _invitation_out)


@operation(
    "DELETE",
    "/accounts/<int:account_id>/invitations/<int:invitation_id>",
    summary="Revoke a pending invitation (owners): its link stops working at once",
    response=s.InvitationInfo,
)
def invitation_revoke(account_id: int, invitation_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    invitation = members.get_invitation(account, invitation_id)
    return answer(_invitation_out(members.revoke_invitation(caller(), invitation)[0]))


@operation(
    "POST",
    "/accounts/<int:account_id>/invitations/<int:invitation_id>/resend",
    summary="A new link for a pending or expired invitation (owners), emailed and answered "
    "once; the previous link stops working",
    response=s.InvitationOut,
)
def invitation_resend(account_id: int, invitation_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id, owner=True)
    invitation = members.get_invitation(account, invitation_id)
    return answer(_issued_out(members.resend_invitation(caller(), invitation, _accept_url())))


# --- clients --------------------------------------------------------------------------


@operation(
    "GET",
    "/accounts/<int:account_id>/clients",
    summary="The account's clients",
    response=s.ClientOut,
    paged=True,
)
def clients_list(account_id: int) -> ResponseReturnValue:
    page = current_page(client_service.clients_query(access.account_for(caller(), account_id)))
    states = client_states(page.items)
    return page_answer(page, lambda c: _client_out(c, states[c.id]))


@operation(
    "POST",
    "/accounts/<int:account_id>/clients",
    summary="Create a client (a draft)",
    response=s.ClientOut,
    status=201,
    body=s.ClientIn,
    creates=True,
)
def clients_create(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id)
    spec = client_service.parse_spec(**parse_body(s.ClientIn).model_dump())
    return answer(_client_out(client_service.create_client(account, spec)), 201)


@operation("GET", "/clients/<int:client_id>", summary="One client", response=s.ClientOut)
def client_show(client_id: int) -> ResponseReturnValue:
    return answer(_client_out(_owned(LlmClient, client_id, "client")))


@operation(
    "PATCH",
    "/clients/<int:client_id>",
    summary="Change a client's settings",
    response=s.ClientOut,
    body=s.ClientPatch,
)
def client_update(client_id: int) -> ResponseReturnValue:
    client = _owned(LlmClient, client_id, "client")
    patch = parse_body(s.ClientPatch).model_dump(exclude_none=True)
    return answer(_client_out(client_service.patch_client(client, patch)))


@operation(
    "DELETE",
    "/clients/<int:client_id>",
    summary="Delete the client and destroy its infrastructure",
    response=s.RunOut,
    status=202,
)
def client_delete(client_id: int) -> ResponseReturnValue:
    client = _owned(LlmClient, client_id, "client")
    return answer(_run_out(infra.request_delete(client, requested_by=who())), 202)


@operation(
    "POST",
    "/clients/<int:client_id>/deploy",
    summary="Plan the client's infrastructure; applied once an admin approves (or by policy)",
    response=s.RunOut,
    status=202,
)
def client_deploy(client_id: int) -> ResponseReturnValue:
    client = _owned(LlmClient, client_id, "client")
    return answer(_run_out(infra.request_deploy(client, requested_by=who())), 202)


@operation(
    "POST",
    "/clients/<int:client_id>/undeploy",
    summary="Stop serving the client",
    response=s.RunOut,
    status=202,
)
def client_undeploy(client_id: int) -> ResponseReturnValue:
    client = _owned(LlmClient, client_id, "client")
    return answer(_run_out(infra.request_undeploy(client, requested_by=who())), 202)


@operation(
    "PUT",
    "/clients/<int:client_id>/domain",
    summary="Serve the client at a custom domain of its account too (null: detach)",
    response=s.ClientOut,
    body=s.AttachIn,
)
def client_domain(client_id: int) -> ResponseReturnValue:
    client = _owned(LlmClient, client_id, "client")
    spec = parse_body(s.AttachIn)
    if spec.domain_id is None:
        domains.detach_client(client)
    else:
        domain = _owned(CustomDomain, spec.domain_id, "domain")
        domains.attach_client(domain, client)
    return answer(_client_out(client))


# --- API keys -------------------------------------------------------------------------


@operation(
    "GET",
    "/accounts/<int:account_id>/api-keys",
    summary="The account's API keys (never secrets)",
    response=s.ApiKeyOut,
    paged=True,
)
def keys_list(account_id: int) -> ResponseReturnValue:
    return page_of(api_keys.api_keys_query(access.account_for(caller(), account_id)), _key_out)


@operation(
    "POST",
    "/accounts/<int:account_id>/api-keys",
    summary="Create an API key, shown once",
    response=s.ApiKeyCreated,
    status=201,
    body=s.ApiKeyIn,
    creates=True,
)
def keys_create(account_id: int) -> ResponseReturnValue:
    account = access.account_for(caller(), account_id)
    spec = parse_body(s.ApiKeyIn)
    found = [db.session.get(LlmClient, cid) for cid in spec.client_ids]
    scope = [c for c in found if c is not None and c.account_id == account.id]
    if len(scope) != len(found):
        raise InvalidInput("client_ids: every client must belong to this account")
    issued = api_keys.create_api_key(account, scope, spec.expires_in_days, spec.label)
    return answer(_key_out(issued.api_key, s.ApiKeyCreated, key=issued.plaintext), 201)


@operation(
    "DELETE", "/api-keys/<int:key_id>", summary="Revoke an API key at once", response=s.ApiKeyOut
)
def key_revoke(key_id: int) -> ResponseReturnValue:
    key = _owned(ApiKey, key_id, "API key")
    return answer(_key_out(api_keys.revoke_api_key(key.key_id)[0]))


# --- domains --------------------------------------------------------------------------


@operation(
    "GET",
    "/accounts/<int:account_id>/domains",
    summary="The account's custom domains",
    response=s.DomainOut,
    paged=True,
)
def domains_list(account_id: int) -> ResponseReturnValue:
    return page_of(domains.domains_query(access.account_for(caller(), account_id)), _domain_out)


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
    return answer(_domain_out(domain), 202)


@operation(
    "GET",
    "/domains/<int:domain_id>",
    summary="One domain, with its NS records",
    response=s.DomainOut,
)
def domain_show(domain_id: int) -> ResponseReturnValue:
    return answer(_domain_out(_owned(CustomDomain, domain_id, "domain")))


@operation(
    "POST",
    "/domains/<int:domain_id>/verify",
    summary="Check the delegation now (in a worker)",
    response=s.DomainOut,
    status=202,
)
def domain_verify(domain_id: int) -> ResponseReturnValue:
    domain = _owned(CustomDomain, domain_id, "domain")
    domain_checks.request_check(domain)
    return answer(_domain_out(domain), 202)


@operation(
    "DELETE",
    "/domains/<int:domain_id>",
    summary="Destroy the zone and forget the domain",
    response=s.RunOut,
    status=202,
)
def domain_delete(domain_id: int) -> ResponseReturnValue:
    domain = _owned(CustomDomain, domain_id, "domain")
    return answer(_run_out(domains.delete_domain(domain, requested_by=who())), 202)


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
    return page_of(query, _run_out)


@operation("GET", "/runs/<int:run_id>", summary="One run, with its plan summary", response=s.RunOut)
def run_show(run_id: int) -> ResponseReturnValue:
    return answer(_run_out(_run(run_id)))


@operation("GET", "/runs/<int:run_id>/logs", summary="A run's full log", response=s.RunLog)
def run_logs(run_id: int) -> ResponseReturnValue:
    run = _run(run_id)
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
    run = _run(run_id)
    access.require_platform_admin(caller(), "approve plans")
    return answer(_run_out(infra.approve_run(run.id, approved_by=who())), 202)


@operation(
    "POST",
    "/runs/<int:run_id>/discard",
    summary="Drop a plan awaiting review",
    response=s.RunOut,
)
def run_discard(run_id: int) -> ResponseReturnValue:
    run = _run(run_id)
    return answer(_run_out(infra.discard_run(run.id)))


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

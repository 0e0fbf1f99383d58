"""What the management routes share: the JSON each object is answered as, and finding
the objects the caller may reach (one 404 message per kind otherwise)."""

from __future__ import annotations

from typing import Any, TypeVar

from app.blueprints.management.common import (
    caller,
)
from app.domains.publish import appearance_of
from app.errors import NotFound
from app.models import (
    Account,
    AccountInvitation,
    AccountMember,
    ApiKey,
    Connection,
    CustomDomain,
    InfraRun,
    LlmClient,
    Plugin,
)
from app.schemas import management as s
from app.services import (
    access,
    api_keys,
    members,
)
from app.services.client_state import ClientState, client_state
from app.services.publish import identity_secret_state

# --- renderers ------------------------------------------------------------------------


def account_out(account: Account) -> s.AccountOut:
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


def member_out(member: AccountMember) -> s.MemberOut:
    return s.MemberOut(
        id=member.id,
        user_id=member.user_id,
        email=member.user.email,
        role=member.role.value,
        created_at=member.created_at,
        last_seen_at=member.user.last_seen_at,
    )


def invitation_out(invitation: AccountInvitation) -> s.InvitationInfo:
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


def client_out(client: LlmClient, state: ClientState | None = None) -> s.ClientOut:
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
        timeout_seconds=client.timeout_seconds,
        require_api_key=client.require_api_key,
        allowed_origins=list(client.allowed_origins or []),
        appearance=appearance_of(client.appearance),
        identity=client.identity_mode,
        identity_secret=identity_secret_state(client),
        user_requests_per_minute=client.user_requests_per_minute,
        user_tokens_per_minute=client.user_tokens_per_minute,
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


def key_out(api_key: ApiKey, model: type[s.ApiKeyOut] = s.ApiKeyOut, **extra: Any) -> s.ApiKeyOut:
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


def domain_out(domain: CustomDomain) -> s.DomainOut:
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


def run_out(run: InfraRun) -> s.RunOut:
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


Owned = TypeVar("Owned", LlmClient, CustomDomain, ApiKey, InfraRun, Connection, Plugin)


def owned(model: type[Owned], object_id: int, what: str) -> Owned:
    """The object, if it exists in one of the caller's accounts; one 404 message whether it
    does not exist or is another account's, so that ids of other accounts stay unknown."""
    return access.find_visible(caller(), model, object_id, what)


def run_of(run_id: int) -> InfraRun:
    return owned(InfraRun, run_id, "run")

"""An account's routing workspace: when it is applied, and when it is destroyed.

The objects an account's clients share (the wildcard certificates and, with the Gateway
API, the ListenerSet: ``app.infra.routing_objects``) live in a workspace of their own,
``routing/{account}``, reviewed and applied like any other, so that a client's run never
changes what another client relies on. It follows the account's clients:

- a deploy of a client asks for a routing run too (``routing_apply``) when the routing is
  not applied as it should be now (first client; a custom domain verified or deleted
  since; new settings);
  a queued routing run that has not started yet already renders the latest state;
- once the destroy of a client is done and no client of the account is deployed, being
  deployed or being undeployed any more, the routing is destroyed: with the last client,
  not before (``routing_destroy``).

The callers (``app.services.infra``) commit and enqueue the runs these make.

Nothing happens without Kubernetes (``KUBERNETES_ENABLED`` off): there are no routes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.config import current_settings
from app.errors import Conflict
from app.extensions import db
from app.infra.routing_objects import covering_certificates
from app.logging_setup import get_logger
from app.models import Account, DeploymentStatus, InfraRun, LlmClient, RunKind, RunStatus
from app.services import runs

log = get_logger("chatdock.clients")
_SERVING = (DeploymentStatus.DEPLOYED, DeploymentStatus.DEPLOYING, DeploymentStatus.UNDEPLOYING)


def latest_run(account_number: str) -> InfraRun | None:
    """The latest routing run that was not discarded (it says what the routing is)."""
    return db.session.execute(
        select(InfraRun)
        .where(
            InfraRun.workspace_key == runs.routing_workspace_key(account_number),
            InfraRun.kind != RunKind.PLAN,
            InfraRun.status != RunStatus.DISCARDED,
        )
        .order_by(InfraRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def is_live(account_number: str) -> bool:
    """The account's clients are routed: its latest routing run applies (done, on its way,
    or failed part-way), it does not destroy."""
    latest = latest_run(account_number)
    return latest is not None and latest.kind == RunKind.APPLY


def _may_exist(account_number: str) -> bool:
    """Something of the routing may be in the cluster: it was applied (even part-way),
    and no destroy is done or on its way (a destroy that failed leaves objects behind)."""
    latest = latest_run(account_number)
    return latest is not None and (
        latest.kind == RunKind.APPLY or latest.status == RunStatus.ERRORED
    )


def _new_run(account_number: str, kind: RunKind, **fields: object) -> InfraRun:
    account_id = db.session.execute(
        select(Account.id).where(Account.account_number == account_number)
    ).scalar_one()
    run = InfraRun(
        workspace_key=runs.routing_workspace_key(account_number),
        kind=kind,
        account_id=account_id,
        account_number=account_number,
        target_name=account_number,
        job_name="routing",
        **fields,
    )
    db.session.add(run)
    db.session.flush()
    run.job_args = [run.id]
    return run


def routing_apply(
    account_number: str, *, auto_approve: bool = False, requested_by: str = "cli"
) -> InfraRun | None:
    """A new routing run of the account (flushed; the caller commits and enqueues it),
    unless its routing already is, or will be, what it should be now: applied or planned
    with today's configuration, or queued and not started (it renders when it starts)."""
    if not current_settings().KUBERNETES_ENABLED:
        return None
    latest = latest_run(account_number)
    if latest is not None and latest.kind == RunKind.APPLY:
        if latest.status == RunStatus.QUEUED and latest.planned_at is None:
            return None
        wanted = runs.render_routing_hash(account_number)
        if latest.status != RunStatus.ERRORED and latest.config_hash == wanted:
            return None
    return _new_run(
        account_number,
        RunKind.APPLY,
        auto_approve=auto_approve,
        requested_by=requested_by,
        note=f"routing of account {account_number}",
    )


def routing_destroy(
    account_number: str, *, auto_approve: bool, requested_by: str
) -> InfraRun | None:
    """A destroy of the account's routing once no client of it is served any more
    (flushed; the caller commits and enqueues it); None while one still is."""
    if not current_settings().KUBERNETES_ENABLED or not _may_exist(account_number):
        return None
    serving = db.session.execute(
        select(LlmClient.id)
        .join(Account, LlmClient.account_id == Account.id)
        .where(
            Account.account_number == account_number,
            LlmClient.deployment_status.in_(_SERVING),
        )
        .limit(1)
    ).first()
    if serving is not None:
        return None
    log.info("routing_released", account=account_number)
    return _new_run(
        account_number,
        RunKind.DESTROY,
        auto_approve=auto_approve,
        requested_by=requested_by,
        note=f"routing of account {account_number}: its last client is gone",
    )


def objects_of(client: LlmClient) -> list[dict[str, Any]]:
    """The Kubernetes objects that serve ``client``, as they would be applied now: its
    route, then what of its account's routing it relies on (the ListenerSet with the
    Gateway API, and the certificates covering its hosts)."""
    if not current_settings().KUBERNETES_ENABLED:
        raise Conflict(
            "KUBERNETES_ENABLED is off: clients have no Kubernetes objects (only DNS records)"
        )
    number = client.account.account_number
    spec = runs.client_spec(number, client.name, custom_hosts=runs.custom_hosts_of(client))
    shared = runs.routing_spec(number).kubernetes_objects()
    covering = set(covering_certificates(number, spec.hosts))
    return [
        *spec.kubernetes_objects().values(),
        *(
            obj
            for obj in shared.values()
            if obj["kind"] != "Certificate" or obj["metadata"]["name"] in covering
        ),
    ]

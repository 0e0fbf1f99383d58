"""Custom domains of an account: add (a hosted zone, through a reviewed run), attach
clients, delete. Delegation checks live in :mod:`app.services.domain_checks`.

The claim rule: any number of accounts may claim a name that no other account holds
(each gets its own zone and name servers); the first whose delegation check succeeds
wins and holds the name (:func:`app.domains.serving.holds_name`), and the other claims of that
name, or of names inside or above it, fail and their accounts are told. An unverified
claim never locks anyone out."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError

from app.config import current_settings
from app.domains import serving
from app.domains.names import (
    check_not_public_suffix,
    check_not_reserved,
    normalize_domain,
    overlaps,
)
from app.errors import Conflict, NotFound
from app.extensions import db
from app.models import Account, CustomDomain, DomainStatus, InfraRun, LlmClient, RunKind
from app.models.common import utcnow
from app.queue import reachable_queue
from app.services import audit, runs
from app.services.infra import enqueue_run, request_deploy, request_routing


def reserved_domains() -> list[str]:
    """The platform's own domains: no account may add them, a parent or a subdomain."""
    settings = current_settings()
    names = [settings.CUSTOMER_API_DOMAIN, *settings.PLATFORM_HOSTS, *settings.RESERVED_DOMAINS]
    return [n.strip().lower().rstrip(".") for n in names if n.strip()]


def get_domain(raw: str, account: Account | None = None) -> CustomDomain:
    """The claim of ``raw`` (of ``account`` when given; needed when several accounts
    claim the name)."""
    domain = normalize_domain(raw)
    query = select(CustomDomain).where(CustomDomain.domain == domain).order_by(CustomDomain.id)
    if account is not None:
        query = query.where(CustomDomain.account_id == account.id)
    found = list(db.session.execute(query).scalars())
    if not found:
        owner = f" for account {account.account_number}" if account is not None else ""
        raise NotFound(f"no custom domain {domain}{owner}")
    if len(found) > 1:
        numbers = ", ".join(d.account.account_number for d in found)
        raise Conflict(f"{domain} is claimed by accounts {numbers}: add --account NUMBER")
    return found[0]


def domain_of_run(run: InfraRun) -> CustomDomain | None:
    """The domain a run is for, as the database has it now; None once it is gone."""
    domain = db.session.get(CustomDomain, run.domain_id) if run.domain_id else None
    if domain is not None:
        db.session.refresh(domain)
    return domain


def forget_domain(domain: CustomDomain) -> None:
    """Delete the row of a domain whose infrastructure was destroyed."""
    db.session.delete(domain)
    db.session.commit()


def rival_claims(domain: CustomDomain) -> list[CustomDomain]:
    """Other accounts' claims of the same name, or of names inside or above it."""
    return [d for d in _nearby(domain.domain) if d.account_id != domain.account_id]


def holds_name(domain: CustomDomain) -> bool:
    grace = timedelta(hours=current_settings().DOMAIN_GRACE_HOURS)
    return serving.holds_name(domain, utcnow(), grace)


def domains_query(account: Account | None = None) -> Select[CustomDomain]:
    query = select(CustomDomain).order_by(CustomDomain.domain, CustomDomain.id)
    if account is not None:
        query = query.where(CustomDomain.account_id == account.id)
    return query


def list_domains(account: Account | None = None) -> list[CustomDomain]:
    return list(db.session.execute(domains_query(account)).scalars())


def latest_run(domain: CustomDomain) -> InfraRun | None:
    return db.session.execute(
        select(InfraRun)
        .where(InfraRun.workspace_key == _workspace_key(domain))
        .order_by(InfraRun.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def add_domain(
    account: Account, raw: str, *, auto_approve: bool = False, requested_by: str = "cli"
) -> tuple[CustomDomain, InfraRun]:
    """Claim ``raw`` for the account and plan its hosted zone (applied once approved).

    Adding a domain the account already has, whose zone was never made (its plan was
    discarded or errored), plans the zone again."""
    domain_name = normalize_domain(raw)
    check_not_reserved(domain_name, reserved_domains())
    check_not_public_suffix(domain_name)
    domain = _claimable(account, domain_name)
    queue = reachable_queue()  # before any change: an unreachable Redis changes nothing
    if domain is None:
        domain = CustomDomain(account=account, domain=domain_name, status=DomainStatus.PENDING)
        db.session.add(domain)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()
            raise Conflict(f"{domain_name} was just claimed by another request") from None
    run = _new_run(domain, RunKind.APPLY, "provision_domain", auto_approve=auto_approve)
    run.requested_by = requested_by
    _audit("add", domain, {"run": (None, run.id)})
    db.session.commit()
    return domain, enqueue_run(queue, run)


def attach_client(domain: CustomDomain, client: LlmClient) -> InfraRun | None:
    """Serve the client on ``{name}.{domain}`` too; a deployed client on a verified
    domain gets its record, ingress host and certificate through a new run."""
    if client.account_id != domain.account_id:
        raise Conflict(
            f"{domain.domain} belongs to account {domain.account.account_number}, "
            f"not to the client's account {client.account.account_number}"
        )
    if domain.status == DomainStatus.DELETING:
        raise Conflict(f"{domain.domain} is being deleted")
    if client.custom_domain_id == domain.id:
        return None
    if client.is_deployed and domain.ever_verified:
        reachable_queue()  # its run needs the queue: refuse now, with nothing changed
    client.custom_domain = domain
    _audit("attach", domain, {"client": (None, client.name)})
    db.session.commit()
    return _redeploy_if_live(client, domain, "attach")


def detach_client(client: LlmClient) -> InfraRun | None:
    """Stop serving the client on its custom domain (its record is removed by a run)."""
    domain = client.custom_domain
    if domain is None:
        return None
    if client.is_deployed and domain.ever_verified:
        reachable_queue()
    client.custom_domain = None
    _audit("detach", domain, {"client": (client.name, None)})
    db.session.commit()
    return _redeploy_if_live(client, domain, "detach")


def delete_domain(domain: CustomDomain, *, requested_by: str = "cli") -> InfraRun:
    """Destroy the zone (refused while a client is attached); the row goes when it's done."""
    if domain.clients:
        names = ", ".join(sorted(c.name for c in domain.clients))
        raise Conflict(
            f"{domain.domain} is used by client(s) {names}: detach them first "
            f"(flask domains detach --client NAME --account {domain.account.account_number})"
        )
    if domain.status == DomainStatus.DELETING:
        raise Conflict(f"{domain.domain} is already being deleted")
    queue = reachable_queue()
    domain.status = DomainStatus.DELETING
    domain.next_check_at = None
    run = _new_run(domain, RunKind.DESTROY, "destroy_domain", auto_approve=True)
    run.requested_by = requested_by
    run.note = f"delete of custom domain {domain.domain}"
    _audit("delete", domain, {"run": (None, run.id)})
    db.session.commit()
    enqueue_run(queue, run)
    # Its wildcard listener and certificate go from the account's routing.
    request_routing(domain.account.account_number, requested_by=f"delete of {domain.domain}")
    return run


def _audit(action: str, domain: CustomDomain, changes: dict) -> None:
    audit.record(action, "domain", domain.domain, account_id=domain.account_id, changes=changes)


def redeploy_attached_clients(domain: CustomDomain, reason: str) -> list[InfraRun]:
    """New runs for the deployed clients of a domain (e.g. once it is first verified)."""
    return [
        run
        for client in sorted(domain.clients, key=lambda c: c.name)
        if (run := _redeploy_if_live(client, domain, reason)) is not None
    ]


def _redeploy_if_live(client: LlmClient, domain: CustomDomain, reason: str) -> InfraRun | None:
    if not client.is_deployed or not domain.ever_verified:
        return None
    return request_deploy(client, requested_by=f"domain {reason}: {domain.domain}")


def _nearby(domain_name: str) -> list[CustomDomain]:
    """Every claim of ``domain_name``, of its parents and of its subdomains."""
    labels = domain_name.split(".")
    parents = [".".join(labels[i:]) for i in range(1, len(labels))]
    nearby = select(CustomDomain).where(
        (CustomDomain.domain == domain_name)
        | CustomDomain.domain.in_(parents)
        | CustomDomain.domain.endswith(f".{domain_name}", autoescape=True)
    )
    return list(db.session.execute(nearby.order_by(CustomDomain.id)).scalars())


def _claimable(account: Account, domain_name: str) -> CustomDomain | None:
    """The account's own unprovisioned domain of that name (to re-plan), or None when the
    account may claim it; a Conflict when it has it already, or another account holds
    it (or a name inside or above it). Other accounts' unverified claims do not count."""
    for other in _nearby(domain_name):
        if other.domain == domain_name and other.account_id == account.id:
            if other.status == DomainStatus.PENDING and not other.zone_id:
                return other
            raise Conflict(
                f"{domain_name} is already added to account {account.account_number} "
                f"({other.status.value}): flask domains show {domain_name}"
            )
        if other.account_id == account.id or not holds_name(other):
            continue
        if other.domain == domain_name:
            raise Conflict(f"{domain_name} is already claimed by another account")
        if overlaps(domain_name, other.domain):
            raise Conflict(f"{domain_name} overlaps {other.domain}, claimed by another account")
    return None


def _workspace_key(domain: CustomDomain) -> str:
    return runs.domain_workspace_key(domain.account.account_number, domain.domain)


def _new_run(domain: CustomDomain, kind: RunKind, job_name: str, **fields: Any) -> InfraRun:
    run = InfraRun(
        workspace_key=_workspace_key(domain),
        kind=kind,
        domain_id=domain.id,
        account_id=domain.account_id,
        account_number=domain.account.account_number,
        target_name=domain.domain,
        job_name=job_name,
        **fields,
    )
    db.session.add(run)
    db.session.flush()
    run.job_args = [domain.id, run.id]
    return run

"""A client's ``tls_status``: the state of the certificates that cover its hosts.

Clients have no certificate of their own: the account's wildcard covers the default
host, a verified custom domain's wildcard its custom host (``app.infra.routing_objects``).
The status is read after every apply, and again every ``TLS_CHECK_MINUTES`` by the
workers' sweep (``watch_if_due``), because certificates change after the apply: they are
issued minutes later, renewed at two thirds of their lifetime (45 to 90 days), and a
renewal can fail. The check reads each certificate once per pass, however many clients
it covers, and records what it found (``tls_detail``: expiry, a failed renewal).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from redis import Redis
from sqlalchemy import select

from app.config import current_settings
from app.extensions import db
from app.infra import kubernetes
from app.infra.routing_objects import covering_certificates
from app.logging_setup import get_logger
from app.models import Account, DeploymentStatus, LlmClient, ResourceStatus
from app.models.common import utcnow

log = get_logger("chatdock.kubernetes")
WATCH_KEY = "chatdock:tls-watch"  # set while a pass is not due (expires when it is)

_TLS_STATUS = {
    kubernetes.CertificateState.READY: ResourceStatus.READY,
    kubernetes.CertificateState.PENDING: ResourceStatus.PENDING,
    kubernetes.CertificateState.FAILED: ResourceStatus.ERRORED,
}
_SEVERITY = [ResourceStatus.READY, ResourceStatus.PENDING, ResourceStatus.ERRORED]

Seen = dict[str, tuple[kubernetes.CertificateState, str]]


def certificate_state(namespace: str, name: str) -> tuple[kubernetes.CertificateState, str]:
    """One Certificate's state. A cluster that cannot be asked (no credentials,
    unreachable, refused) is "not known yet": pending, never a failed run."""
    settings = current_settings()
    try:
        certificate = kubernetes.get_certificate(namespace, name)
    except Exception as error:  # any failure to ask means "not known yet"
        log.warning("certificate_check_failed", certificate=name, error=type(error).__name__)
        return (
            kubernetes.CertificateState.PENDING,
            f"the cluster could not be asked ({type(error).__name__})",
        )
    margin = timedelta(days=settings.TLS_RENEWAL_MARGIN_DAYS)
    state, message = kubernetes.readiness(certificate, utcnow(), margin)
    log.info("certificate_state", certificate=name, state=state.value, message=message)
    return state, message


def covering_status(
    account_number: str, hosts: Sequence[str], seen: Seen | None = None
) -> tuple[ResourceStatus, str]:
    """The worst state of the certificates covering ``hosts`` (default host first), and
    what each said; ``seen`` caches certificates read in this pass."""
    seen = {} if seen is None else seen
    namespace = current_settings().KUBERNETES_NAMESPACE
    status, details = ResourceStatus.READY, []
    for name in covering_certificates(account_number, hosts):
        if name not in seen:
            seen[name] = certificate_state(namespace, name)
        state, message = seen[name]
        status = max(status, _TLS_STATUS[state], key=_SEVERITY.index)
        details.append(f"{name}: {message}")
    return status, "; ".join(details)


def refresh(client: LlmClient, account_number: str, seen: Seen | None = None) -> None:
    """Set the client's tls_status and detail from its covering certificates (the
    caller commits). Without Kubernetes there is nothing to watch: unmanaged."""
    if not current_settings().KUBERNETES_ENABLED:
        client.tls_status, client.tls_detail = ResourceStatus.UNMANAGED, ""
        return
    hosts = list(client.live_hosts) or [""]
    client.tls_status, client.tls_detail = covering_status(account_number, hosts, seen)
    client.tls_checked_at = utcnow()


def watch() -> int:
    """Re-read the certificates of every deployed client; the number of clients whose
    status changed."""
    changed = 0
    seen: Seen = {}
    deployed = (
        select(LlmClient, Account.account_number)
        .join(Account, LlmClient.account_id == Account.id)
        .where(LlmClient.deployment_status == DeploymentStatus.DEPLOYED)
        .order_by(LlmClient.id)
    )
    for client, account_number in db.session.execute(deployed).all():
        before = (client.tls_status, client.tls_detail)
        refresh(client, account_number, seen)
        if (client.tls_status, client.tls_detail) != before:
            changed += 1
            log.info(
                "tls_status_changed",
                client_id=client.id,
                status=client.tls_status.value,
                previous=before[0].value,
                detail=client.tls_detail,
            )
    db.session.commit()
    return changed


def watch_if_due(redis: Redis) -> int | None:
    """Run ``watch`` when ``TLS_CHECK_MINUTES`` passed since the last pass of any worker
    (None when not due, or when the check is off or there is no cluster)."""
    settings = current_settings()
    if not settings.KUBERNETES_ENABLED or settings.TLS_CHECK_MINUTES <= 0:
        return None
    seconds = max(1, int(settings.TLS_CHECK_MINUTES * 60))
    if not redis.set(WATCH_KEY, utcnow().isoformat(), nx=True, ex=seconds):
        return None
    return watch()

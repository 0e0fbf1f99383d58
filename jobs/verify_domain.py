"""verify_domain: one delegation check of a custom domain (scheduled, or on request)."""

from __future__ import annotations

from app import signals
from app.config import current_settings
from app.domains.checks import is_due
from app.extensions import db
from app.logging_setup import get_logger
from app.models import CustomDomain
from app.services.domain_checks import run_check

log = get_logger("chatdock.jobs")


def verify_domain(domain_id: int, scheduled_for: float) -> str:
    """Check the delegation when this job's time is still the domain's next check."""
    domain = db.session.get(CustomDomain, domain_id)
    if domain is None or not is_due(domain, scheduled_for):
        return "superseded"
    signals.pre_verify_domain.send("verify_domain", domain=domain)
    result = run_check(domain)
    if current_settings().LOG_JOBS:
        log.info(
            "job_finished", job="verify_domain", domain=domain.domain, status=domain.status.value
        )
    signals.post_verify_domain.send("verify_domain", domain=domain, result=result)
    return domain.status.value

"""verify_domain: one delegation check of a custom domain (scheduled, or on request)."""

from __future__ import annotations

from app import signals
from app.config import current_settings
from app.logging_setup import get_logger
from app.services.domain_checks import due_domain, run_check

log = get_logger("chatdock.jobs")


def verify_domain(domain_id: int, scheduled_for: float) -> str:
    """Check the delegation when this job's time is still the domain's next check."""
    domain = due_domain(domain_id, scheduled_for)
    if domain is None:
        return "superseded"
    signals.pre_verify_domain.send("verify_domain", domain=domain)
    result = run_check(domain)
    if current_settings().LOG_JOBS:
        log.info(
            "job_finished", job="verify_domain", domain=domain.domain, status=domain.status.value
        )
    signals.post_verify_domain.send("verify_domain", domain=domain, result=result)
    return domain.status.value

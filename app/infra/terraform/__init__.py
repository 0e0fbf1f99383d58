"""Terraform, run unattended: the runner (:mod:`.runner`), what a failure means
(:mod:`.errors`), the process groups nothing may outlive (:mod:`.process`, with the
guard script ``guard.py``) and the reading of its output (:mod:`.events`)."""

from app.infra.terraform.errors import (
    Diagnostic,
    ErrorKind,
    TerraformAborted,
    TerraformError,
    TerraformTimeout,
    classify,
)
from app.infra.terraform.events import format_event
from app.infra.terraform.process import running_groups, terminate_running
from app.infra.terraform.runner import (
    PlanOutcome,
    TerraformRunner,
    backend_state_location,
)

__all__ = [
    "Diagnostic",
    "ErrorKind",
    "PlanOutcome",
    "TerraformAborted",
    "TerraformError",
    "TerraformRunner",
    "TerraformTimeout",
    "backend_state_location",
    "classify",
    "format_event",
    "running_groups",
    "terminate_running",
]

"""A run's log as the account's people see it: without the server's paths (the
workspace folder, the provider mirror, any other absolute path) and without terraform's
notes about its lock file, which are the platform's business. Platform admins see the
log as written."""

from __future__ import annotations

import re

from app.config import current_settings
from app.models import AdminUser
from app.services.runs.workspace import workspaces_dir

# A box terraform draws around a warning (╷ ... ╵) that is about its lock file.
_LOCK_BOX = re.compile(
    r"^╷\n(?:│[^\n]*\n)*?│ Warning: [^\n]*lock file[^\n]*\n(?:│[^\n]*\n)*╵\n?", re.M
)
# terraform init's paragraph "Terraform has created a lock file ..." up to a blank line.
_LOCK_NOTE = re.compile(r"^Terraform has created a lock file[^\n]*\n(?:[^\n]+\n)*\n?", re.M)
# An absolute path of two parts or more, not inside a URL or a longer word.
_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.@+-]+/)+[\w.@+-]*")


def for_customers(log: str) -> str:
    """The log without server paths and lock-file notes."""
    for folder in (str(workspaces_dir()), current_settings().TF_PLUGIN_DIR):
        if folder:
            log = log.replace(folder.rstrip("/") + "/", "")
    log = _LOCK_BOX.sub("", log)
    log = _LOCK_NOTE.sub("", log)
    return _PATH.sub("[server path]", log)


def shown_log(log: str | None, user: AdminUser) -> str:
    """What ``user`` is shown of a run's log."""
    if not log:
        return ""
    return log if user.is_platform_admin else for_customers(log)

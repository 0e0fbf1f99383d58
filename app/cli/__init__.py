"""flask CLI command groups. Thin: parse options, call services, print results."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app.config import current_settings
from app.logging_setup import route_command_logs


@with_appcontext
def operator_logging() -> None:
    """Group callback of operator commands: logs go to the log (CLI_LOG_FILE), and only
    warnings and errors to stderr (CLI_LOG_LEVEL), so what the command prints is what a
    person reads. The worker is a service: it keeps logging everything on stderr. (The
    development commands of ``devtools``, Flask CLI plugins, use it too.)"""
    settings = current_settings()
    log_file = None
    if settings.CLI_LOG_FILE:
        log_file = Path(current_app.instance_path) / settings.CLI_LOG_FILE
    route_command_logs(settings.CLI_LOG_LEVEL, log_file)


def register_cli(app: Flask) -> None:
    from app.cli.accounts import accounts
    from app.cli.apikeys import apikeys
    from app.cli.audit import audit
    from app.cli.clients import clients
    from app.cli.data_migrations import data_migrations_cli
    from app.cli.domains import domains
    from app.cli.infra import infra
    from app.cli.invitations import invitations
    from app.cli.manifests import apply, delete, get
    from app.cli.members import members_cli
    from app.cli.models import models
    from app.cli.plugins import plugins_cli
    from app.cli.tokens import tokens
    from app.cli.usage import limits_cli, usage
    from app.cli.users import users
    from app.cli.worker import worker

    for group in (
        accounts,
        clients,
        apikeys,
        domains,
        users,
        invitations,
        members_cli,
        tokens,
        infra,
        models,
        data_migrations_cli,
        worker,
        usage,
        limits_cli,
        audit,
        apply,
        get,
        delete,
        plugins_cli,
    ):
        if isinstance(group, click.Group):
            group.callback = operator_logging
        elif group is not worker and group.callback is not None:
            # a single command: route its logs, then run it
            group.callback = _logged(group.callback)
        app.cli.add_command(group)


def _logged(callback: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        operator_logging()
        return callback(*args, **kwargs)

    return run

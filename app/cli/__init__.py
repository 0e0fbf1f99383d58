"""flask CLI command groups. Thin: parse options, call services, print results."""

from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    from app.cli.accounts import accounts
    from app.cli.apikeys import apikeys
    from app.cli.audit import audit
    from app.cli.clients import clients
    from app.cli.data_migrations import data_migrations_cli
    from app.cli.demo import demo
    from app.cli.dev_dns import dev_dns
    from app.cli.domains import domains
    from app.cli.infra import infra
    from app.cli.models import models
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
        tokens,
        demo,
        dev_dns,
        infra,
        models,
        data_migrations_cli,
        worker,
        usage,
        limits_cli,
        audit,
    ):
        app.cli.add_command(group)

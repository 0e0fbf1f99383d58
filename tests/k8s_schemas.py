"""Validation of Kubernetes objects offline: the API schemas of a pinned Kubernetes version
(``kubernetes-validate`` ships them), the pinned upstream CRDs of the Gateway API (v1.5.1,
Standard channel) and cert-manager (v1.20.3) vendored unchanged in ``tests/schemas/``
(where each came from: docs/testing.md), and the name rules the API server enforces but
no schema states.
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

from tests.k8s_cel import cel_problems

# The cluster version the manifests and the client objects are checked against.
KUBERNETES_VERSION = "1.33"
SCHEMAS = Path(__file__).parent / "schemas"
GATEWAY_API_DIR = SCHEMAS / "gateway-api-v1.5.1"  # config/crd/standard of tag v1.5.1
CERT_MANAGER_DIR = SCHEMAS / "cert-manager-v1.20.3"  # deploy/crds of tag v1.20.3
# (apiVersion, kind) -> the vendored CRD that defines it.
CRDS = {
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): GATEWAY_API_DIR / "httproutes.yaml",
    ("gateway.networking.k8s.io/v1", "ListenerSet"): GATEWAY_API_DIR / "listenersets.yaml",
    ("gateway.networking.k8s.io/v1", "Gateway"): GATEWAY_API_DIR / "gateways.yaml",
    ("cert-manager.io/v1", "Certificate"): CERT_MANAGER_DIR / "certificates.yaml",
    ("cert-manager.io/v1", "ClusterIssuer"): CERT_MANAGER_DIR / "clusterissuers.yaml",
}
CERT_MANAGER_CRD = CRDS["cert-manager.io/v1", "Certificate"]

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


@lru_cache(maxsize=8)
def crd_schema(path: Path, version: str) -> dict[str, Any]:
    """A vendored CRD's schema of ``version``, made strict: an unknown field is an error
    (the API server would drop it, or refuse it with strict field validation), except
    where the CRD itself keeps unknown fields."""
    crd = yaml.safe_load(path.read_text())
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    schema = copy.deepcopy(served["schema"]["openAPIV3Schema"])

    def strict(node: dict[str, Any]) -> None:
        if "properties" in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
        for child in node.get("properties", {}).values():
            strict(child)
        if isinstance(node.get("items"), dict):
            strict(node["items"])
        if isinstance(node.get("additionalProperties"), dict):
            strict(node["additionalProperties"])

    strict(schema)
    schema["properties"]["metadata"] = {"$ref": "#/$defs/objectMeta"}
    schema["$defs"] = {"objectMeta": _object_meta_schema()}
    return schema


def certificate_schema() -> dict[str, Any]:
    return crd_schema(CERT_MANAGER_CRD, "v1")


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


def validate_custom(obj: dict[str, Any]) -> None:
    """Raise when obj is not valid for the vendored CRD of its apiVersion and kind (the
    OpenAPI schema, plus the CRD's CEL rules ``tests.k8s_cel`` can evaluate)."""
    key = (obj.get("apiVersion"), obj.get("kind"))
    assert key in CRDS, f"no pinned CRD for {key}"
    version = str(obj["apiVersion"]).rpartition("/")[2]
    schema = crd_schema(CRDS[key], version)  # type: ignore[index]
    jsonschema.Draft202012Validator(schema).validate(obj)
    violations, unevaluated = cel_problems(schema, obj)
    assert not violations, violations
    assert not unevaluated, f"CEL rules this test cannot evaluate: {unevaluated}"
    assert not name_problems(obj), name_problems(obj)
    if obj["kind"] == "Certificate":
        assert is_dns_subdomain(obj["spec"]["secretName"]), obj["spec"]["secretName"]


def validate_certificate(obj: dict[str, Any]) -> None:
    """Raise when obj is not a valid cert-manager.io/v1 Certificate."""
    assert (obj.get("apiVersion"), obj.get("kind")) == ("cert-manager.io/v1", "Certificate")
    validate_custom(obj)


def validate_any(obj: dict[str, Any]) -> None:
    """A built-in kind against the Kubernetes schemas, a custom one against its CRD."""
    if (obj.get("apiVersion"), obj.get("kind")) in CRDS:
        validate_custom(obj)
    else:
        validate_kubernetes(obj)

"""The client's Kubernetes objects: built in Python, written next to the tfvars, applied by
the ``ingress`` module as they are, and validated here against the pinned Kubernetes
schemas (``kubernetes-validate``) and cert-manager's Certificate CRD; its readiness decides
the client's ``tls_status``.

No cluster and no Kubernetes provider exist here: the module's resources are never
planned. Real terraform does evaluate the root module's decoding of the files and the
module's variable checks (a copy of the module without its resources needs no provider).
The readiness check runs the official client against a loopback server that answers as
the API server does for a Certificate.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from app.config import Settings
from app.extensions import db
from app.infra import kubernetes
from app.infra.client_objects import CERTIFICATE_FILE, INGRESS_FILE
from app.infra.render import ClientWorkspaceSpec, render_client_workspace
from app.models import DeploymentStatus, InfraRun, LlmClient, ResourceStatus, RunKind, RunStatus
from app.services import runs
from tests.conftest import env
from tests.k8s_schemas import (
    CERT_MANAGER_CRD,
    is_dns_subdomain,
    name_problems,
    validate_certificate,
    validate_kubernetes,
)
from tests.terraform_cli import terraform

ACCOUNT = "3141-5926-5359"
API_DOMAIN = "api.chatdock.test"
LONGEST_NAME = "a" + "-b" * 31  # a 63-character DNS label, hyphens inside
LONGEST_HOST = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 56]) + ".test"  # 253


def k8s_spec(
    name: str = "demo", custom_hosts: tuple[tuple[str, str], ...] = (), **overrides: Any
) -> ClientWorkspaceSpec:
    settings = Settings(
        _env_file=None,
        **({"CUSTOMER_API_DOMAIN": API_DOMAIN, "KUBERNETES_ENABLED": True} | overrides),
    )
    return ClientWorkspaceSpec.from_settings(settings, ACCOUNT, name, custom_hosts)


def rendered_objects(spec: ClientWorkspaceSpec, root: Path) -> tuple[dict, dict, Path]:
    path = render_client_workspace(spec, root).path
    ingress = json.loads((path / INGRESS_FILE).read_text())
    certificate = json.loads((path / CERTIFICATE_FILE).read_text())
    return ingress, certificate, path


SPECS = {
    "plain": lambda: k8s_spec(),
    "hyphens": lambda: k8s_spec(
        "my-chat-bot", (("ZB", "my-chat-bot.shop-eu.example-shop.com"),), CERT_ISSUER="le-prod"
    ),
    "several custom hosts": lambda: k8s_spec(
        "bot", (("ZA", "bot.a.example"), ("ZB", "bot.b.example"), ("ZC", "bot.c-c.example"))
    ),
    "longest names": lambda: k8s_spec(
        LONGEST_NAME,
        (("ZL", LONGEST_HOST),),
        KUBERNETES_NAMESPACE="n" * 63,
        INGRESS_SERVICE_NAME="s" * 63,
    ),
}


@pytest.mark.parametrize("case", list(SPECS))
def test_objects_are_valid_kubernetes_and_cert_manager(case: str, tmp_path: Path) -> None:
    spec = SPECS[case]()
    ingress, certificate, _path = rendered_objects(spec, tmp_path)

    validate_kubernetes(ingress)
    validate_certificate(certificate)

    hosts = list(spec.hosts)
    assert hosts[0] == f"{spec.client_name}.{ACCOUNT}.{API_DOMAIN}"
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == hosts
    (tls,) = ingress["spec"]["tls"]
    assert tls["hosts"] == hosts == certificate["spec"]["dnsNames"]
    assert tls["secretName"] == certificate["spec"]["secretName"] == spec.tls_secret_name
    assert is_dns_subdomain(spec.tls_secret_name)
    for rule in ingress["spec"]["rules"]:
        (route,) = rule["http"]["paths"]
        assert (route["path"], route["pathType"]) == ("/", "Prefix")
        assert route["backend"]["service"]["name"] == spec.kubernetes.service_name
    for obj in (ingress, certificate):
        assert obj["metadata"]["name"] == f"{ACCOUNT}-{spec.client_name}"
        assert obj["metadata"]["namespace"] == spec.kubernetes.namespace
        assert obj["metadata"]["labels"]["chatdock/client"] == spec.client_name
    assert certificate["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": spec.kubernetes.cert_issuer,
    }
    # The delete job finds the secret cert-manager leaves behind by these labels.
    assert certificate["spec"]["secretTemplate"]["labels"] == certificate["metadata"]["labels"]
    assert "commonName" not in certificate["spec"]  # <= 64 characters; hosts may be 253
    assert "annotations" not in ingress["metadata"]  # no ingress-shim second Certificate


def test_the_pinned_crd_is_a_valid_crd_of_certificates() -> None:
    crd = yaml.safe_load(CERT_MANAGER_CRD.read_text())
    validate_kubernetes(crd)  # a CustomResourceDefinition the pinned Kubernetes accepts
    assert crd["metadata"]["name"] == "certificates.cert-manager.io"
    assert [v["name"] for v in crd["spec"]["versions"] if v["storage"]] == ["v1"]


def test_longest_host_still_gives_valid_names(tmp_path: Path) -> None:
    assert len(LONGEST_HOST) == 253 and len(LONGEST_NAME) == 63
    spec = SPECS["longest names"]()
    ingress, certificate, _ = rendered_objects(spec, tmp_path)
    assert LONGEST_HOST in certificate["spec"]["dnsNames"]
    assert len(spec.tls_secret_name) < 253 and len(ingress["metadata"]["name"]) <= 253
    assert not name_problems(ingress) and not name_problems(certificate)


@pytest.mark.parametrize(
    ("break_it", "validate"),
    [
        (lambda i, c: i["spec"]["rules"][0]["http"]["paths"][0].pop("pathType"), "k8s"),
        (lambda i, c: i["spec"]["tls"][0].update(hosts="a.example"), "k8s"),
        (lambda i, c: i["spec"]["tls"][0].update(secret="x"), "k8s"),
        (lambda i, c: i["metadata"]["labels"].update({"chatdock/client": "x" * 64}), "k8s"),
        (lambda i, c: i["metadata"].update(name="Bad_Name"), "k8s"),
        (lambda i, c: c["spec"].pop("issuerRef"), "cert"),
        (lambda i, c: c["spec"].update(dnsName=["x.example"]), "cert"),
        (lambda i, c: c["spec"].update(privateKey={"algorithm": "DSA"}), "cert"),
        (lambda i, c: c["spec"].update(secretName="x" * 254), "cert"),
    ],
)
def test_the_validation_catches_what_the_api_would_refuse(
    break_it, validate: str, tmp_path: Path
) -> None:
    ingress, certificate, _ = rendered_objects(k8s_spec(), tmp_path)
    ingress, certificate = copy.deepcopy(ingress), copy.deepcopy(certificate)
    break_it(ingress, certificate)
    errors = (kubernetes_validate.ValidationError, jsonschema.ValidationError, AssertionError)
    with pytest.raises(errors):
        validate_kubernetes(ingress) if validate == "k8s" else validate_certificate(certificate)


def test_the_workspace_holds_exactly_the_objects(tmp_path: Path) -> None:
    spec = k8s_spec(custom_hosts=(("ZC", "demo.api.example.com"),))
    ingress, certificate, path = rendered_objects(spec, tmp_path)
    assert {INGRESS_FILE: ingress, CERTIFICATE_FILE: certificate} == spec.kubernetes_objects()
    main = (path / "main.tf").read_text()
    assert 'jsondecode(file("${path.module}/ingress.k8s.json"))' in main
    assert 'jsondecode(file("${path.module}/certificate.k8s.json"))' in main
    tfvars = json.loads((path / "terraform.tfvars.json").read_text())
    assert not {k for k in tfvars if "ingress_name" in k or "kubernetes" in k}

    # A change of the objects changes the config hash (a saved plan becomes stale) ...
    other = render_client_workspace(k8s_spec(CERT_ISSUER="other", custom_hosts=()), tmp_path)
    assert other.config_hash != render_client_workspace(spec, tmp_path / "b").config_hash
    # ... and without Kubernetes there are neither objects nor the module.
    off = render_client_workspace(k8s_spec(KUBERNETES_ENABLED=False), tmp_path)
    assert not list(off.path.glob("*.k8s.json"))
    assert 'module "ingress"' not in (off.path / "main.tf").read_text()
    assert not (off.path / "modules" / "ingress").exists()


# --- real terraform: the root module decodes the files, the module checks them ---------


def resourceless_copy(workspace: Path, target: Path) -> Path:
    """The rendered ingress module call, its files and the module minus its resources."""
    module = target / "modules" / "ingress"
    module.mkdir(parents=True)
    for name in ("variables.tf", "outputs.tf"):
        shutil.copy(workspace / "modules" / "ingress" / name, module / name)
    for name in (INGRESS_FILE, CERTIFICATE_FILE):
        shutil.copy(workspace / name, target / name)
    call = re.search(
        r'^module "ingress" \{.*?^\}', (workspace / "main.tf").read_text(), re.M | re.S
    )
    assert call, "the rendered main.tf calls the ingress module"
    outputs = "".join(
        f'output "{name}" {{\n  value = module.ingress.{name}\n}}\n'
        for name in ("ingress_name", "certificate_name", "secret_name", "hosts")
    )
    (target / "main.tf").write_text(call.group(0) + "\n" + outputs)
    return target


def test_terraform_decodes_the_objects_and_checks_them(tmp_path: Path) -> None:
    spec = k8s_spec(custom_hosts=(("ZC", "demo.api.example.com"),))
    _, certificate, workspace = rendered_objects(spec, tmp_path / "ws")
    root = resourceless_copy(workspace, tmp_path / "root")

    assert terraform("init", "-input=false", "-no-color", cwd=root).returncode == 0
    applied = terraform("apply", "-auto-approve", "-input=false", "-no-color", cwd=root)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    outputs = json.loads(terraform("output", "-json", "-no-color", cwd=root).stdout)
    assert outputs["ingress_name"]["value"] == outputs["certificate_name"]["value"]
    assert outputs["ingress_name"]["value"] == spec.ingress_name
    assert outputs["secret_name"]["value"] == spec.tls_secret_name
    assert outputs["hosts"]["value"] == list(spec.hosts) == certificate["spec"]["dnsNames"]

    # The module refuses objects of the wrong kind (here: the two files swapped).
    ingress_text = (root / INGRESS_FILE).read_text()
    (root / INGRESS_FILE).write_text((root / CERTIFICATE_FILE).read_text())
    (root / CERTIFICATE_FILE).write_text(ingress_text)
    swapped = terraform("plan", "-input=false", "-no-color", cwd=root)
    assert swapped.returncode != 0
    assert "must be a networking.k8s.io/v1 Ingress" in swapped.stdout + swapped.stderr


# --- tls_status follows the Certificate's Ready condition ------------------------------


class FakeApiServer(ThreadingHTTPServer):
    """Answers GET of cert-manager Certificates as the API server does (JSON, 404 Status)."""

    certificates: dict[tuple[str, str], dict[str, Any]]
    requests: list[tuple[str, str]]  # path, Authorization


class _Handler(BaseHTTPRequestHandler):
    server: FakeApiServer

    def do_GET(self) -> None:
        self.server.requests.append((self.path, self.headers["Authorization"]))
        match = re.fullmatch(
            r"/apis/cert-manager\.io/v1/namespaces/([^/]+)/certificates/([^/?]+)", self.path
        )
        found = match and self.server.certificates.get((match[1], match[2]))
        body: dict[str, Any] = found or {
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "reason": "NotFound",
            "code": 404,
        }
        data = json.dumps(body).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def write_kubeconfig(directory: Path, server: str) -> Path:
    """A kubeconfig whose only cluster is ``server`` (what KUBECONFIG points at)."""
    path = directory / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": "test-token"}}],
        "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "x",
    }
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def api_server(tmp_path: Path) -> Iterator[FakeApiServer]:
    server = FakeApiServer(("127.0.0.1", 0), _Handler)
    server.certificates, server.requests = {}, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    kubeconfig = write_kubeconfig(tmp_path, f"http://127.0.0.1:{server.server_port}")
    with env(KUBECONFIG=str(kubeconfig)):
        yield server
    server.shutdown()
    server.server_close()


def certificate_with(*conditions: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": f"{ACCOUNT}-demo", "namespace": "chatdock"},
        "spec": {"secretName": f"{ACCOUNT}-demo-tls", "issuerRef": {"name": "letsencrypt"}},
        "status": {"conditions": list(conditions)},
    }


READY = {"type": "Ready", "status": "True", "reason": "Ready", "message": "up to date"}
NOT_READY = {"type": "Ready", "status": "False", "reason": "DoesNotExist", "message": "issuing"}
ISSUE_FAILED = {"type": "Issuing", "status": "False", "reason": "Failed", "message": "ACME 403"}


@pytest.mark.parametrize(
    ("conditions", "status"),
    [
        ((READY,), ResourceStatus.READY),
        ((NOT_READY,), ResourceStatus.PENDING),
        ((NOT_READY, ISSUE_FAILED), ResourceStatus.ERRORED),
        ((), ResourceStatus.PENDING),
        (None, ResourceStatus.PENDING),  # no Certificate (yet): 404
    ],
)
def test_tls_status_reads_the_certificate(api_server, conditions, status) -> None:
    if conditions is not None:
        certificate = certificate_with(*conditions)
        validate_certificate(certificate)  # the answers are what cert-manager writes
        api_server.certificates["chatdock", f"{ACCOUNT}-demo"] = certificate
    assert runs.client_tls_status("chatdock", ACCOUNT, "demo") == status
    assert api_server.requests == [  # with the kubeconfig user's token
        (
            f"/apis/cert-manager.io/v1/namespaces/chatdock/certificates/{ACCOUNT}-demo",
            "Bearer test-token",
        )
    ]


def test_an_unreachable_cluster_leaves_tls_pending(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\n")
    with env(KUBECONFIG=str(kubeconfig)):
        assert runs.client_tls_status("chatdock", ACCOUNT, "demo") == ResourceStatus.PENDING


def test_a_cluster_that_does_not_answer_leaves_tls_pending(tmp_path: Path, monkeypatch) -> None:
    """A listening socket that never answers: the call times out instead of hanging."""
    silent = socket.create_server(("127.0.0.1", 0))
    kubeconfig = write_kubeconfig(tmp_path, f"http://127.0.0.1:{silent.getsockname()[1]}")
    monkeypatch.setattr(kubernetes, "API_TIMEOUT_SECONDS", 0.5)
    started = time.monotonic()
    with silent, env(KUBECONFIG=str(kubeconfig)):
        assert runs.client_tls_status("chatdock", ACCOUNT, "demo") == ResourceStatus.PENDING
    assert time.monotonic() - started < 5


def test_an_apply_sets_tls_status_from_the_certificate(
    api_server, account, make_client, make_app
) -> None:
    client_id = make_client(account, "demo", deployed=False).id
    name = f"{account.account_number}-demo"
    api_server.certificates["chatdock", name] = certificate_with(NOT_READY)
    with make_app(KUBERNETES_ENABLED=True).app_context():
        run = InfraRun(
            workspace_key=f"clients/{account.account_number}/demo",
            kind=RunKind.APPLY,
            status=RunStatus.APPLIED,
            account_number=account.account_number,
            target_name="demo",
            client_id=client_id,
        )
        db.session.add(run)
        db.session.commit()

        runs.sync_client_status(run)
        client = db.session.get(LlmClient, client_id)
        assert client.deployment_status == DeploymentStatus.DEPLOYED
        assert client.tls_status == ResourceStatus.PENDING  # applied, not issued yet

        api_server.certificates["chatdock", name] = certificate_with(READY)
        runs.sync_client_status(run)
        assert db.session.get(LlmClient, client_id).tls_status == ResourceStatus.READY

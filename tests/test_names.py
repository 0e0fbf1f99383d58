"""One set of name rules (``app.names``), the same in Python and in the Terraform modules.

The modules' validations are read out of their ``variables.tf`` and evaluated by the real
``terraform console`` on the same names the Python rules judge, and the Kubernetes names
terraform reads from the objects Python builds are the names ``app.names`` derives. Then
the surfaces: a client named ``"demo\\n"`` (``^...$`` with ``re.match`` let it in: created,
never deployable) is refused by the service and by the management API.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.config import Settings
from app.errors import InvalidInput
from app.infra.render import TERRAFORM_DIR, ClientWorkspaceSpec
from app.infra.routing_render import RoutingWorkspaceSpec
from app.names import (
    is_account_number,
    is_ascii_digits,
    is_client_name,
    is_dns_label,
    is_dns_name,
    is_host_name,
    is_kubernetes_service_name,
    is_kubernetes_subdomain,
    kubernetes_object_name,
    tls_secret_name,
)
from app.services import accounts
from app.services.clients import list_clients, parse_spec
from tests.terraform_cli import terraform

ACCOUNT = "3141-5926-5359"
CYRILLIC_DEMO = "d\u0435mo"  # the "e" is U+0435
ARABIC_ACCOUNT = "\u0661\u0662\u0663\u0664-\u0665\u0666\u0667\u0668-\u0669\u0660\u0661\u0662"
LABEL_63 = "a" + "b" * 61 + "c"
LABEL_64 = "a" + "b" * 62 + "c"

# (name, a valid client name / DNS label?)
LABELS = [
    ("demo", True),
    ("my-chat-bot", True),
    ("0", True),
    ("3bots", True),
    (LABEL_63, True),
    (LABEL_64, False),
    ("demo\n", False),
    ("\ndemo", False),
    ("demo\r", False),
    (CYRILLIC_DEMO, False),
    ("\u0661\u0662\u0663", False),  # Arabic-Indic digits: \d would take them
    ("Demo", False),
    ("-demo", False),
    ("demo-", False),
    ("de_mo", False),
    ("de mo", False),
    ("", False),
]
# (name, a valid DNS name of two or more labels?)
DNS_NAMES = [
    ("demo.3141-5926-5359.api.example.com", True),
    ("a.b", True),
    (f"{LABEL_63}.example", True),
    (".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 60, "x"]), False),  # 254 characters
    (".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 59, "x"]), True),  # 253
    (f"{LABEL_64}.example", False),
    ("demo.example\n", False),
    ("demo.example.com\n", False),
    (f"{CYRILLIC_DEMO}.example", False),
    ("\u0661\u0662\u0663.example", False),
    ("example", False),
    ("a..b", False),
    ("demo.example.", False),
    ("Demo.example", False),
    ("-a.example", False),
]


def test_labels_and_client_names() -> None:
    for name, valid in LABELS:
        assert is_dns_label(name) is valid, repr(name)
        assert is_client_name(name) is valid, repr(name)
    assert not is_client_name(None)


def test_dns_and_host_names() -> None:
    for name, valid in DNS_NAMES:
        assert is_dns_name(name) is valid, repr(name)
        assert is_host_name(name) is (valid or name == "example"), repr(name)  # one label
    assert is_host_name("localhost") and is_host_name("127.0.0.1") and is_host_name("::1")
    assert not is_host_name("localhost\n") and not is_host_name("127.0.0.1\n")


def test_account_numbers_are_ascii_digits() -> None:
    assert is_account_number(ACCOUNT)
    for bad in (f"{ACCOUNT}\n", ARABIC_ACCOUNT, "3141-5926-535", "31415926-5359", "", None):
        assert not is_account_number(bad), repr(bad)
    assert ARABIC_ACCOUNT.replace("-", "").isdigit()  # what \d and str.isdigit accepted
    assert is_ascii_digits("12") and not is_ascii_digits("\u0661\u0662")
    assert not is_ascii_digits("") and not is_ascii_digits("1\n")


def test_kubernetes_names() -> None:
    assert kubernetes_object_name(ACCOUNT, "demo") == f"{ACCOUNT}-demo"
    assert tls_secret_name(ACCOUNT, "demo") == f"{ACCOUNT}-demo-tls"
    longest = tls_secret_name(ACCOUNT, LABEL_63)
    assert is_kubernetes_subdomain(longest) and len(longest) == 14 + 1 + 63 + 4
    assert is_kubernetes_service_name("chatdock") and is_kubernetes_service_name("s" * 63)
    for bad in ("1chatdock", "chat_dock", "chatdock\n", "s" * 64, "Chatdock", ""):
        assert not is_kubernetes_service_name(bad), repr(bad)
    assert not is_kubernetes_subdomain("a" * 254) and not is_kubernetes_subdomain("x.\n")


# --- the Terraform modules say the same ----------------------------------------------------


def _conditions(module: str, variable: str) -> list[str]:
    """The validation conditions of one variable of a module, as written in its HCL."""
    text = (TERRAFORM_DIR / "modules" / module / "variables.tf").read_text()
    block = re.search(rf'^variable "{variable}" \{{\n(.*?)^\}}', text, re.M | re.S)
    assert block, f"{module} declares {variable}"
    found = re.findall(r"^\s*condition\s*=\s*([^\n]+)$", block.group(1), re.M)
    assert found, f"{module}.{variable} has validations"
    return found


def _output_values(module: str) -> dict[str, str]:
    text = (TERRAFORM_DIR / "modules" / module / "outputs.tf").read_text()
    return dict(re.findall(r'^output "(\w+)" \{.*?^\s*value\s*=\s*([^\n]+)$', text, re.M | re.S))


def _per_name(module: str, variable: str, value: str) -> str:
    """HCL: for each of var.names, do all the variable's validations pass when the
    variable is ``value`` (an HCL expression of ``n``)?"""
    checks = [c.replace(f"var.{variable}", f"({value})") for c in _conditions(module, variable)]
    return f"[for n in var.names : {' && '.join(f'({c})' for c in checks)}]"


def _terraform_console(tmp_path: Path, expression: str, variables: dict[str, Any]) -> Any:
    """Evaluate one expression (its value jsonencoded) in a module of only variables."""
    declared = "".join(f'variable "{name}" {{\n  type = any\n}}\n' for name in variables)
    (tmp_path / "main.tf").write_text(declared)
    (tmp_path / "values.tfvars.json").write_text(json.dumps(variables))
    result = terraform(
        "console", "-var-file=values.tfvars.json", cwd=tmp_path, stdin=f"jsonencode({expression})\n"
    )
    assert result.returncode == 0, result.stderr
    return json.loads(json.loads(result.stdout.strip().splitlines()[-1]))


def test_terraform_validations_agree_with_python(tmp_path: Path) -> None:
    dns_names = [name for name, _ in DNS_NAMES]
    # Dot-free client names only: the host built from one is valid exactly when the name is.
    client_names = [name for name, _ in LABELS if "." not in name]
    hosts = [f"{name}.{ACCOUNT}.api.example.com" for name in client_names]
    fields = ", ".join(
        [
            f"host = {_per_name('client_dns', 'host', 'n')}",
            "custom = " + _per_name("client_dns", "custom_records", '[{name = n, zone_id = "Z1"}]'),
            f"domain = {_per_name('custom_domain', 'domain', 'n')}",
            "client_host = "
            + _per_name("client_dns", "host", "n").replace("var.names", "var.hosts"),
        ]
    )
    got = _terraform_console(tmp_path, f"{{{fields}}}", {"names": dns_names, "hosts": hosts})

    python = [is_dns_name(name) for name in dns_names]
    assert got["host"] == python, list(zip(dns_names, got["host"], strict=True))
    assert got["custom"] == python
    assert got["domain"] == python
    assert got["client_host"] == [is_client_name(name) for name in client_names]
    # The refusals the issue names are refused on both sides.
    assert not any(
        flag
        for name, flag in zip(client_names, got["client_host"], strict=True)
        if name in ("demo\n", CYRILLIC_DEMO, LABEL_64)
    )


def test_kubernetes_names_stay_valid_whatever_the_hosts() -> None:
    """The names of every object serving a client depend on the account and the client
    (or a digest of the domain), never on a host's length."""
    settings = Settings(
        _env_file=None, CUSTOMER_API_DOMAIN="api.example.com", KUBERNETES_ENABLED=True
    )
    longest_domain = ".".join(["b" * 63, "c" * 63, "d" * 61])  # 189 + a 63-label client
    pairs = [(ACCOUNT, "demo"), ("0000-0000-0001", "my-chat-bot"), (ACCOUNT, LABEL_63)]
    for account, client in pairs:
        custom = (("Z1", f"{client}.{longest_domain}"),)
        spec = ClientWorkspaceSpec.from_settings(settings, account, client, custom)
        shared = RoutingWorkspaceSpec.from_settings(settings, account, [longest_domain])
        objects = [*spec.kubernetes_objects().values(), *shared.kubernetes_objects().values()]
        assert spec.route_name == kubernetes_object_name(account, client)
        assert is_kubernetes_subdomain(tls_secret_name(account, client))
        for obj in objects:
            assert is_kubernetes_subdomain(obj["metadata"]["name"]), obj["metadata"]["name"]
            if obj["kind"] == "Certificate":
                assert is_kubernetes_subdomain(obj["spec"]["secretName"])


# --- the surfaces refuse what the rules refuse ---------------------------------------------


@pytest.mark.parametrize("name", ["demo\n", CYRILLIC_DEMO, LABEL_64, "Demo"])
def test_the_service_refuses_a_bad_client_name(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid client name"):
        parse_spec(name=name)


def test_the_service_refuses_non_ascii_account_numbers(app) -> None:
    with pytest.raises(InvalidInput, match="invalid account number"):
        accounts.get_account(ARABIC_ACCOUNT)


def test_the_management_api_refuses_a_client_named_with_a_newline(app, account) -> None:
    from app.services import tokens
    from app.services.users import create_admin

    admin, _ = create_admin("root@chatdock.test", "correct horse battery")
    token = tokens.create_token(admin).plaintext
    response = app.test_client().post(
        f"/api/v1/accounts/{account.id}/clients",
        json={"name": "demo\n"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code in (400, 422)
    error = response.get_json()["error"]
    assert "invalid client name" in error["message"]
    assert list_clients(account) == []

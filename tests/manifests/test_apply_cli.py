"""flask apply/get/delete through the CLI: created/changed/unchanged lines, dry runs,
all or nothing, and every kind of bad input answered with exit 2 and what to fix."""

from __future__ import annotations

import yaml
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEvent, LlmClient, ProviderConnection


def client_doc(account, name="shop", **spec) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "chatdock/v1",
            "kind": "Client",
            "metadata": {"name": name, "account": account.account_number},
            "spec": spec,
        }
    )


def count(model) -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(model))


def test_apply_creates_then_changes_then_leaves_alone(cli, shop, write):
    path = write(client_doc(shop, model="gpt-4.1", systemPrompt="Sell things."))
    first = cli("apply", "-f", path)
    assert first.exit_code == 0, first.output
    assert first.output == "Client/shop: created\n"
    client = db.session.execute(select(LlmClient)).scalar_one()
    assert (client.model, client.system_prompt, client.temperature) == (
        "gpt-4.1",
        "Sell things.",
        0.7,
    )

    path = write(client_doc(shop, model="gpt-4.1", temperature=0.2))
    assert cli("apply", "-f", path, "--dry-run").output == "Client/shop: changed (temperature)\n"
    db.session.rollback()
    assert db.session.get(LlmClient, client.id).temperature == 0.7  # the dry run changed nothing
    assert cli("apply", "-f", path).output == "Client/shop: changed (temperature)\n"
    db.session.rollback()
    client = db.session.get(LlmClient, client.id)
    assert (client.temperature, client.system_prompt) == (0.2, "Sell things.")  # kept
    assert cli("apply", "-f", path).output == "Client/shop: unchanged\n"
    events = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.object_type == "client").order_by(AuditEvent.id)
    ).all()
    assert events == ["create", "update"]


def test_get_applies_back_as_a_no_op_for_every_kind(cli, shop, write):
    text = (
        client_doc(shop, model="gpt-4.1", fallbacks=[{"model": "gpt-4o"}])
        + "---\n"
        + yaml.safe_dump(
            {
                "apiVersion": "chatdock/v1",
                "kind": "ProviderConnection",
                "metadata": {"name": "mine", "account": shop.account_number},
                "spec": {"type": "anthropic", "apiKey": "sk-ant-secret-1"},
            }
        )
    )
    assert cli("apply", "-f", write(text)).exit_code == 0
    for kind in ("clients", "ProviderConnection"):
        for output in ("yaml", "json"):
            got = cli("get", kind, "--account", shop.account_number, "-o", output)
            assert got.exit_code == 0, got.output
            assert "sk-ant-secret-1" not in got.output
            path = write(got.output, f"back.{output}")
            again = cli("apply", "-f", path)
            assert again.exit_code == 0, again.output
            assert again.output.endswith(": unchanged\n"), again.output
    shown = cli("get", "providerconnection", "mine", "--account", shop.account_number)
    assert "apiKey: set" in shown.output


def test_one_bad_document_changes_nothing(cli, shop, write):
    good = client_doc(shop, "good", model="gpt-4.1")
    bad = client_doc(shop, "bad", modle="gpt-4.1")
    result = cli("apply", "-f", write(good + "---\n" + bad))
    assert result.exit_code == 2
    assert "doc 2 (Client/bad): spec.modle: unknown field; did you mean 'model'?" in result.output
    assert count(LlmClient) == 0


def test_a_semantic_refusal_late_in_the_file_rolls_back_the_earlier_documents(cli, shop, write):
    good = client_doc(shop, "good", model="gpt-4.1")
    bad = client_doc(shop, "bad", model="gpt-nonexistent")
    result = cli("apply", "-f", write(good + "---\n" + bad))
    assert result.exit_code == 2, result.output
    assert "doc 2 (Client/bad): spec.model: unknown model 'gpt-nonexistent'" in result.output
    assert count(LlmClient) == 0
    assert (
        db.session.scalars(select(AuditEvent).where(AuditEvent.object_type == "client")).all() == []
    )


def raw(account, kind="Client", name="a", spec=None, api="chatdock/v1", number=None) -> str:
    metadata = {"name": name, "account": number or account.account_number}
    if name is None:
        del metadata["name"]
    document = {"apiVersion": api, "kind": kind, "metadata": metadata}
    if spec is not None:
        document["spec"] = spec
    return yaml.safe_dump(document)


def test_bad_inputs_are_named_with_their_document_and_field(cli, shop, write):
    mine = raw(shop, "ProviderConnection", "mine", {"type": "openai"})
    cases = [
        (raw(shop, api="chatdock/v2"), "doc 1 (Client/a): apiVersion: unknown apiVersion"),
        (
            raw(shop, "Clinet"),
            "doc 1 (Clinet/a): kind: unknown kind 'Clinet'; did you mean 'Client'?",
        ),
        (raw(shop, name=None), "doc 1 (Client/?): metadata.name: missing name"),
        (raw(shop, "Cl\x1b[2Jient"), "doc 1 (Cl\\x1b[2Jient/a): kind: unknown kind"),
        (
            raw(shop, spec={"temperature": "hot"}),
            "doc 1 (Client/a): spec.temperature: Input should be a valid number",
        ),
        (
            raw(shop, spec={"fallbacks": [{"model": "x", "providerConection": "y"}]}),
            "spec.fallbacks.0.providerConection: unknown field; did you mean 'providerConnection'?",
        ),
        (
            raw(shop, spec={"providerConnection": "mien"}) + "---\n" + mine,
            "doc 1 (Client/a): spec.providerConnection: no ProviderConnection 'mien'; "
            "did you mean 'mine'?",
        ),
        (
            raw(shop) + "---\n" + raw(shop),
            "doc 2 (Client/a): metadata.name: declared twice (also doc 1 (Client/a))",
        ),
        (raw(shop, number="9999-9999-9999"), "metadata.account: no account '9999-9999-9999'"),
        ("a: &a [x, x]\nb: &b [*a, *a]\n", "aliases (*name) are not allowed"),
        (
            raw(shop, "ProviderConnection", "c", {"type": "openai", "models": ["gpt-4.1"]}),
            "doc 1 (ProviderConnection/c): spec.models.0: openai/gpt-4.1 is the catalog's model",
        ),
        ("- [1\n", "invalid YAML at line"),
        ("when: 2026-13-45\n", "invalid YAML: month must be in 1..12"),
    ]
    for text, expected in cases:
        result = cli("apply", "-f", write(text))
        assert result.exit_code == 2, (text, result.output)
        assert expected in result.output, (text, result.output)
    assert count(LlmClient) == count(ProviderConnection) == 0


def test_files_too_large_or_not_utf8_are_refused(cli, shop, write):
    big = cli("apply", "-f", write(b"#" * 10_000_000))
    assert big.exit_code == 2 and "the limit is 1000000 bytes" in big.output
    latin = cli("apply", "-f", write((client_doc(shop) + "# caf\u00e9\n").encode("latin-1")))
    assert latin.exit_code == 2 and "is not UTF-8" in latin.output
    piped = cli("apply", "-f", "-", input=client_doc(shop, model="gpt-4.1"))
    assert piped.output == "Client/shop: created\n"


def test_delete_by_name_and_by_file(cli, shop, write):
    doc = yaml.safe_dump(
        {
            "apiVersion": "chatdock/v1",
            "kind": "ProviderConnection",
            "metadata": {"name": "mine", "account": shop.account_number},
            "spec": {"type": "openai"},
        }
    )
    path = write(doc)
    assert cli("apply", "-f", path).exit_code == 0
    assert cli("delete", "-f", path).output == "ProviderConnection/mine: deleted\n"
    assert count(ProviderConnection) == 0
    cli("apply", "-f", path)
    gone = cli("delete", "providerconnection", "mine", "--account", shop.account_number)
    assert gone.output == "ProviderConnection/mine: deleted\n"
    missing = cli("delete", "providerconnection", "mine", "--account", shop.account_number)
    assert missing.exit_code == 1 and "has no ProviderConnection 'mine'" in missing.output


def test_a_directory_is_one_apply_and_problems_name_the_file(cli, shop, tmp_path):
    folder = tmp_path / "manifests"
    folder.mkdir()
    (folder / "a.yaml").write_text(client_doc(shop, "one", model="gpt-4.1"))
    (folder / "b.yml").write_text(client_doc(shop, "two", modle="gpt-4.1"))
    (folder / "notes.txt").write_text("not a manifest")
    refused = cli("apply", "-f", str(folder))
    assert refused.exit_code == 2
    assert f"{folder / 'b.yml'} doc 1 (Client/two): spec.modle: unknown field" in refused.output
    assert count(LlmClient) == 0
    (folder / "b.yml").write_text(client_doc(shop, "two", model="gpt-4.1"))
    done = cli("apply", "-f", str(folder))
    assert done.output == "Client/one: created\nClient/two: created\n"


def test_a_file_naming_the_provider_but_no_model_applies_again_unchanged(cli, shop, write):
    """The provider's default model is taken once; the same file again changes nothing
    (it used to read as "changed (provider)" and reset the model each time)."""
    path = write(client_doc(shop, provider="echo", systemPrompt="Hi."))
    assert cli("apply", "-f", path).output == "Client/shop: created\n"
    assert cli("apply", "-f", path).output == "Client/shop: unchanged\n"
    other = write(client_doc(shop, provider="openai"))
    assert cli("apply", "-f", other).output == "Client/shop: changed (provider)\n"
    db.session.rollback()
    client = db.session.execute(select(LlmClient)).scalar_one()
    assert (client.provider, client.system_prompt) == ("openai", "Hi.")

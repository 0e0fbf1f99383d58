"""flask plugins: list (secrets as set/unset), test (exit code and result), attach."""

from __future__ import annotations

SECRET = "Bearer cli-Secret-header-9"


def test_list_test_and_attach(app, customer):
    headers = [{"name": "Authorization", "value": SECRET}]
    customer.connection(
        "shop-api", {"type": "api", "api": {"baseUrl": "https://8.8.8.8", "headers": headers}}
    )
    customer.plugin("hours", {"type": "static", "description": "Hours", "static": {"data": "9-18"}})
    customer.plugin(
        "double",
        {
            "type": "static",
            "parameters": [{"name": "n", "type": "integer", "required": True}],
            "static": {"data": 1},
        },
    )
    runner = app.test_cli_runner()
    number = customer.account.account_number

    listed = runner.invoke(args=["plugins", "list", "--account", number])
    assert listed.exit_code == 0, listed.output
    assert "hours     static  Hours" in listed.output
    assert '"headers": "set"' in listed.output and SECRET not in listed.output

    ok = runner.invoke(args=["plugins", "test", "hours", "--account", number])
    assert ok.exit_code == 0 and ok.stdout == "9-18\n"
    invalid = runner.invoke(
        args=["plugins", "test", "double", "--account", number, "--arguments", '{"n": "x"}']
    )
    assert invalid.exit_code == 1
    assert "invalid arguments: n: 'x' is not of type 'integer'" in invalid.stdout
    missing = runner.invoke(args=["plugins", "test", "nope", "--account", number])
    assert missing.exit_code != 0 and "no plugin 'nope' in this account" in missing.output

    attached = runner.invoke(
        args=[
            "plugins",
            "attach",
            "--account",
            number,
            "--client",
            "shop",
            "--plugin",
            "hours",
            "--function",
            "calculator",
        ]
    )
    assert attached.exit_code == 0, attached.output
    assert attached.output == "shop: plugins hours; functions calculator\n"
    assert customer.chat("/tool hours {}").json["reply"] == "echo: hours -> 9-18"
    refused = runner.invoke(
        args=["plugins", "attach", "--account", number, "--client", "shop", "--function", "weather"]
    )
    assert refused.exit_code != 0 and "unknown built-in functions: weather" in refused.output

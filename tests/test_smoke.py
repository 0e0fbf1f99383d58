from tests.conftest import host_of


def test_chat_on_default_host(http, demo):
    response = http.post(
        "/llm-client/",
        json={"messages": [{"role": "user", "content": "hello"}]},
        headers={"Host": host_of(demo)},
    )
    assert response.status_code == 200, response.json
    assert response.json["reply"] == "echo: hello"

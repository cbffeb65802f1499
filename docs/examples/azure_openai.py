"""Azure OpenAI: one scenario answers `AzureOpenAI` on a deployment's route, and `OpenAI` on
the v1 route; a 429 in Azure's shape is retried after the wait it asks for."""

from __future__ import annotations

from openai import AzureOpenAI, OpenAI

from sparring import FakeServer, Scenario, check_retries, error, reply, rule


def main() -> None:
    scenario = Scenario.of(
        # `endpoint` tells the deployment routes (`azure_chat`) from the v1 route and OpenAI's.
        rule(error("rate_limit", retry_after_ms=100), reply("Hello from Azure"), endpoint="azure_chat"),
        rule(reply("Hello from the v1 route"), endpoint="azure_v1_chat"),
    )
    with FakeServer(scenario) as server:
        with AzureOpenAI(
            azure_endpoint=server.url,  # the SDK adds /openai/deployments/prod-gpt4o/...
            azure_deployment="prod-gpt4o",
            api_version="2024-10-21",
            api_key="azure-key",
        ) as client:
            stream = client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Hi"}], stream=True
            )
            chunks = list(stream)
        # Azure's first chunk has no choices: it carries the prompt's content filter results.
        assert chunks[0].choices == []
        assert chunks[0].model_extra is not None
        assert "prompt_filter_results" in chunks[0].model_extra
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        assert text == "Hello from Azure"

        # The v1 routes take the plain OpenAI client, and need no api-version.
        with OpenAI(base_url=f"{server.url}/openai/v1", api_key="azure-key") as v1:
            answer = v1.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])
        assert answer.choices[0].message.content == "Hello from the v1 route"

        journal = server.journal()
    assert [(e.path, e.status) for e in journal] == [
        ("/openai/deployments/prod-gpt4o/chat/completions", 429),
        ("/openai/deployments/prod-gpt4o/chat/completions", 200),
        ("/openai/v1/chat/completions", 200),
    ]
    check_retries(journal[:2])  # the SDK waited the 100 ms the 429's retry-after-ms asked for


if __name__ == "__main__":
    main()

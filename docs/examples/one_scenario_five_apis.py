"""One scenario, served to five APIs: each client gets the same reply in its own wire format.

The Anthropic part needs the `anthropic` SDK (`pip install anthropic`); without it, that part
is skipped with a note.
"""

from __future__ import annotations

from openai import OpenAI

from sparring import FakeServer, Scenario, reply

try:
    from anthropic import Anthropic
except ImportError:  # the docs tests also run where only openai is installed
    Anthropic = None

ANSWER = "The capital of France is Paris."
QUESTION = "What is the capital of France?"


def main() -> None:
    # One rule, no match: it answers every request, on every route.
    scenario = Scenario.of(reply(ANSWER, repeat=True))
    with FakeServer(scenario) as server:
        # The openai SDK takes the /v1 base URL.
        with OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0) as client:
            # Chat Completions: data-only events, then [DONE].
            with client.chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": QUESTION}], stream=True
            ) as stream:
                chat = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
            assert chat == ANSWER

            # Responses: named events with sequence numbers; the helper rebuilds the response.
            with client.responses.stream(model="gpt-4o", input=QUESTION) as stream:
                response = stream.get_final_response()
            assert response.output_text == ANSWER
            assert response.status == "completed"

            # Legacy completions: text_completion chunks, then [DONE].
            with client.completions.create(model="gpt-3.5-turbo-instruct", prompt=QUESTION, stream=True) as stream:
                legacy = "".join(chunk.choices[0].text for chunk in stream if chunk.choices)
            assert legacy == ANSWER

            # Embeddings ignore the text: the rule only says "answer".
            vectors = client.embeddings.create(model="text-embedding-3-small", input=QUESTION)
            assert len(vectors.data[0].embedding) == 1536

        if Anthropic is None:
            print("anthropic is not installed: the Messages part is skipped")
        else:
            # The anthropic SDK adds /v1 itself: give it the root URL.
            with (
                Anthropic(base_url=server.url, api_key="sk-ant-test", max_retries=0) as claude,
                claude.messages.stream(
                    model="claude-sparring-1", max_tokens=100, messages=[{"role": "user", "content": QUESTION}]
                ) as stream,
            ):
                message = stream.get_final_message()
            assert message.content[0].text == ANSWER
            assert message.stop_reason == "end_turn"

        paths = [entry.path for entry in server.journal()]
    assert paths[:4] == ["/v1/chat/completions", "/v1/responses", "/v1/completions", "/v1/embeddings"]
    assert paths[4:] in ([], ["/v1/messages"])


if __name__ == "__main__":
    main()

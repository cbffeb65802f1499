"""Recordings replayed to the real SDKs: the openai SDK (3.x here; 2.x in the second CI leg)
and the anthropic SDK parse every recorded event, build the final answer the recorded
upstream gave, and meet a fault on a recording as on any answer."""

from __future__ import annotations

import anthropic
import openai
import pytest

from sparring import FakeLLM, Fault, collect_sync
from tests.replay_data import CHAT_WORDS, MESSAGES_WORDS, RESPONSES_WORDS, recording, whole_recording

PROMPT = [{"role": "user", "content": "Hi"}]


def test_openai_chat_stream_of_a_recording(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat"))
    client = fake_llm.openai(max_retries=0)
    chunks = list(client.chat.completions.create(model="gpt-4.1-nano", messages=PROMPT, stream=True))
    assert all(c.id == "chatcmpl-9x" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(CHAT_WORDS)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == 15


def test_openai_stream_helper_on_a_recording(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat"))
    client = fake_llm.openai(max_retries=0)
    with client.chat.completions.stream(model="gpt-4.1-nano", messages=PROMPT) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "".join(CHAT_WORDS)
    assert final.choices[0].finish_reason == "stop"


def test_openai_whole_recording(fake_llm: FakeLLM) -> None:
    fake_llm.add(whole_recording())
    completion = fake_llm.openai(max_retries=0).chat.completions.create(model="gpt-4.1-nano", messages=PROMPT)
    assert completion.id == "chatcmpl-Cukv"
    assert completion.choices[0].message.content == "Paris is the capital of France."
    assert completion.usage is not None
    assert completion.usage.total_tokens == 21


def test_openai_responses_stream_of_a_recording(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("responses"))
    client = fake_llm.openai(max_retries=0)
    with client.responses.stream(model="gpt-4.1-nano", input="Hi") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == RESPONSES_WORDS
    assert final.id == "resp_1"
    assert final.output_text == "".join(RESPONSES_WORDS)
    assert final.status == "completed"


def test_openai_meets_an_in_band_error_in_a_recording(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat", fault=Fault("error_event", after_chunk=3)))
    client = fake_llm.openai(max_retries=0)
    got = collect_sync(client.chat.completions.create(model="gpt-4.1-nano", messages=PROMPT, stream=True))
    assert isinstance(got.error, openai.APIError)
    assert "".join(c.choices[0].delta.content or "" for c in got.events) == "".join(CHAT_WORDS[:2])


def test_openai_meets_a_recording_cut_after_chunk_2(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("responses", fault=Fault("close", after_chunk=2)))
    client = fake_llm.openai(max_retries=0)
    got = collect_sync(client.responses.create(model="gpt-4.1-nano", input="Hi", stream=True))
    assert [e.type for e in got.events] == ["response.created", "response.in_progress"]
    assert got.error is not None  # the SDK's or httpx's error, per version: the body broke off
    (entry,) = fake_llm.journal
    assert (entry.outcome, entry.events_sent) == ("fault", 2)


@pytest.mark.sparring(strict=False)  # the 500 is what is tested
def test_openai_is_told_why_a_whole_request_met_a_streamed_recording(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("chat"))
    client = fake_llm.openai(max_retries=2)
    with pytest.raises(openai.InternalServerError, match="is a stream"):
        client.chat.completions.create(model="gpt-4.1-nano", messages=PROMPT)
    assert len(fake_llm.journal) == 1  # x-should-retry: false, so no retry


def test_anthropic_stream_of_a_recording(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("messages"))
    client = fake_llm.anthropic(max_retries=0)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=PROMPT) as stream:
        texts = list(stream.text_stream)
        final = stream.get_final_message()
    assert texts == MESSAGES_WORDS
    assert final.id == "msg_01"
    assert final.content[0].type == "text"
    assert final.content[0].text == "".join(MESSAGES_WORDS)
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3


def test_anthropic_meets_an_overloaded_error_in_a_recording(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("messages", fault=Fault("error_event", after_chunk=4, error="overloaded")))
    client = fake_llm.anthropic(max_retries=0)
    with (
        pytest.raises(anthropic.APIStatusError, match="overloaded_error"),
        client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=PROMPT) as stream,
    ):
        list(stream.text_stream)


def test_anthropic_without_message_stop_after_no_done(fake_llm: FakeLLM) -> None:
    fake_llm.add(recording("messages", fault="no_done"))
    client = fake_llm.anthropic(max_retries=0)
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=64, messages=PROMPT) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "text"
    assert final.content[0].text == "".join(MESSAGES_WORDS)
    assert final.stop_reason is None  # the recorded message_delta was left out with message_stop

"""Text for answers: splitting into chunks, token-like pieces, faker text, token estimates and
the last user message. Expected outputs are written by hand."""

from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sparring import FakerText, Split
from sparring.scenario.request import last_user_text
from sparring.scenario.text import (
    count_prompt_tokens,
    faker_text,
    resolve_text,
    split_text,
    token_pieces,
)


@pytest.mark.parametrize(
    ("text", "split", "expected"),
    [
        pytest.param("Hello big world", Split("word"), ["Hello", " big", " world"], id="word"),
        pytest.param(
            "The capital of France is Paris.",
            Split("word"),
            ["The", " capital", " of", " France", " is", " Paris."],
            id="word-punctuation-stays",
        ),
        pytest.param("  two  spaces ", Split("word"), ["  two", "  spaces", " "], id="word-leading-and-trailing"),
        pytest.param("line\nbreak", Split("word"), ["line", "\nbreak"], id="word-newline"),
        pytest.param("héllo", Split("char"), ["h", "é", "l", "l", "o"], id="char-unicode"),
        pytest.param("a b", Split("char"), ["a", " ", "b"], id="char-space"),
        pytest.param("abcdefg", Split("size", size=3), ["abc", "def", "g"], id="size-3"),
        pytest.param("abcdef", Split("size", size=2), ["ab", "cd", "ef"], id="size-exact"),
        pytest.param("abc", Split("size", size=10), ["abc"], id="size-bigger-than-text"),
        pytest.param("I can't stop", Split("token"), ["I", " can", "'t", " stop"], id="token-contraction"),
        pytest.param("Hi, you!", Split("token"), ["Hi", ",", " you", "!"], id="token-punctuation"),
        pytest.param("In 2024", Split("token"), ["In", " 202", "4"], id="token-digits"),
        pytest.param(
            "internationalization",
            Split("token"),
            ["inte", "rnat", "iona", "liza", "tion"],
            id="token-long-word",
        ),
        pytest.param(" word", Split("token"), [" word"], id="token-five-with-space"),
        pytest.param(" goodbye", Split("token"), [" good", "bye"], id="token-long-word-with-space"),
        pytest.param("ignored", Split("list", pieces=("He", "llo", "!")), ["He", "llo", "!"], id="list"),
        pytest.param("", Split("word"), [], id="empty-word"),
        pytest.param("", Split("char"), [], id="empty-char"),
        pytest.param("", Split("token"), [], id="empty-token"),
        pytest.param("", Split("size", size=2), [], id="empty-size"),
    ],
)
def test_split_text(text: str, split: Split, expected: list[str]) -> None:
    """Each split mode cuts a text into exactly the chunks written here."""
    assert split_text(text, split) == expected


def _splits() -> st.SearchStrategy[Split]:
    return st.one_of(
        st.sampled_from([Split("word"), Split("char"), Split("token")]),
        st.integers(min_value=1, max_value=12).map(lambda n: Split("size", size=n)),
    )


@given(text=st.text(max_size=200), split=_splits())
def test_split_joins_back_to_the_text(text: str, split: Split) -> None:
    """For any text and any computed split, the chunks join back to the text and none is empty."""
    chunks = split_text(text, split)
    assert "".join(chunks) == text
    assert all(chunks), chunks


@given(pieces=st.lists(st.text(min_size=1, max_size=8), max_size=10))
def test_list_split_joins_back_to_the_text(pieces: list[str]) -> None:
    """An explicit list of non-empty pieces is sent as given: it joins back to its text."""
    text = "".join(pieces)
    chunks = split_text(text, Split("list", pieces=tuple(pieces)))
    assert "".join(chunks) == text
    assert chunks == pieces
    assert all(chunks)


@given(text=st.text(max_size=200))
def test_token_pieces_are_short(text: str) -> None:
    """Token-like pieces are at most 5 characters (4, plus a leading space), and cover the text."""
    pieces = token_pieces(text)
    assert all(1 <= len(piece) <= 5 for piece in pieces), pieces
    assert "".join(pieces) == text


def test_faker_text_is_deterministic_across_processes() -> None:
    """The same seed gives the same text in a fresh interpreter (no hidden global state)."""
    here = faker_text(FakerText(seed=42, sentences=3))
    code = "from sparring import FakerText; from sparring.scenario.text import faker_text; "
    code += "print(faker_text(FakerText(seed=42, sentences=3)), end='')"
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout  # timeout: a cold interpreter importing faker, generously bounded
    assert here == there
    assert len(here) > 20


def test_faker_text_differs_across_seeds() -> None:
    """Different seeds give different texts, each a paragraph of the asked number of sentences."""
    texts = {faker_text(FakerText(seed=seed, sentences=4)) for seed in range(5)}
    assert len(texts) == 5
    for text in texts:
        assert text.endswith(".")
        assert text.count(". ") == 3, text  # four sentences: three inner boundaries


def test_resolve_text() -> None:
    """Literal text is itself, faker specs are generated, and no text is empty."""
    assert resolve_text("literal") == "literal"
    assert resolve_text(None) == ""
    assert resolve_text(FakerText(seed=3)) == faker_text(FakerText(seed=3)) != ""


def _user(text: str) -> dict[str, object]:
    return {"role": "user", "content": text}


def test_count_prompt_tokens_exact_small_cases() -> None:
    """3 tokens to prime the reply, 3 per message, plus the content's token-like pieces."""
    assert count_prompt_tokens([]) == 3
    # 3 + 3 + "user" (1) + "hi" (1)
    assert count_prompt_tokens([_user("hi")]) == 8
    # 3 + 3 + "user" (1) + "Hi, you!" (4: "Hi" "," " you" "!")
    assert count_prompt_tokens([_user("Hi, you!")]) == 11


def test_count_prompt_tokens_grows_with_messages() -> None:
    """Each added message adds tokens; longer content adds more."""
    conversation = [
        {"role": "system", "content": "You are terse."},
        _user("What is the capital of France?"),
        {"role": "assistant", "content": "Paris."},
        _user("And of Italy?"),
    ]
    counts = [count_prompt_tokens(conversation[:n]) for n in range(len(conversation) + 1)]
    assert counts == sorted(counts)
    assert len(set(counts)) == len(counts), counts
    assert count_prompt_tokens([_user("a much longer question about many things")]) > count_prompt_tokens([_user("a")])


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        pytest.param([_user("hello")], "hello", id="string-content"),
        pytest.param(
            [_user("first"), {"role": "assistant", "content": "reply"}, _user("second")], "second", id="last-user"
        ),
        pytest.param(
            [_user("question"), {"role": "assistant", "content": "answer"}], "question", id="user-before-assistant"
        ),
        pytest.param(
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Describe "},
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                        {"type": "text", "text": "this picture."},
                    ],
                }
            ],
            "Describe this picture.",
            id="list-of-parts",
        ),
        pytest.param([{"role": "system", "content": "rules"}], "", id="no-user"),
        pytest.param([], "", id="no-messages"),
        pytest.param("not a list", "", id="not-a-list"),
    ],
)
def test_last_user_text(messages: object, expected: str) -> None:
    """The text of the last user message: a string, or the joined text parts of a list."""
    assert last_user_text(messages) == expected


def test_faker_text_is_what_faker_says() -> None:
    """The lorem provider alone, as `faker_text` uses it, says what a whole `Faker()` does."""
    from faker import Faker

    for seed, sentences in [(0, 1), (1, 3), (42, 3), (7, 5), (2**31, 2), (123456, 8)]:
        fake = Faker()
        fake.seed_instance(seed)
        expected = fake.paragraph(nb_sentences=sentences, variable_nb_sentences=False)
        assert faker_text(FakerText(seed=seed, sentences=sentences)) == expected

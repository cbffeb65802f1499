"""Property: any document, however odd, either loads or fails with a located
`ScenarioError`; never another exception."""

from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sparring import ScenarioError
from sparring.scenario.loader import parse_scenario

KEYS = [
    "replies", "rules", "match", "text", "chunks", "error", "status", "timing", "gap", "sigma", "keepalive",
    "distribution", "fault", "kind", "after_chunk", "size", "wire", "write_size", "headers", "retry_after",
    "retry_after_format", "rate_limits", "reset_requests", "body", "stream", "tools", "model", "times", "faker",
    "usage", "choices", "tool_calls", "name", "arguments", "fallback", "lognormal", "close", "garbage",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([*KEYS, "rate_limit", "uniform", "date", "a\r\nb", ""]),
    st.text(max_size=8),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), SCALARS), inner, max_size=5),
    ),
    max_leaves=30,
)
FRAGMENTS = ["? ", "!!", "<<: ", "&a ", "*a ", "- ", "[", "]", "{", "}", ": ", "\n", "  ", "replies", "text"]
FRAGMENTS += ["!!float", "!!int", "!!python/name:os.system", "1e9", ".inf", "null", ",", "\x1f", "\ufeff"]
DOCUMENTS = st.dictionaries(st.sampled_from(["replies", "rules", "fallback", "name"]), VALUES, max_size=3)


def _loads_or_located_error(text: str) -> None:
    try:
        parse_scenario(text, source="doc.yaml")
    except ScenarioError as exc:
        problems = exc.problems
    else:
        return
    assert problems
    for problem in problems:
        assert problem.source == "doc.yaml"
        assert problem.message


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS, st.booleans())
def test_generated_documents_load_or_fail_located(document: dict[object, object], as_json: bool) -> None:
    if as_json:
        try:
            text = json.dumps(document)
        except (TypeError, ValueError):
            return
    else:
        text = yaml.safe_dump(document, allow_unicode=True)
    _loads_or_located_error(text)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=60), st.binary(max_size=60).map(lambda b: b.decode("latin-1"))))
def test_random_text_loads_or_fails_located(text: str) -> None:
    _loads_or_located_error(text)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=20))
def test_yaml_fragments_load_or_fail_located(pieces: list[str]) -> None:
    _loads_or_located_error("".join(pieces))

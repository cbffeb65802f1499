"""Hostile or broken scenario files: each a located `ScenarioError` from the loader, an
`error:` line and exit 1 from `sparring validate`, and a 400 JSON error from the control API;
never a traceback, and never minutes or gigabytes spent on a few hundred bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sparring import FakeServer, ScenarioError
from sparring.cli import main
from sparring.scenario.loader import load_file, parse_scenario


def _laughs(levels: int) -> bytes:
    """The "billion laughs": each anchor a list of nine aliases of the one before."""
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"l{i}: &l{i} [{','.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return ("\n".join(lines) + "\n").encode()


def _deep_through_aliases() -> bytes:
    """Each anchor 40 levels deep around an alias of the one before: small, yet ~1,200 deep."""
    lines = ["x0: &x0 " + "[" * 40 + "]" * 40]
    lines += [f"x{i}: &x{i} " + "[" * 40 + f"*x{i - 1}" + "]" * 40 for i in range(1, 30)]
    return ("\n".join(lines) + "\n").encode()


# name -> (file bytes, a piece of the message, the line it names)
EDGE_FILES: dict[str, tuple[bytes, str, int | None]] = {
    "not-utf8": (b'replies:\n  - text: "\xff\xfe"\n', "not UTF-8 text: byte 0xff", 2),
    "bad-float-tag": (b"replies:\n  - text: !!float abc\n", "bad float value", 2),
    "bad-int-tag": (b"replies:\n  - times: !!int many\n", "bad int value", 2),
    "python-tag": (b"replies:\n  - text: !!python/object/apply:os.system [true]\n", "python/object/apply", 2),
    "null-key": (b"replies:\n  - null: 1\n", "a reply has a key that is not a name: nothing", 2),
    "int-key": (b"replies:\n  - 3: 1\n", "a reply has a key that is not a name: int 3", 2),
    "unhashable-key": (b"? [a]: 1\n", "unhashable key", 1),
    "recursive-alias": (b"replies: &r [*r]\n", "alias *r is inside its own anchor", 1),
    "deep-nesting": (b"replies: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested more than 64 levels deep", 1),
    "deep-through-aliases": (_deep_through_aliases(), "nested more than 64 levels deep", None),
    "huge-integer": (b"replies:\n  - times: " + b"9" * 5000 + b"\n", "integer longer than 30 digits", 2),
    "fuzz-question": (b"? ", "a scenario has a key that is not a name: nothing", 1),
    "fuzz-bangs": (b"!!!!", "could not determine a constructor", 1),
    "fuzz-merge": (b"<<: ", "merging", 1),
    "fuzz-question-replies": (b"? replies:", "unhashable key", 1),
    "billion-laughs": (_laughs(7), "expands to more than 200,000 values", None),
}


@pytest.mark.parametrize("name", EDGE_FILES)
def test_edge_file_is_a_located_error(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    data, piece, line = EDGE_FILES[name]
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(data)
    with pytest.raises(ScenarioError) as caught:
        load_file(path)
    problem = caught.value.problems[0]
    assert problem.source == str(path)
    assert piece in problem.message, problem
    if line is not None:
        assert problem.line == line, problem
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"error: {path}"), out
    assert piece in out


def test_billion_laughs_is_refused_before_expanding() -> None:
    """Nine levels (387 million values once expanded) are refused while composing: the
    expanded size is counted per node, so the refusal costs what the text costs."""
    with pytest.raises(ScenarioError, match="expands to more than"):
        parse_scenario(_laughs(9).decode())


def test_file_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"replies:\n  - text: hi\n" + b"#" * (9 * 1024 * 1024))
    with pytest.raises(ScenarioError, match="larger than 8 MiB"):
        load_file(path)


def test_a_scenario_inside_the_limits_loads() -> None:
    """Aliases and 20 levels of nesting are fine below the limits."""
    text = (
        "replies: [&hi {text: hi, times: 2}, *hi]\n"
        "rules:\n"
        "  - match: {body: " + "{a: " * 20 + "1" + "}" * 20 + "}\n"
        "    replies: [{text: deep}]\n"
    )
    scenario = parse_scenario(text)
    assert [len(rule.replies) for rule in scenario.rules] == [2, 1]


@pytest.fixture
def control(server: FakeServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield client


@pytest.mark.parametrize("name", ["not-utf8", "python-tag", "unhashable-key", "recursive-alias", "billion-laughs"])
def test_control_api_answers_400_json(control: httpx.Client, name: str) -> None:
    data, piece, _ = EDGE_FILES[name]
    response = control.put("/_sparring/scenario", content=data)
    assert response.status_code == 400, response.text
    problems = response.json()["error"]["problems"]
    assert piece in problems[0]["message"]
    assert json.dumps(problems)  # plain JSON values

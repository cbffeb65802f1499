"""Cassettes in the pytest plugin: a test's scenario file, replayed (`none`, `once` with the
file) or recorded from an upstream (`once` without it, `new_episodes`, `all`).

As in test_plugin.py, users' test files run through `pytester`, in process. The upstream is a
sparring server on 127.0.0.1 scripted with known answers; the recorder in the inner run
forwards to it. Replays are checked with the openai SDK and the inner run's journal.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import httpcore  # noqa: F401  (loaded once here: see test_plugin.py)
import httpx  # noqa: F401
import openai  # noqa: F401
import pytest

import sparring.plugin.fake_llm  # noqa: F401
from sparring import FakeServer, Scenario, reply, rule
from sparring.fake_server.security import redact_value
from sparring.plugin.cassette import file_safe
from sparring.scenario.loader import load_file

for _name in ("httpcore2", "httpx2"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)

pytest_plugins = ["pytester"]

INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""
OPTIONS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--strict-config", "--strict-markers")

HEADER = """
import openai
import pytest

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def ask(fake_llm, model="gpt-4o-mini", content="What is the capital of France?"):
    client = fake_llm.openai(max_retries=0)
    messages = [{"role": "user", "content": content}]
    return client.chat.completions.create(model=model, messages=messages).choices[0].message.content
"""

# A cassette written by hand: a cassette is any scenario file.
PARIS = """
rules:
- match: {model: gpt-4o-mini}
  replies:
  - text: Paris
"""
MISS = "sparring: no scripted reply answers POST /v1/chat/completions"


def write(pytester: pytest.Pytester, body: str, *, ini: str = INI, name: str = "test_it") -> None:
    pytester.makeini(ini)
    pytester.makepyfile(**{name: HEADER + body})


def cassette(pytester: pytest.Pytester, relative: str, text: str = PARIS) -> Path:
    path = pytester.path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def lit(text: str) -> str:
    """`text` as an fnmatch pattern that matches only itself."""
    return glob.escape(text)


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*OPTIONS, *args)


# -- replay only: files, names, strictness ----------------------------------------------------

NAMED = """
pytestmark = pytest.mark.sparring_cassette


def test_plain(fake_llm):
    assert ask(fake_llm) == "Paris"
    assert [e.outcome for e in fake_llm.journal] == ["completed"]
    assert fake_llm.journal[0].answered_by.startswith("rule 1, reply 1")


@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt/4o mini"])
def test_param(fake_llm, model):
    assert ask(fake_llm) == "Paris"


class TestGroup:
    def test_in_class(self, fake_llm):
        assert ask(fake_llm) == "Paris"


@pytest.mark.sparring_cassette(name="shared")
def test_named(fake_llm):
    assert ask(fake_llm) == "Paris"


@pytest.mark.sparring_cassette(path="elsewhere/mine.yaml")
def test_path(fake_llm):
    assert ask(fake_llm) == "Paris"


def test_no_cassette_without_the_marker_is_needed():
    pass
"""


def test_none_replays_each_tests_own_file_named_after_it(pytester: pytest.Pytester) -> None:
    names = [
        "cassettes/test_it/test_plain.yaml",
        "cassettes/test_it/test_param[gpt-4o-mini].yaml",
        f"cassettes/test_it/{file_safe('test_param[gpt/4o mini]')}.yaml",
        "cassettes/test_it/TestGroup.test_in_class.yaml",
        "cassettes/test_it/shared.yaml",
        "elsewhere/mine.yaml",
    ]
    for name in names:
        cassette(pytester, name)
    write(pytester, NAMED)
    result = run(pytester)
    result.assert_outcomes(passed=7)
    result.stdout.fnmatch_lines(
        ["sparring cassettes: record mode=none, upstream=-, cassette dir=cassettes/ beside each test module"]
    )


def test_file_safe_names_keep_plain_ids_and_tell_changed_ones_apart() -> None:
    assert file_safe("test_x[gpt-4o-mini-0.5]") == "test_x[gpt-4o-mini-0.5]"
    spaced, underscored = file_safe("test_x[a b]"), file_safe("test_x[a_b]")
    assert spaced.startswith("test_x[a_b]-")
    assert underscored == "test_x[a_b]"
    for unsafe in ("test_x[a/b]", "test_x[..\\..]", 'test_x[<>:"|?*]', "test_x[é]"):
        assert set(file_safe(unsafe)) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,=+[]-")
    assert len(file_safe("test_x[" + "a" * 500 + "]")) < 170


def test_the_cassette_dir_option_and_ini_key_choose_the_folder(pytester: pytest.Pytester) -> None:
    cassette(pytester, "recorded/test_it/test_plain.yaml")
    write(pytester, "@pytest.mark.sparring_cassette\ndef test_plain(fake_llm):\n    assert ask(fake_llm) == 'Paris'\n")
    run(pytester, "--sparring-cassette-dir", "recorded").assert_outcomes(passed=1)
    pytester.makeini(INI + "sparring_cassette_dir = recorded\n")
    run(pytester).assert_outcomes(passed=1)
    run(pytester, "--sparring-cassette-dir", "elsewhere").assert_outcomes(failed=1)


MISSING = """
@pytest.mark.sparring_cassette
def test_swallows_the_miss(fake_llm):
    with pytest.raises(openai.NotFoundError):
        ask(fake_llm)


@pytest.mark.sparring_cassette
def test_sees_the_miss(fake_llm):
    ask(fake_llm)
"""


def test_a_missing_cassette_in_none_mode_fails_with_the_miss_message(pytester: pytest.Pytester) -> None:
    write(pytester, MISSING)
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1, errors=1)
    path = pytester.path / "cassettes" / "test_it" / "test_swallows_the_miss.yaml"
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_swallows_the_miss*",
            "sparring: 1 request had no scripted reply.",
            "Requests nothing answered:",
            "  #1 POST /v1/chat/completions (model='gpt-4o-mini'*",
            f"The cassette {path} does not exist (record mode none from the sparring_record_mode ini key "
            "(default none): replay only). Record it with --sparring-record-mode=once and --sparring-upstream URL.",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*_ test_sees_the_miss _*",
            "E * openai.NotFoundError: Error code: 404 - *" + MISS + " (model='gpt-4o-mini'*",
            "*sparring: also (not failing the test, which already failed)*",
            "sparring: 1 request had no scripted reply.",
            f"The cassette {path.with_name('test_sees_the_miss.yaml')} does not exist *",
        ]
    )


UNUSED = """
@pytest.mark.sparring_cassette
def test_asks_once(fake_llm):
    assert ask(fake_llm) == "Paris"


@pytest.mark.sparring_cassette(name="test_asks_once")
@pytest.mark.sparring(strict=False)
def test_asks_once_not_strict(fake_llm):
    assert ask(fake_llm) == "Paris"
"""

TWICE = """
rules:
- match: {model: gpt-4o-mini}
  replies:
  - text: Paris
- match: {model: gpt-4o-mini, message: 'Why?'}
  replies:
  - text: Because.
"""


def test_unused_recorded_replies_fail_a_strict_replay(pytester: pytest.Pytester) -> None:
    cassette(pytester, "cassettes/test_it/test_asks_once.yaml", TWICE)
    write(pytester, UNUSED)
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_asks_once *",
            "sparring: 1 scripted reply was never used.",
            "Scripted replies never used:",
            lit("  rule 2 [model='gpt-4o-mini', message='Why?'] reply 1: text 'Because.', never used"),
            "Script what is missing *",
            f"The cassette {pytester.path / 'cassettes/test_it/test_asks_once.yaml'} was replayed as it is (record "
            "mode none from the sparring_record_mode ini key (default none)). If the test's requests changed, record "
            "it again with --sparring-record-mode=all (new_episodes adds requests).",
        ]
    )


# -- which mode: command line, marker, ini ----------------------------------------------------

MODES = """
@pytest.mark.sparring_cassette(mode="none")
def test_marked_none(fake_llm):
    assert ask(fake_llm) == "Paris"


@pytest.mark.sparring_cassette
def test_ini_mode(fake_llm):
    assert ask(fake_llm) == "Paris"
"""


def test_the_marker_wins_over_the_ini_and_the_command_line_over_both(pytester: pytest.Pytester) -> None:
    cassette(pytester, "cassettes/test_it/test_marked_none.yaml")
    cassette(pytester, "cassettes/test_it/test_ini_mode.yaml")
    write(pytester, MODES, ini=INI + "sparring_record_mode = all\n")
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_ini_mode*",
            "sparring: record mode 'all' (from the sparring_record_mode ini key (default none)) records, as it sends "
            "requests upstream, but no upstream is configured: give --sparring-upstream URL, the sparring_upstream "
            "ini key, or @pytest.mark.sparring_cassette(upstream=URL); or replay only with --sparring-record-mode=none",
        ]
    )
    run(pytester, "--sparring-record-mode=none").assert_outcomes(passed=2)


def test_once_without_a_file_or_an_upstream_says_both(pytester: pytest.Pytester) -> None:
    write(pytester, "@pytest.mark.sparring_cassette(mode='once')\ndef test_new(fake_llm):\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    path = pytester.path / "cassettes" / "test_it" / "test_new.yaml"
    result.stdout.fnmatch_lines(
        [
            f"sparring: record mode 'once' (from @pytest.mark.sparring_cassette(mode=...)) records, as the file {path} "
            "does not exist yet, but no upstream is configured*"
        ]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--sparring-record-mode=onse",),
            "ERROR: --sparring-record-mode: 'onse' is not a record mode; did you "
            "mean 'once'? (modes: none, once, new_episodes, all)",
        ),
        (
            ("--sparring-upstream=api.openai.com",),
            "ERROR: --sparring-upstream: not an http(s) URL: 'api.openai.com' (expected e.g. https://api.openai.com)",
        ),
    ],
)
def test_a_wrong_option_stops_the_run(pytester: pytest.Pytester, args: tuple[str, ...], message: str) -> None:
    write(pytester, "def test_nothing():\n    pass\n")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


BAD_MARKERS = """
@pytest.mark.sparring_cassette(mode="al")
def test_mode(fake_llm):
    pass


@pytest.mark.sparring_cassette(nmae="x")
def test_key(fake_llm):
    pass


@pytest.mark.sparring_cassette("x.yaml")
def test_positional(fake_llm):
    pass


@pytest.mark.sparring_cassette(name="a", path="b.yaml")
def test_both(fake_llm):
    pass
"""


def test_a_wrong_marker_fails_its_test_at_setup(pytester: pytest.Pytester) -> None:
    write(pytester, BAD_MARKERS)
    result = run(pytester)
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines_random(
        [
            "E *TypeError: @pytest.mark.sparring_cassette(mode=...): 'al' is not a record mode; did you mean 'all'? *",
            "E *TypeError: @pytest.mark.sparring_cassette got an unknown option 'nmae'; did you mean 'name'? *",
            "E *TypeError: @pytest.mark.sparring_cassette takes keyword arguments only, *",
            "E *TypeError: @pytest.mark.sparring_cassette: give name (in the cassette directory) or path (a file), "
            "not both",
        ]
    )


# -- an external server: replay works, recording does not ------------------------------------


def test_an_external_server_replays_a_cassette_and_refuses_to_record(pytester: pytest.Pytester) -> None:
    cassette(pytester, "cassettes/test_it/test_marked_none.yaml")
    write(
        pytester, MODES + "\n\n@pytest.mark.sparring_cassette(mode='new_episodes')\ndef test_new(fake_llm):\n    pass\n"
    )
    with FakeServer() as external:
        result = run(pytester, f"--sparring-url={external.url}", "--sparring-upstream=http://127.0.0.1:9")
    result.assert_outcomes(passed=1, errors=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_new*",
            "sparring: record mode 'new_episodes' (from @pytest.mark.sparring_cassette(mode=...)) records, as it "
            "sends requests upstream, and recording needs the plugin's own server, but this run drives an external "
            "server (--sparring-url). Replaying works there (mode none, or once with the file recorded); record "
            "with --sparring-url= (the plugin's own server)",
        ]
    )


# -- recording: an upstream on 127.0.0.1 ------------------------------------------------------

KEY = "sk-live-cassette-SECRET-0123456789"  # what the recorder sends upstream; no file may hold it
FRANCE = ["The capital", " of France", " is Paris."]
SPAIN = ["Madrid", "."]


def upstream_scenario(france: list[str] = FRANCE) -> Scenario:
    return Scenario.of(
        rule(reply(chunks=france), model="gpt-4o-mini", message="What is the capital of France?"),
        rule(reply(chunks=SPAIN), model="gpt-4o-mini", message="And of Spain?"),
    )


# Each test writes the chunks its stream gave, and the server's writes to the socket (the
# journal's), to a file, so the outer test can compare a recording run with a replay of it,
# chunk for chunk and write for write.
STREAMING = """
import json
import pathlib


def stream(fake_llm, content, api_key=None):
    if api_key is None:
        client = fake_llm.openai(max_retries=0)
    else:  # a client of the test's own, with a key of its own
        client = openai.OpenAI(base_url=fake_llm.base_url, api_key=api_key, max_retries=0)
    messages = [{"role": "user", "content": content}]
    with client:
        chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True))
    entry = fake_llm.wait_until(lambda journal: journal and journal[-1].outcome is not None)[-1]
    writes = [write.nbytes for write in entry.chunks]  # the proxy's writes: one per read of the upstream
    with pathlib.Path("chunks.jsonl").open("a") as out:
        out.write(json.dumps({"chunks": [c.model_dump(mode="json") for c in chunks], "writes": writes}) + "\\n")
    return [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
"""

FRANCE_ONLY = """
@pytest.mark.sparring_cassette
def test_capital(fake_llm):
    assert stream(fake_llm, "What is the capital of France?") == ["The capital", " of France", " is Paris."]
"""

FRANCE_AND_SPAIN = """
@pytest.mark.sparring_cassette
def test_capital(fake_llm):
    assert stream(fake_llm, "What is the capital of France?") == ["The capital", " of France", " is Paris."]
    assert stream(fake_llm, "And of Spain?") == ["Madrid", "."]
"""

FILE = "cassettes/test_it/test_capital.yaml"


def chunks_of(pytester: pytest.Pytester) -> list[dict[str, Any]]:
    path = pytester.path / "chunks.jsonl"
    runs = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    path.unlink()
    return runs


def recorded_messages(path: Path) -> list[str | None]:
    return [r.match.message for r in load_file(path).rules]


def no_secret_in(pytester: pytest.Pytester) -> None:
    files = list((pytester.path / "cassettes").rglob("*"))
    assert files
    for path in files:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert KEY not in text, path
            assert "sk-sparring-" not in text, path  # nor the test's fake key


@pytest.mark.timeout(180)
def test_once_records_then_none_replays_the_same_chunks_and_writes_with_the_upstream_gone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARRING_UPSTREAM_API_KEY", KEY)
    write(pytester, STREAMING + FRANCE_ONLY)
    with FakeServer(upstream_scenario()) as upstream:
        result = run(pytester, "--sparring-record-mode=once", f"--sparring-upstream={upstream.url}")
        result.assert_outcomes(passed=1)
        sent = upstream.journal()
    path = pytester.path / FILE
    result.stdout.fnmatch_lines(["*= sparring cassettes =*", f"recorded 1 exchange into {path}"])
    assert [e.outcome for e in sent] == ["completed"]
    assert sent[0].headers["authorization"] == redact_value(f"Bearer {KEY}")  # the key went upstream
    assert recorded_messages(path) == ["What is the capital of France?"]
    assert "recorded: chat" in path.read_text(encoding="utf-8")
    no_secret_in(pytester)
    recorded = chunks_of(pytester)
    assert [c["choices"][0]["delta"].get("content") for c in recorded[0]["chunks"]] == ["", *FRANCE, None]
    assert recorded[0]["writes"]  # the proxy wrote as it read
    # The upstream is gone: `none` (the default) and `once` with the file only replay.
    run(pytester).assert_outcomes(passed=1)
    run(pytester, "--sparring-record-mode=once", f"--sparring-upstream={upstream.url}").assert_outcomes(passed=1)
    with FakeServer() as external:  # the cassette travels to an external server as the test's scenario
        run(pytester, f"--sparring-url={external.url}").assert_outcomes(passed=1)
    assert chunks_of(pytester) == recorded * 3


# France's rule written by hand (any scenario file is a cassette): `new_episodes` answers it
# from the file and records only Spain.
FRANCE_BY_HAND = """
rules:
- match: {model: gpt-4o-mini, message: 'What is the capital of France?'}
  replies:
  - chunks: [The capital, ' of France', ' is Paris.']
"""


@pytest.mark.timeout(180)
def test_new_episodes_appends_what_the_file_does_not_answer(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARRING_UPSTREAM_API_KEY", KEY)
    path = cassette(pytester, FILE, FRANCE_BY_HAND)
    (first,) = load_file(path).rules
    write(pytester, STREAMING + FRANCE_AND_SPAIN)
    with FakeServer(upstream_scenario()) as upstream:
        result = run(pytester, "--sparring-record-mode=new_episodes", f"--sparring-upstream={upstream.url}")
        result.assert_outcomes(passed=1)
        asked = [e.asked for e in upstream.journal()]
    result.stdout.fnmatch_lines(["*= sparring cassettes =*", f"appended 1 exchange to {path}"])
    assert len(asked) == 1  # only Spain went upstream
    assert "last user message='And of Spain?'" in (asked[0] or "")
    assert recorded_messages(path) == ["What is the capital of France?", "And of Spain?"]
    assert load_file(path).rules[0] == first  # kept as it was
    assert "name:" not in path.read_text(encoding="utf-8")  # and nothing added to it
    assert "recorded: chat" in path.read_text(encoding="utf-8")
    no_secret_in(pytester)
    run(pytester).assert_outcomes(passed=1)  # both replayed, the upstream gone


PARIS_AGAIN = FRANCE_ONLY.replace(" is Paris.", " is Paris!")


@pytest.mark.timeout(180)
def test_all_rewrites_the_file_even_where_it_answers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARRING_UPSTREAM_API_KEY", KEY)
    write(pytester, STREAMING + FRANCE_AND_SPAIN)
    path = pytester.path / FILE
    with FakeServer(upstream_scenario()) as upstream:
        up = f"--sparring-upstream={upstream.url}"
        run(pytester, "--sparring-record-mode=once", up).assert_outcomes(passed=1)
        assert recorded_messages(path) == ["What is the capital of France?", "And of Spain?"]
        # The test now asks France only, the upstream says it differently, and the marker's
        # mode `all` beats the ini's `none`.
        upstream.set_scenario(upstream_scenario(france=["The capital", " of France", " is Paris!"]))
        marked = PARIS_AGAIN.replace("sparring_cassette", "sparring_cassette(mode='all')")
        write(pytester, STREAMING + marked, ini=INI + "sparring_record_mode = none\n")
        result = run(pytester, up)
        result.assert_outcomes(passed=1)
        assert len(upstream.journal()) == 3  # two recorded by `once`; `all` sent France though the file answers it
    result.stdout.fnmatch_lines([f"recorded 1 exchange into {path}"])
    assert recorded_messages(path) == ["What is the capital of France?"]  # Spain is gone
    assert "is Paris!" in path.read_text(encoding="utf-8")
    no_secret_in(pytester)
    chunks_of(pytester)
    write(pytester, STREAMING + PARIS_AGAIN)
    run(pytester).assert_outcomes(passed=1)


UNUSED_AFTER_RECORDING = """
@pytest.mark.sparring_cassette(name="test_capital")
def test_france_only(fake_llm):
    assert stream(fake_llm, "What is the capital of France?") == ["The capital", " of France", " is Paris."]
"""


@pytest.mark.timeout(180)
def test_a_recorded_reply_the_replay_leaves_unused_fails_at_teardown(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARRING_UPSTREAM_API_KEY", KEY)
    write(pytester, STREAMING + FRANCE_AND_SPAIN)
    with FakeServer(upstream_scenario()) as upstream:
        run(pytester, "--sparring-record-mode=once", f"--sparring-upstream={upstream.url}").assert_outcomes(passed=1)
    write(pytester, STREAMING + UNUSED_AFTER_RECORDING)
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_france_only*",
            "sparring: 1 scripted reply was never used.",
            "Scripted replies never used:",
            "  rule 2 *",
            "Script what is missing *",
            f"The cassette {pytester.path / FILE} was replayed as it is *",
        ]
    )


OWN_KEY = """
@pytest.mark.sparring_cassette
def test_capital(fake_llm):
    got = stream(fake_llm, "What is the capital of France?", api_key="%s")
    assert got == ["The capital", " of France", " is Paris."]
"""


@pytest.mark.timeout(180)
def test_a_clients_own_key_goes_upstream_and_into_no_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SPARRING_UPSTREAM_API_KEY", raising=False)
    write(pytester, STREAMING + OWN_KEY % KEY)
    with FakeServer(upstream_scenario()) as upstream:
        run(pytester, "--sparring-record-mode=once", f"--sparring-upstream={upstream.url}").assert_outcomes(passed=1)
        sent = upstream.journal()
    assert sent[0].headers["authorization"] == redact_value(f"Bearer {KEY}")
    no_secret_in(pytester)


# -- the docs' example ------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "cassette"


@pytest.mark.timeout(180)
def test_the_docs_example_replays_its_cassette(pytester: pytest.Pytester) -> None:
    text = (EXAMPLE / "cassettes" / "test_cassette" / "test_capital_of_france.yaml").read_text(encoding="utf-8")
    assert "sk-" not in text  # recorded with a key, which is not in the file
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True)
    pytester.makeini(INI)
    result = run(pytester, "--sparring-upstream=http://127.0.0.1:9")  # an upstream that is not there
    result.assert_outcomes(passed=1)


UNREACHABLE = """
@pytest.mark.sparring_cassette
@pytest.mark.sparring(strict=False)
def test_capital(fake_llm):
    with pytest.raises(openai.InternalServerError, match="cannot reach the upstream"):
        ask(fake_llm)
"""


@pytest.mark.timeout(180)
def test_a_request_the_upstream_never_got_fails_the_recording_even_when_not_strict(pytester: pytest.Pytester) -> None:
    with FakeServer() as gone:
        url = gone.url
    write(pytester, UNREACHABLE)
    result = run(pytester, "--sparring-record-mode=once", f"--sparring-upstream={url}")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_capital*",
            "sparring: 1 request could not be recorded:",
            "  #1 POST /v1/chat/completions (model='gpt-4o-mini', *): "
            f"sparring record: cannot reach the upstream {url}*",
        ]
    )
    assert not (pytester.path / FILE).exists()
    result.stdout.no_fnmatch_line("*= sparring cassettes =*")


# The other two APIs, each with its SDK: Anthropic's Messages (its key in `x-api-key`) and
# OpenAI's Responses.
OTHER_APIS = {
    "messages": """
@pytest.mark.sparring_cassette
def test_other_api(fake_llm):
    client = fake_llm.anthropic(max_retries=0)
    messages = [{"role": "user", "content": "Say hello in French"}]
    with client.messages.stream(model="claude-sonnet-4-5", max_tokens=100, messages=messages) as stream:
        assert "".join(stream.text_stream) == "Bonjour à tous"
    assert [e.outcome for e in fake_llm.journal] == ["completed"]
""",
    "responses": """
@pytest.mark.sparring_cassette
def test_other_api(fake_llm):
    client = fake_llm.openai(max_retries=0)
    stream = client.responses.create(model="gpt-4.1-nano", input="Say hello in French", stream=True)
    deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "Bonjour à tous"
    assert [e.outcome for e in fake_llm.journal] == ["completed"]
""",
}


@pytest.mark.timeout(180)
@pytest.mark.parametrize("api", sorted(OTHER_APIS))
def test_anthropic_and_responses_record_and_replay(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, api: str
) -> None:
    monkeypatch.setenv("SPARRING_UPSTREAM_API_KEY", KEY)
    pytester.makeini(INI)
    pytester.makepyfile(test_it="import openai\nimport pytest\n" + OTHER_APIS[api])
    with FakeServer(Scenario.of(reply(chunks=["Bonjour", " à tous"]))) as upstream:
        run(pytester, "--sparring-record-mode=once", f"--sparring-upstream={upstream.url}").assert_outcomes(passed=1)
        sent = upstream.journal()
    path = pytester.path / "cassettes" / "test_it" / "test_other_api.yaml"
    assert f"recorded: {api}" in path.read_text(encoding="utf-8")
    # The key went upstream, in the header the client used (the anthropic SDK's version
    # decides between `x-api-key` and `Authorization: Bearer`).
    credentials = {sent[0].headers.get("x-api-key"), sent[0].headers.get("authorization")}
    assert credentials & {redact_value(KEY), redact_value(f"Bearer {KEY}")}, sent[0].headers
    no_secret_in(pytester)
    run(pytester).assert_outcomes(passed=1)


TWO_TESTS = """
@pytest.mark.sparring_cassette
def test_france(fake_llm):
    assert stream(fake_llm, "What is the capital of France?") == ["The capital", " of France", " is Paris."]


@pytest.mark.sparring_cassette
def test_spain(fake_llm):
    assert stream(fake_llm, "And of Spain?") == ["Madrid", "."]
"""


# Two xdist workers in subprocesses: 5-10 s alone, several times that on a loaded machine.
@pytest.mark.timeout(180)
def test_recording_under_xdist_lists_every_workers_files(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SPARRING_UPSTREAM_API_KEY", KEY)
    write(pytester, STREAMING + TWO_TESTS)
    with FakeServer(upstream_scenario()) as upstream:
        args = ("-n", "2", "--sparring-record-mode=once", f"--sparring-upstream={upstream.url}")
        result = pytester.runpytest_subprocess(*OPTIONS, *args)
    result.assert_outcomes(passed=2)
    folder = pytester.path / "cassettes" / "test_it"
    result.stdout.fnmatch_lines_random(
        [
            f"recorded 1 exchange into {folder / 'test_france.yaml'}",
            f"recorded 1 exchange into {folder / 'test_spain.yaml'}",
        ]
    )
    assert recorded_messages(folder / "test_spain.yaml") == ["And of Spain?"]
    no_secret_in(pytester)


REDACTED = """
@pytest.mark.sparring_cassette(redact=["x-other-token"])
def test_tokens(fake_llm):
    headers = {"x-team-token": "team-secret-1234", "x-other-token": "other-secret-5678"}
    client = fake_llm.openai(max_retries=0, default_headers=headers)
    answer = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert "team-secret-1234" in answer.choices[0].message.content  # the recording run passes it on


@pytest.mark.sparring_cassette(match_on=["endpoint", "modle"])
def test_typo(fake_llm):
    pass
"""


@pytest.mark.timeout(180)
def test_redaction_from_the_session_and_the_marker_reaches_the_recording(pytester: pytest.Pytester) -> None:
    # An upstream that says the secrets back (as an error message quoting a key would).
    echo = Scenario.of(reply("I saw team-secret-1234 and other-secret-5678."))
    write(pytester, REDACTED)
    with FakeServer(echo) as upstream:
        args = ("--sparring-record-mode=once", f"--sparring-upstream={upstream.url}", "--sparring-redact=x-team-token")
        result = run(pytester, *args)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*sparring: @pytest.mark.sparring_cassette cannot record: "
            "match_on: unknown key 'modle' (did you mean 'model'?)*"
        ]
    )
    text = (pytester.path / "cassettes" / "test_it" / "test_tokens.yaml").read_text(encoding="utf-8")
    assert "I saw " in text
    assert "team-secret-1234" not in text
    assert "other-secret-5678" not in text

"""The pytest plugin, tested as its users meet it: write a test file, run pytest on it through
`pytester`, and read the outcomes and the exact text of the report.

Most runs are in-process (`runpytest`, a few hundred milliseconds each: this module imports
`openai` and sparring up front, so the inner runs find them loaded, and the inner runs leave
out hypothesis's plugin); the pytest-xdist run uses subprocesses. Each inner file holds
several small tests, to keep the number of runs down.
"""

from __future__ import annotations

# The inner runs' imports, made once here: an in-process run forgets the modules it imported
# first, and a module imported afresh beside one kept (httpcore beside httpx) breaks
# `except` clauses (httpx maps exceptions by httpcore's old classes).
import contextlib
import glob
import importlib

import httpcore  # noqa: F401
import httpx  # noqa: F401
import openai  # noqa: F401
import pytest

import sparring
import sparring.plugin.fake_llm
import sparring.scenario.library

# openai 3.x sends through httpx2 and httpcore2: load them too, or a later test in this
# process meets a second httpcore2 that httpx2 cannot map to its own exceptions.
for _name in ("httpcore2", "httpx2"):
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)

pytest_plugins = ["pytester"]

# Every inner run gets this ini unless a test writes its own: the repository's strictness.
INI = """
[pytest]
asyncio_mode = strict
asyncio_default_fixture_loop_scope = function
filterwarnings = error
"""

# Prepended to every inner test file.
HEADER = """
import openai
import pytest
from sparring import Fault, reply, rule

MESSAGES = [{"role": "user", "content": "Hi"}]


def ask(client, model="gpt-4o"):
    return client.chat.completions.create(model=model, messages=MESSAGES).choices[0].message.content
"""

EXCHANGE = "sparring: exchange with the fake LLM server"
# What the server recorded of `ask(...)`'s request: the teardown and the report show it.
ASKED = "(model='gpt-4o', stream=False, last user message='Hi', retry count 0, 1 message, the last from user)"
QUIET = "sparring: also (not failing the test, which already failed)"
ADVICE = (
    "Script what is missing with fake_llm.add(...), mark spare replies optional=True, "
    "or use @pytest.mark.sparring(strict=False)."
)


def lit(text: str) -> str:
    """`text` as an fnmatch pattern that matches only itself (`[any request]` is not a class)."""
    return glob.escape(text)


def section(title: str) -> str:
    """The pattern of a report section's title line: `----- title -----`."""
    return f"*-- {lit(title)} --*"


def write(pytester: pytest.Pytester, body: str, *, name: str = "test_it", ini: str = INI) -> None:
    pytester.makeini(ini)
    pytester.makepyfile(**{name: HEADER + body})


# hypothesis's plugin imports hypothesis afresh at the end of every in-process run: 1 s a run.
OPTIONS = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--strict-config", "--strict-markers")


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest(*OPTIONS, *args)


def run_subprocess(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(*OPTIONS, *args)


# -- the first test, with every client and event loop ------------------------------------------

FIRST_TESTS = """
def test_five_lines(fake_llm):
    fake_llm.add(reply("Hello"))
    client = fake_llm.openai()
    answer = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert answer.choices[0].message.content == "Hello"


def test_sync_stream(fake_llm):
    fake_llm.add(reply(chunks=["Hel", "lo"]))
    stream = fake_llm.openai().chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content] == ["Hel", "lo"]
    assert [e.outcome for e in fake_llm.journal] == ["completed"]


async def streamed(fake_llm):
    fake_llm.add(reply(chunks=["Hel", "lo"]))
    async with fake_llm.async_openai() as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        pieces = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
    assert pieces == ["Hel", "lo"]
    assert [e.outcome for e in fake_llm.journal] == ["completed"]
"""

MARKED = """
import pytest_asyncio


@pytest.mark.asyncio
async def test_asyncio_function_loop(fake_llm):
    await streamed(fake_llm)


@pytest.mark.asyncio(loop_scope="module")
async def test_asyncio_module_loop(fake_llm):
    await streamed(fake_llm)


@pytest.mark.asyncio(loop_scope="module")
async def test_asyncio_module_loop_again(fake_llm):
    await streamed(fake_llm)


@pytest_asyncio.fixture(loop_scope="module")
async def module_loop_client(fake_llm):
    async with fake_llm.async_openai() as client:
        yield client


@pytest.mark.asyncio(loop_scope="module")
async def test_async_fixture_on_the_module_loop(fake_llm, module_loop_client):
    fake_llm.add(reply("Hello"))
    answer = await module_loop_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert answer.choices[0].message.content == "Hello"


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_anyio(fake_llm):
    await streamed(fake_llm)
"""

UNMARKED = """
async def test_auto(fake_llm):
    await streamed(fake_llm)


async def test_auto_again(fake_llm):
    await streamed(fake_llm)


@pytest.fixture
async def async_client(fake_llm):
    async with fake_llm.async_openai() as client:
        yield client


async def test_auto_async_fixture(fake_llm, async_client):
    fake_llm.add(reply("Hello"))
    answer = await async_client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert answer.choices[0].message.content == "Hello"
"""


@pytest.mark.parametrize("loop_scope", ["function", "module"])
@pytest.mark.parametrize(("mode", "body", "count"), [("strict", MARKED, 7), ("auto", UNMARKED, 5)])
def test_the_first_test_passes_with_every_client_and_loop(
    pytester: pytest.Pytester, mode: str, body: str, count: int, loop_scope: str
) -> None:
    ini = (
        "[pytest]\n"
        f"asyncio_mode = {mode}\n"
        f"asyncio_default_fixture_loop_scope = {loop_scope}\n"
        f"asyncio_default_test_loop_scope = {loop_scope}\n"
        "filterwarnings = error\n"
    )
    write(pytester, FIRST_TESTS + body, ini=ini)
    result = run(pytester)
    result.assert_outcomes(passed=count)


# -- isolation between tests -------------------------------------------------------------------

ISOLATION = """
import httpx

LEFT = {}


def test_1_spare_reply_left_over(fake_llm):
    fake_llm.add(reply("first"), reply("leftover", optional=True))
    assert ask(fake_llm.openai()) == "first"
    LEFT["key"], LEFT["base_url"], LEFT["url"] = fake_llm.api_key, fake_llm.base_url, fake_llm.url


def test_2_sees_only_its_own_script_and_journal(fake_llm):
    assert fake_llm.journal == []
    assert fake_llm.unused() == []
    assert fake_llm.api_key != LEFT["key"]
    assert fake_llm.base_url != LEFT["base_url"] and fake_llm.url != LEFT["url"]  # URLs of its own
    fake_llm.add(reply("second"))
    assert ask(fake_llm.openai()) == "second"
    assert [e.outcome for e in fake_llm.journal] == ["completed"]


@pytest.mark.sparring(strict=False)
def test_3_other_keys_land_in_the_running_test(fake_llm, sparring_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-other")
    fake_llm.add(reply("mine"), reply("mine too"), reply("mine by path"))
    # At the server's root, without the test's namespace in the path: routed by key, or by default.
    with openai.OpenAI(base_url=sparring_server.base_url) as other:
        assert ask(other) == "mine"
    with openai.OpenAI(base_url=sparring_server.base_url, api_key=LEFT["key"]) as stale:  # an earlier test's key
        assert ask(stale) == "mine too"
    with openai.OpenAI(base_url=fake_llm.base_url, api_key=LEFT["key"]) as by_path:  # the path wins over the key
        assert ask(by_path) == "mine by path"
    # An earlier test's URL: its namespace has ended; the running test sees the request, unanswered.
    with openai.OpenAI(base_url=LEFT["base_url"], api_key=fake_llm.api_key, max_retries=0) as old:
        with pytest.raises(openai.NotFoundError, match="which has ended: the test it belonged to is over"):
            ask(old)
    assert [e.outcome for e in fake_llm.journal] == ["completed", "completed", "completed", "unmatched"]
    assert fake_llm.unanswered()[0].path == "/v1/chat/completions"


def test_4_leaves_a_stalled_stream_behind(fake_llm):
    fake_llm.add(reply(chunks=["a", "b", "c"], fault=Fault("stall", after_chunk=1)))
    client = httpx.Client(timeout=10)
    request = client.build_request(
        "POST",
        f"{fake_llm.base_url}/chat/completions",
        json={"model": "gpt-4o", "messages": MESSAGES, "stream": True},
        headers={"Authorization": f"Bearer {fake_llm.api_key}"},
    )
    response = client.send(request, stream=True)
    lines = response.iter_lines()
    assert next(lines).startswith("data: ")
    LEFT["stalled"] = client, response, lines
    assert fake_llm.journal[0].outcome is None  # still under way when the test ends


def test_5_the_stall_was_ended_at_teardown(fake_llm, sparring_server):
    client, response, lines = LEFT.pop("stalled")
    try:
        assert fake_llm.journal == []
        assert sparring_server.activity() == {"connections": 0, "tasks": 0}
        with pytest.raises(httpx.RemoteProtocolError):  # the server hung up; no 10 s read timeout
            list(lines)
    finally:
        response.close()
        client.close()
"""


def test_tests_see_only_their_own_scenario_journal_and_streams(pytester: pytest.Pytester) -> None:
    write(pytester, ISOLATION)
    result = run(pytester)
    result.assert_outcomes(passed=5)


KEPT_CLIENT = """
KEPT = {}


def test_1_makes_a_client_and_keeps_it(fake_llm):
    fake_llm.add(reply("first"))
    KEPT["client"] = openai.OpenAI(base_url=fake_llm.base_url, api_key=fake_llm.api_key, max_retries=0)
    assert ask(KEPT["client"]) == "first"
    KEPT["namespace"] = fake_llm.namespace


def test_2_uses_the_first_tests_client(fake_llm):
    with pytest.raises(openai.NotFoundError, match="which has ended: the test it belonged to is over"):
        ask(KEPT["client"])
    KEPT["client"].close()
"""


def test_a_client_kept_from_an_earlier_test_fails_the_test_using_it(pytester: pytest.Pytester) -> None:
    """Its requests go to the earlier test's ended namespace: each is a request nothing
    answered, in the test that sent it, and the report says where it went."""
    write(pytester, KEPT_CLIENT)
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_2_uses_the_first_tests_client*",
            "sparring: 1 request had no scripted reply.",
            "Requests nothing answered:",
            f"  #1 POST /v1/chat/completions {ASKED}, sent to test-*, the namespace of a test that is over",
            "*#1 POST /v1/chat/completions -> 404 · nothing: sent to an ended namespace: test-* · unmatched · *",
            lit(f"    asked: POST /v1/chat/completions {ASKED}"),
        ]
    )


# -- strict teardown ---------------------------------------------------------------------------

STRICT = """
def test_unused(fake_llm):
    fake_llm.add(reply("Hello"))


def test_unanswered_though_swallowed(fake_llm):
    try:
        ask(fake_llm.openai(max_retries=0))
    except openai.NotFoundError:
        pass  # as a retry loop or a catch-all would


def test_optional_and_repeat_may_go_unused(fake_llm):
    fake_llm.add(
        reply("Hello"),
        reply("spare", optional=True),
        rule(reply("again", repeat=True), model="gpt-4o-mini"),
    )
    assert ask(fake_llm.openai()) == "Hello"


def test_repeat_answers_every_time(fake_llm):
    fake_llm.add(reply("again", repeat=True))
    client = fake_llm.openai()
    assert [ask(client) for _ in range(3)] == ["again"] * 3


def test_partly_used(fake_llm):
    fake_llm.add(reply("thrice", times=3))
    assert ask(fake_llm.openai()) == "thrice"


def test_both_problems_at_once(fake_llm):
    fake_llm.add(rule(reply("for mini"), model="gpt-4o-mini"))
    try:
        ask(fake_llm.openai(max_retries=0))
    except openai.NotFoundError:
        pass


def test_body_failed_first(fake_llm):
    fake_llm.add(reply("Hello"), reply("spare"))
    assert ask(fake_llm.openai()) == "Goodbye"
"""


def test_strict_teardown_fails_on_unused_replies_and_unanswered_requests(pytester: pytest.Pytester) -> None:
    write(pytester, STRICT)
    result = run(pytester)
    result.assert_outcomes(passed=6, errors=4, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at teardown of test_unused _*",
            "sparring: 1 scripted reply was never used.",
            "Scripted replies never used:",
            lit("  rule 1 [any request] reply 1: text 'Hello', never used"),
            lit(ADVICE),
            section(EXCHANGE),
            "no requests reached the fake server",
            "*_ ERROR at teardown of test_unanswered_though_swallowed _*",
            "sparring: 1 request had no scripted reply.",
            "Requests nothing answered:",
            lit(f"  #1 POST /v1/chat/completions {ASKED}"),
            lit(ADVICE),
            section(EXCHANGE),
            lit("#1 POST /v1/chat/completions -> 404 · nothing scripted: sparring's 404 · unmatched · ") + "*s",
            lit(f"    asked: POST /v1/chat/completions {ASKED}"),
            "*_ ERROR at teardown of test_partly_used _*",
            "sparring: 1 scripted reply was never used.",
            "Scripted replies never used:",
            lit("  rule 1 [any request] reply 1: text 'thrice', 2 of 3 uses left"),
            "*_ ERROR at teardown of test_both_problems_at_once _*",
            "sparring: 1 request had no scripted reply, and 1 scripted reply was never used.",
            "Requests nothing answered:",
            lit(f"  #1 POST /v1/chat/completions {ASKED}"),
            "Scripted replies never used:",
            lit("  rule 1 [model='gpt-4o-mini'] reply 1: text 'for mini', never used"),
        ]
    )
    for quiet in ("test_optional_and_repeat_may_go_unused", "test_repeat_answers_every_time"):
        result.stdout.no_fnmatch_line(f"*ERROR at teardown of {quiet}*")


def test_a_failed_body_is_the_failure_and_teardown_problems_come_quietly(pytester: pytest.Pytester) -> None:
    write(pytester, STRICT, name="test_strict")
    result = run(pytester, "-k", "body_failed")
    result.assert_outcomes(failed=1, deselected=6)
    result.stdout.no_fnmatch_line("*ERROR*")
    result.stdout.fnmatch_lines(
        [
            "*_ test_body_failed_first _*",
            "E       AssertionError: assert 'Hello' == 'Goodbye'",
            section(EXCHANGE),
            lit("#1 POST /v1/chat/completions -> 200 · rule 1, reply 1: text 'Hello' · completed · ") + "*",
            section(QUIET),
            "sparring: 1 scripted reply was never used.",
            "Scripted replies never used:",
            lit("  rule 1 [any request] reply 2: text 'spare', never used"),
            lit(ADVICE),
            "FAILED test_strict.py::test_body_failed_first - AssertionError*",
        ]
    )


@pytest.mark.timeout(180)  # two pytest runs in subprocesses, one under xdist: 21-25 s on a loaded machine
def test_files_pass_under_xdist_and_failing_reports_keep_their_sections(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_first=HEADER + FIRST_TESTS + MARKED,
        test_isolation=HEADER + ISOLATION,
        test_failing=HEADER + STRICT[STRICT.index("def test_body_failed_first") :],
    )
    # loadfile: the isolation tests hand state from one test to the next, so they share a worker.
    result = run_subprocess(pytester, "-n", "2", "--dist", "loadfile", "-v")
    result.assert_outcomes(passed=12, failed=1)
    result.stdout.fnmatch_lines(["[[]gw0[]] *PASSED*"])
    result.stdout.fnmatch_lines(["[[]gw1[]] *PASSED*"])
    # A worker ships the call report before teardown: what the plugin says about leftovers
    # must already be in it.
    result.stdout.no_fnmatch_line("*ERROR at teardown*")
    result.stdout.fnmatch_lines(
        [
            "*_ test_body_failed_first _*",
            "E       AssertionError: assert 'Hello' == 'Goodbye'",
            section(EXCHANGE),
            section(QUIET),
            "sparring: 1 scripted reply was never used.",
            lit("  rule 1 [any request] reply 2: text 'spare', never used"),
        ]
    )


SKIPPED_AND_XFAILED = """
def test_skipped_midway(fake_llm):
    fake_llm.add(reply("never needed"))
    pytest.skip("not today")


@pytest.mark.xfail(reason="a known client bug", strict=True)
def test_expected_to_fail(fake_llm):
    fake_llm.add(reply("Hello"), reply("spare"))
    assert ask(fake_llm.openai()) == "Goodbye"
"""


def test_a_skipped_or_xfailed_body_is_not_failed_again_at_teardown(pytester: pytest.Pytester) -> None:
    write(pytester, SKIPPED_AND_XFAILED)
    result = run(pytester, "-rA")
    result.stdout.no_fnmatch_line("*at teardown of*")
    result.assert_outcomes(skipped=1, xfailed=1)


NOT_STRICT = """
def test_unused_and_unanswered(fake_llm):
    fake_llm.add(rule(reply("for mini"), model="gpt-4o-mini"))
    try:
        ask(fake_llm.openai(max_retries=0))
    except openai.NotFoundError:
        pass
    assert len(fake_llm.unanswered()) == 1
    assert fake_llm.unused() == ["rule 1 [model='gpt-4o-mini'] reply 1: text 'for mini', never used"]
"""


@pytest.mark.parametrize(
    ("ini_line", "args", "marker", "errors"),
    [
        pytest.param("", [], "sparring(strict=False)", 0, id="marker"),
        pytest.param("", ["--sparring-strict=false"], "", 0, id="option"),
        pytest.param("sparring_strict = false", [], "", 0, id="ini"),
        pytest.param("sparring_strict = off", [], "", 0, id="ini-off"),
        pytest.param("sparring_strict = false", ["--sparring-strict=true"], "", 1, id="option-beats-ini"),
        pytest.param("", ["--sparring-strict=no"], "sparring(strict=True)", 1, id="marker-beats-option"),
        pytest.param("", [], "", 1, id="default-strict"),
    ],
)
def test_strictness_is_set_by_marker_option_and_ini(
    pytester: pytest.Pytester, ini_line: str, args: list[str], marker: str, errors: int
) -> None:
    body = NOT_STRICT if not marker else NOT_STRICT.replace("def test_", f"@pytest.mark.{marker}\ndef test_", 1)
    write(pytester, body, ini=INI + ini_line + "\n")
    result = run(pytester, *args)
    result.assert_outcomes(passed=1, errors=errors)
    if errors:
        result.stdout.fnmatch_lines(["sparring: 1 request had no scripted reply, and 1 scripted reply was never used."])


def test_the_closest_marker_wins(pytester: pytest.Pytester) -> None:
    body = "pytestmark = pytest.mark.sparring(strict=False)\n\n" + NOT_STRICT
    body += "\n\n@pytest.mark.sparring(strict=True)\n" + NOT_STRICT.strip().replace("test_unused", "test_strict_again")
    write(pytester, body)
    result = run(pytester)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*_ ERROR at teardown of test_strict_again_and_unanswered _*"])


# -- the exchange in the report ----------------------------------------------------------------

REPORTED = """
def test_passes(fake_llm):
    fake_llm.add(reply("Hello"))
    assert ask(fake_llm.openai()) == "Hello"


def test_fails(fake_llm):
    fake_llm.add(reply("Hello"))
    client = fake_llm.openai()
    stream = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Goodbye"
"""

FAILED_EXCHANGE = [
    "*_ test_fails _*",
    "E       AssertionError: assert 'Hello' == 'Goodbye'",
    section(EXCHANGE),
    lit("#1 POST /v1/chat/completions -> 200 · rule 1, reply 1: text 'Hello' · completed · ")
    + "4 events (1 with output), * bytes · *s",
]
PASSED_EXCHANGE = [
    "*_ test_passes _*",
    section(EXCHANGE),
    lit("#1 POST /v1/chat/completions -> 200 · rule 1, reply 1: text 'Hello' · completed · ") + "*",
]


def test_a_failing_test_reports_the_exchange(pytester: pytest.Pytester) -> None:
    write(pytester, REPORTED)
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([*FAILED_EXCHANGE, "*= PASSES =*", "*= short test summary info =*"])
    assert result.stdout.str().count(EXCHANGE) == 1, "and only the failing test's"


def test_report_always_adds_the_exchange_to_passing_tests(pytester: pytest.Pytester) -> None:
    write(pytester, REPORTED)
    result = run(pytester, "-rA", "--sparring-report=always")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([*FAILED_EXCHANGE, "*= PASSES =*", *PASSED_EXCHANGE])


def test_report_never_leaves_it_out(pytester: pytest.Pytester) -> None:
    write(pytester, REPORTED, ini=INI + "sparring_report = never\n")
    result = run(pytester, "-rA")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["E       AssertionError: assert 'Hello' == 'Goodbye'"])
    result.stdout.no_fnmatch_line(f"*{EXCHANGE}*")


# -- the marker --------------------------------------------------------------------------------

MARKER = """
PLAIN = "The capital of France is Paris. It has been the capital since the 10th century."


@pytest.mark.sparring(scenario="plain-stream")
def test_builtin(fake_llm):
    assert ask(fake_llm.openai()) == PLAIN


@pytest.mark.sparring(scenario=["refusal", "tool-call"])
def test_several(fake_llm):
    client = fake_llm.openai()
    first = client.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message
    second = client.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message
    assert first.refusal == "I'm sorry, but I can't help with that."
    assert [call.function.name for call in second.tool_calls] == ["get_weather"]


@pytest.mark.sparring(scenario="mine")
def test_from_my_folder(fake_llm):
    assert ask(fake_llm.openai()) == "From my folder"


@pytest.mark.sparring(fallback="default")
def test_fallback(fake_llm):
    client = fake_llm.openai()
    first, second = ask(client), ask(client)
    assert first and second
    assert [e.outcome for e in fake_llm.journal] == ["completed", "completed"]
    assert fake_llm.unanswered() == []
"""


def scenario_folder(pytester: pytest.Pytester, folder: str) -> None:
    pytester.mkdir(folder)
    (pytester.path / folder / "mine.yaml").write_text('name: mine\nreplies:\n  - text: "From my folder"\n')


def test_marker_preloads_scenarios_from_the_library_and_an_ini_folder(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(pytester, MARKER, ini=INI + "sparring_scenarios = my-scenarios\n")
    scenario_folder(pytester, "my-scenarios")
    monkeypatch.chdir(pytester.mkdir("elsewhere"))  # the ini's folder is relative to the rootdir, not the cwd
    result = run(pytester, str(pytester.path))
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines([f"sparring *: *, scenario dirs={lit(str(pytester.path / 'my-scenarios'))}"])


def test_marker_finds_scenarios_in_a_folder_given_on_the_command_line(pytester: pytest.Pytester) -> None:
    write(pytester, MARKER)
    scenario_folder(pytester, "cli-scenarios")
    (pytester.path / "cli-scenarios" / "plain-stream.yaml").write_text(
        'replies:\n  - text: "The capital of France is Paris. It has been the capital since the 10th century."\n'
    )  # shadows the built-in (and plays without its 30 ms gaps)
    result = run(pytester, "--sparring-scenarios", "cli-scenarios", "-k", "builtin or folder")
    result.assert_outcomes(passed=2, deselected=2)


BAD_MARKERS = """
@pytest.mark.sparring(scenaro="plain-stream")
def test_misspelled(fake_llm):
    pass


@pytest.mark.sparring("plain-stream")
def test_positional(fake_llm):
    pass


@pytest.mark.sparring(fallback="sometimes")
def test_bad_fallback(fake_llm):
    pass


@pytest.mark.sparring(scenario="plain-streem")
def test_unknown_scenario(fake_llm):
    pass
"""


def test_bad_marker_arguments_fail_the_setup_with_a_clear_error(pytester: pytest.Pytester) -> None:
    write(pytester, BAD_MARKERS)
    result = run(pytester)
    result.assert_outcomes(errors=4)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_misspelled _*",
            "E       TypeError: "
            + lit(
                "@pytest.mark.sparring got an unknown option 'scenaro'; did you mean 'scenario'? "
                "(options: scenario, fallback, strict)"
            ),
            "*_ ERROR at setup of test_positional _*",
            "E       TypeError: "
            + lit("@pytest.mark.sparring takes keyword arguments only, e.g. sparring(scenario='plain-stream')"),
            "*_ ERROR at setup of test_bad_fallback _*",
            "E       TypeError: "
            + lit("@pytest.mark.sparring(fallback=...) must be 'miss' or 'default', got 'sometimes'"),
            "*_ ERROR at setup of test_unknown_scenario _*",
            "E       *plain-streem*no such file, and no built-in scenario of that name*",
        ]
    )


WRONG_TYPES = """
@pytest.mark.sparring(strict="false")
def test_strict_as_a_string(fake_llm):
    fake_llm.add(reply("Hello"))


@pytest.mark.sparring(scenario=3)
def test_scenario_as_a_number(fake_llm):
    pass
"""


def test_marker_values_of_the_wrong_type_are_named(pytester: pytest.Pytester) -> None:
    # `strict="false"` must not quietly mean strict (a non-empty string is true), and a bad
    # `scenario` must say which argument was wrong, not "'int' object is not iterable".
    write(pytester, WRONG_TYPES)
    result = run(pytester)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        [
            "*_ ERROR at setup of test_strict_as_a_string _*",
            "E       TypeError: *strict*'false'*",
            "*_ ERROR at setup of test_scenario_as_a_number _*",
            "E       TypeError: *scenario*3*",
        ]
    )


# -- options and the header --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ini_line", "args", "message"),
    [
        pytest.param(
            "",
            ["--sparring-report=sometimes"],
            "ERROR: sparring_report must be one of failed, always, never, not 'sometimes'",
            id="report-option",
        ),
        pytest.param(
            "sparring_report = sometimes",
            [],
            "ERROR: sparring_report must be one of failed, always, never, not 'sometimes'",
            id="report-ini",
        ),
        pytest.param(
            "", ["--sparring-strict=maybe"], "ERROR: sparring_strict must be true or false, not 'maybe'", id="strict"
        ),
        pytest.param(
            "sparring_strict = maybe", [], "ERROR: sparring_strict must be true or false, not 'maybe'", id="strict-ini"
        ),
        pytest.param(
            "", ["--sparring-scenarios=nowhere"], "ERROR: sparring_scenarios: nowhere is not a directory", id="dir"
        ),
        pytest.param(
            "sparring_scenarios = nowhere", [], "ERROR: sparring_scenarios: */nowhere is not a directory", id="dir-ini"
        ),
    ],
)
def test_invalid_settings_are_usage_errors(
    pytester: pytest.Pytester, ini_line: str, args: list[str], message: str
) -> None:
    write(pytester, "def test_nothing():\n    pass\n", ini=INI + ini_line + "\n")
    result = run(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_the_report_header_shows_the_effective_settings(pytester: pytest.Pytester) -> None:
    write(pytester, "def test_nothing():\n    pass\n")
    run(pytester).stdout.fnmatch_lines(
        [f"sparring {sparring.__version__}: strict=true, report=failed, scenario dirs=-"]
    )
    pytester.makeini(INI + "sparring_strict = false\nsparring_report = never\n")
    pytester.mkdir("scen")
    result = run(pytester, "--sparring-report=always", "--sparring-scenarios=scen")  # the command line wins
    dirs = lit(str(pytester.path / "scen"))
    result.stdout.fnmatch_lines([f"sparring {sparring.__version__}: strict=false, report=always, scenario dirs={dirs}"])


# -- FakeLLM's helpers -------------------------------------------------------------------------

HELPERS = """
@pytest.fixture
def clients_made():
    made = []
    yield made  # set up before fake_llm, so torn down after it
    assert made and all(client.is_closed() for client in made), "fake_llm.openai() clients are closed"


def test_openai_clients_are_closed_at_teardown(clients_made, fake_llm):
    fake_llm.add(reply("one"), reply("two"))
    clients_made.extend([fake_llm.openai(), fake_llm.openai(max_retries=0)])
    assert [ask(client) for client in clients_made] == ["one", "two"]
    assert not any(client.is_closed() for client in clients_made)


def test_load_a_builtin_by_name(fake_llm):
    assert fake_llm.load("rate-limited-then-ok") is fake_llm
    assert ask(fake_llm.openai(max_retries=2)) == "Thanks for waiting. Here is your answer."
    assert [(e.status, e.retry_count) for e in fake_llm.journal] == [(429, 0), (429, 1), (200, 2)]


def test_add_chains(fake_llm):
    assert fake_llm.add(reply("one")).add(reply("two"), reply("three")) is fake_llm
    client = fake_llm.openai()
    assert [ask(client) for _ in range(3)] == ["one", "two", "three"]


@pytest.mark.sparring(strict=False)
def test_reading_what_happened(fake_llm, sparring_server):
    assert fake_llm.exchange() == "no requests reached the fake server"
    fake_llm.add(rule(reply("Hello", times=2), model="gpt-4o"), rule(reply("for mini"), model="gpt-4o-mini"))
    client = fake_llm.openai(max_retries=0)
    assert ask(client) == "Hello"
    with pytest.raises(openai.NotFoundError, match="sparring"):
        ask(client, model="gpt-3.5-turbo")
    assert [e.index for e in fake_llm.unanswered()] == [1]
    assert fake_llm.unused() == [
        "rule 1 [model='gpt-4o'] reply 1: text 'Hello', 1 of 2 uses left",
        "rule 2 [model='gpt-4o-mini'] reply 1: text 'for mini', never used",
    ]
    lines = fake_llm.exchange().splitlines()
    assert [line.split(" · ")[0] for line in lines if line.startswith("#")] == [
        "#1 POST /v1/chat/completions -> 200",
        "#2 POST /v1/chat/completions -> 404",
    ]
    assert lines[3].startswith("    asked: POST /v1/chat/completions (model='gpt-3.5-turbo', stream=False, ")
    problems = fake_llm.problems()
    assert problems.startswith("sparring: 1 request had no scripted reply, and 2 scripted replies were never used.")
    assert (
        "    why no rule answered:"
        " rule 1 [model='gpt-4o'] (text 'Hello'): model is 'gpt-3.5-turbo', the rule wants 'gpt-4o';"
        " rule 2 [model='gpt-4o-mini'] (text 'for mini'): model is 'gpt-3.5-turbo', the rule wants 'gpt-4o-mini'\\n"
    ) in problems
    assert fake_llm.url == f"{sparring_server.url}/ns/{fake_llm.namespace}"
    assert fake_llm.base_url == f"{fake_llm.url}/v1"
"""


def test_fake_llm_helpers(pytester: pytest.Pytester) -> None:
    write(pytester, HELPERS)
    result = run(pytester)
    result.assert_outcomes(passed=4)


# -- the checks, failing as a user sees them --------------------------------------------------

CHECK_FAILURES = '''
import httpx
from sparring import error


async def leaky_chat(http, base_url, api_key):
    """Closes its response only after the loop: never on an early exit."""
    body = {"model": "gpt-4o", "messages": MESSAGES, "stream": True}
    request = http.build_request(
        "POST", base_url + "/chat/completions", json=body, headers={"Authorization": "Bearer " + api_key}
    )
    response = await http.send(request, stream=True)
    async for line in response.aiter_lines():
        if line.startswith("data: {"):
            yield line
    await response.aclose()


@pytest.mark.asyncio
async def test_cleanup_leak(fake_llm):
    async with httpx.AsyncClient() as http:
        await fake_llm.check_cleanup(
            lambda: leaky_chat(http, fake_llm.base_url, fake_llm.api_key), ways=["break"], bound=0.5
        )


def test_retry_too_soon(fake_llm):
    """A hand-written client that retries a 429 at once, not after the 2 s it was told."""
    fake_llm.add(error("rate_limit", retry_after_ms=2000), reply("late"))
    body = {"model": "gpt-4o", "messages": MESSAGES}
    with httpx.Client(headers={"Authorization": "Bearer " + fake_llm.api_key}) as http:
        statuses = [http.post(fake_llm.base_url + "/chat/completions", json=body).status_code for _ in range(2)]
    assert statuses == [429, 200]
    fake_llm.check_retries(attempts=2)
'''


def test_check_failures_read_well_in_the_report(pytester: pytest.Pytester) -> None:
    """A leaking client and an impatient one fail with messages that name the way out and the
    waits, and nothing of sparring's own frames (the failure is the message)."""
    write(pytester, CHECK_FAILURES)
    result = run(pytester)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*CleanupError: cleanup leaked on 1 of 1 way out:",
            "*- break: the server still had the connection open 0.5 s after the consumer left*",
            "*RetryCheckError: retry check failed:*",
            "*- attempt #2 retried #1 (429) after 0.0*s, but the server asked for 2.000s (retry-after-ms: 2000)",
        ]
    )
    assert "def check_retries(" not in result.stdout.str(), "sparring's frames are hidden"

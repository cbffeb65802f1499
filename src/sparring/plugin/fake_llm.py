"""`FakeLLM`: the fake server as one test sees it.

Each test gets a namespace of its own on the session's server, with URLs of its own
(`/ns/NAMESPACE/...`) and an API key routed to it, so it sees only its own scenario and
journal. On the plugin's own server, requests with any other key to the server's root also
land in the running test's namespace (one test runs at a time per process; xdist workers each
have their own server). On an external server (`--sparring-url`), shared by many processes, a
test's clients must use its `base_url` (or send its `api_key`).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from sparring.errors import ServerError
from sparring.fake_server.journal import Entry, dropped_from
from sparring.fake_server.miss import WHY
from sparring.fake_server.runner import FakeServer
from sparring.fake_server.store import ENDED
from sparring.plugin import clients
from sparring.plugin.backend import Backend, InProcess
from sparring.scenario.library import load_scenario
from sparring.scenario.model import Fallback, Reply, Rule, Scenario

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    import anthropic as anthropic_sdk  # `openai` and `anthropic` are also method names below
    import ollama as ollama_sdk
    import openai as openai_sdk
    from google import genai as genai_sdk

    from sparring.checks.cleanup import CleanupReport
    from sparring.checks.retries import RetryReport
    from sparring.plugin.examples import ScriptedExample


class FakeLLM:
    """The fake LLM server for one test: script it, point a client at it, read what it saw.

        def test_hello(fake_llm: FakeLLM) -> None:
            fake_llm.add(reply("Hello!"))
            client = fake_llm.openai()
            ...
            assert fake_llm.journal[0].outcome == "completed"

    Made by the `fake_llm` fixture; not meant to be constructed by hand.
    """

    __test__ = False

    def __init__(
        self,
        server: FakeServer | Backend,
        *,
        name: str,
        search: Sequence[Path] = (),
        fallback: Fallback = "miss",
    ) -> None:
        self._backend: Backend = InProcess(server) if isinstance(server, FakeServer) else server
        self.name = name
        self.namespace = f"test-{secrets.token_hex(6)}"
        #: The API key this test's clients should send; it routes their requests here.
        self.api_key = f"sk-sparring-{self.namespace}"
        self._search = tuple(search)
        self._clients: list[Any] = []
        self._env: pytest.MonkeyPatch | None = None
        self._final: tuple[list[Entry], list[str]] | None = None  # journal and unused, once closed
        self._async_example = False  # inside `async with self.example(...)`: its journal may not be final
        self._backend.create(self.namespace, fallback=fallback, api_key=self.api_key)

    def __repr__(self) -> str:
        state = "closed" if self._final is not None else f"{len(self.journal)} requests so far"
        return f"<FakeLLM {self.base_url} namespace={self.namespace} ({state})>"

    # -- where it is ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/ns/NAMESPACE/v1`: give it to any OpenAI-compatible client.
        A URL of this test's own, so clients that cache a connection per URL start afresh."""
        return f"{self.url}/v1"

    @property
    def url(self) -> str:
        """This test's root, `http://127.0.0.1:PORT/ns/NAMESPACE`: the anthropic SDK's base URL
        (it adds `/v1/messages`). The control API under it, `/_sparring/`, acts on this test."""
        return self._backend.api_root(self.namespace)

    # -- scripting --------------------------------------------------------------------------

    def add(self, *items: Rule | Reply) -> FakeLLM:
        """Script more replies (and rules), after those already scripted. Returns self."""
        self._backend.extend(self.namespace, Scenario.of(*items))
        return self

    def load(self, *scenarios: str | Path) -> FakeLLM:
        """Add scenario files, by path or by name (your `sparring_scenarios` folders first,
        then the built-in library). Returns self."""
        for spec in scenarios:
            self._backend.extend(self.namespace, load_scenario(spec, search=self._search))
        return self

    def reset(self, scenario: Scenario | None = None) -> FakeLLM:
        """Forget what was scripted and the journal, and script `scenario` instead, if given;
        the URLs, the API key and the clients pointed here stay. Returns self."""
        self._backend.reset(self.namespace)
        if scenario is not None:
            self._backend.extend(self.namespace, scenario)
        return self

    def example(self, *items: Scenario | Rule | Reply, strict: bool = True) -> ScriptedExample:
        """One hypothesis example on a fresh state: `with fake_llm.example(script): ...`, or
        `async with` in an async test (it then waits on the loop for the example's requests
        to end: call the invariants after the block).

        Resets the rules and the journal and scripts `items` (a scenario, or rules and replies);
        on a clean exit, with `strict`, fails the example on requests nothing answered and
        replies never used, as a strict test does. In the example hypothesis reports, it
        notes the scenario as YAML (a regression scenario to save) and the exchange."""
        from sparring.plugin.examples import ScriptedExample

        if len(items) == 1 and isinstance(items[0], Scenario):
            scenario = items[0]
        else:
            scenario, loose = Scenario(), list[Rule | Reply]()
            for item in items:
                if isinstance(item, Scenario):
                    scenario, loose = scenario + Scenario.of(*loose) + item, []
                else:
                    loose.append(item)
            scenario += Scenario.of(*loose)
        return ScriptedExample(self, scenario, strict=strict)

    @property
    def scenario(self) -> Scenario:
        """Everything scripted for this test so far, as one scenario."""
        return self._backend.scenario(self.namespace)

    # -- what it saw ------------------------------------------------------------------------

    @property
    def journal(self) -> list[Entry]:
        """Every request this test made, in order, and how each response went."""
        if self._final is not None:
            return list(self._final[0])
        return self._backend.journal(self.namespace)

    def wait_until(self, check: Callable[[list[Entry]], bool], *, timeout: float = 5.0) -> list[Entry]:
        """Wait (without sleeping blindly) until `check(journal)` holds, re-checked as each
        request ends: `fake_llm.wait_until(lambda j: j and j[-1].outcome == "client_disconnected")`.
        Returns the journal after at most `timeout` seconds; assert on it."""
        if self._final is not None:
            return list(self._final[0])
        return self._backend.wait_until(self.namespace, check, timeout)

    async def wait_for(self, check: Callable[[list[Entry]], bool], *, timeout: float = 5.0) -> list[Entry]:
        """`wait_until` for async tests: the same wait without blocking the event loop (under
        `@pytest.mark.sparring_virtual_time` the server runs on it, and `timeout` is virtual)."""
        waiting = getattr(self._backend, "wait_for", None)
        if waiting is not None:
            entries: list[Entry] = await waiting(self.namespace, check, timeout)
            return entries
        return await asyncio.to_thread(self.wait_until, check, timeout=timeout)

    def unused(self) -> list[str]:
        """Scripted replies (or uses of them) no request took; `optional` and `repeat` ones aside."""
        if self._final is not None:
            return list(self._final[1])
        return self._backend.unused(self.namespace)

    def unanswered(self) -> list[Entry]:
        """Requests nothing scripted answered (each got sparring's 404)."""
        return [e for e in self.journal if e.outcome == "unmatched"]

    def exchange(self) -> str:
        """The whole exchange, a line per request and what it asked: what a failing test's report shows."""
        entries = self.journal
        if not entries:
            return "no requests reached the fake server"
        lines = [f"{e.describe()}\n    asked: {e.asked}" if e.asked else e.describe() for e in entries]
        dropped = dropped_from(entries)
        if dropped:
            lines.insert(0, f"({dropped} earlier ended requests dropped: the journal keeps its newest entries)")
        return "\n".join(lines)

    # -- checks -----------------------------------------------------------------------------

    def check_retries(self, **expected: Any) -> RetryReport:
        """`sparring.check_retries` on this test's journal: attempts, spacing, statuses."""
        __tracebackhide__ = True  # pytest: the failure is the message, not this frame
        from sparring.checks.retries import check_retries

        return check_retries(self.journal, **expected)

    async def check_cleanup(self, stream: Callable[[], AsyncIterator[Any]], **options: Any) -> CleanupReport:
        """`sparring.check_cleanup` against this fake server: every way out of `stream()`."""
        __tracebackhide__ = True
        from sparring.checks.cleanup import check_cleanup

        return await check_cleanup(stream, self, **options)

    # -- clients ----------------------------------------------------------------------------

    def openai(self, **options: Any) -> openai_sdk.OpenAI:
        """An `openai.OpenAI` client pointed here, closed when the test ends."""
        self._refuse_sync()
        client = clients.openai_client(self.base_url, self.api_key, options)
        self._clients.append(client)
        return client

    def async_openai(self, **options: Any) -> openai_sdk.AsyncOpenAI:
        """An `openai.AsyncOpenAI` client pointed here. Close it on your event loop:
        `async with fake_llm.async_openai() as client: ...`."""
        return clients.async_openai_client(self.base_url, self.api_key, options)

    def azure_openai(self, **options: Any) -> openai_sdk.AzureOpenAI:
        """An `openai.AzureOpenAI` client pointed here (`azure_endpoint` is this test's `url`,
        `api_version` 2024-10-21 unless given), closed when the test ends. Pass
        `azure_deployment=` to fix the deployment; without it, each call's `model` is."""
        self._refuse_sync()
        client = clients.azure_openai_client(self.url, self.api_key, options)
        self._clients.append(client)
        return client

    def async_azure_openai(self, **options: Any) -> openai_sdk.AsyncAzureOpenAI:
        """An `openai.AsyncAzureOpenAI` client pointed here, as `azure_openai()`. Close it on
        your event loop: `async with fake_llm.async_azure_openai() as client: ...`."""
        return clients.async_azure_openai_client(self.url, self.api_key, options)

    def anthropic(self, **options: Any) -> anthropic_sdk.Anthropic:
        """An `anthropic.Anthropic` client pointed here, closed when the test ends."""
        self._refuse_sync()
        client = clients.anthropic_client(self.url, self.api_key, options)
        self._clients.append(client)
        return client

    @property
    def _on_test_loop(self) -> bool:
        """Whether the server runs on the test's event loop (virtual time, virtual.py)."""
        return bool(getattr(self._backend, "virtual", False))

    def _refuse_sync(self) -> None:
        if self._on_test_loop:
            from sparring.plugin.virtual import SYNC_REFUSED

            raise ServerError(SYNC_REFUSED)

    def async_anthropic(self, **options: Any) -> anthropic_sdk.AsyncAnthropic:
        """An `anthropic.AsyncAnthropic` client pointed here. Close it on your event loop."""
        return clients.async_anthropic_client(self.url, self.api_key, options)

    def ollama(self, **options: Any) -> ollama_sdk.Client:
        """An `ollama.Client` pointed here (`host=` this test's root), closed when the test
        ends. `options` go to the client (`timeout=`, `headers=`, any httpx option)."""
        self._refuse_sync()
        client = clients.ollama_client(self.url, options)
        self._clients.append(client)
        return client

    def async_ollama(self, **options: Any) -> ollama_sdk.AsyncClient:
        """An `ollama.AsyncClient` pointed here. Close it on your event loop:
        `async with fake_llm.async_ollama() as client: ...`."""
        return clients.async_ollama_client(self.url, options)

    def bedrock(self, **options: Any) -> Any:
        """A boto3 `bedrock-runtime` client pointed here (`endpoint_url` this test's root, a
        dummy secret, region us-east-1, botocore's standard retries with 3 attempts), closed
        when the test ends. `options` go to `Session.client` (`config=` is merged)."""
        self._refuse_sync()
        client = clients.bedrock_client(self.url, self.api_key, options)
        self._clients.append(client)
        return client

    def genai(self, **options: Any) -> genai_sdk.Client:
        """A `google.genai.Client` pointed here (`HttpOptions(base_url=` this test's root`)`),
        for the Gemini API; its `.aio` is the async client. Closed when the test ends.
        `options` go to `HttpOptions` (`api_version="v1beta"`, `retry_options=`, ...). On a
        virtual-time test use only `client.aio`: a sync call would block the server's loop."""
        client = clients.genai_client(self.url, self.api_key, options)
        self._clients.append(client)
        return client

    def patch_env(self) -> dict[str, str | None]:
        """Point clients that read the environment here (`OPENAI_BASE_URL`, `OPENAI_API_KEY`,
        `ANTHROPIC_BASE_URL`, ...) until the test ends. Returns what it set (`None`: unset)."""
        if self._final is not None:
            raise RuntimeError("fake_llm.patch_env() after the test ended: nothing would undo it")
        if self._env is None:
            self._env = pytest.MonkeyPatch()
        values = clients.environment(self.base_url, self.url, self.api_key)
        for name, value in values.items():
            if value is None:
                self._env.delenv(name, raising=False)
            else:
                self._env.setenv(name, value)
        return values

    # -- the end ----------------------------------------------------------------------------

    def problems(self) -> str | None:
        """What a strict test fails on: requests nothing answered, callbacks that raised or
        returned no reply, replies never used."""
        unanswered, unused = self.unanswered(), self.unused()
        failed = [e for e in self.journal if e.outcome == "callback_error"]
        broken = [e for e in self.journal if e.outcome == "scenario_error"]
        if not unanswered and not unused and not failed and not broken:
            return None
        lines = ["sparring: " + _headline(len(unanswered), len(failed), len(unused), len(broken))]
        if unanswered:
            lines.append("Requests nothing answered:")
            for entry in unanswered:
                lines.append(f"  {_request(entry)}")
                why = (entry.detail or "").partition(WHY)[2].removesuffix(".")
                if why:  # the miss message's reasons, one per rule
                    lines.append(f"    why no rule answered: {why}")
        if failed:
            lines.append("Callbacks that failed (the client got a 500):")
            lines.extend(f"  {_request(e)}: {(e.detail or '').removeprefix('sparring: ')}" for e in failed)
        if broken:
            lines.append("Rules that could not be matched (the client got a 500):")
            lines.extend(f"  {_request(e)}: {(e.detail or '').removeprefix('sparring: ')}" for e in broken)
        if unused:
            lines.append("Scripted replies never used:")
            lines.extend(f"  {u}" for u in unused)
        lines.append(
            "Script what is missing with fake_llm.add(...), mark spare replies optional=True, "
            "or use @pytest.mark.sparring(strict=False)."
        )
        return "\n".join(lines)

    def close(self) -> None:
        """Keep the journal, free the namespace, end whatever is still streaming."""
        if self._final is not None:
            return
        if self._env is not None:
            self._env.undo()
        for client in self._clients:
            client.close()
        self._final = self._backend.drop(self.namespace)


def _headline(unanswered: int, failed: int, unused: int, broken: int = 0) -> str:
    parts = []
    if unanswered:
        parts.append(f"{unanswered} request{'s' if unanswered > 1 else ''} had no scripted reply")
    if failed:
        parts.append(f"{failed} callback{'s' if failed > 1 else ''} failed")
    if broken:
        parts.append(f"{broken} request{'s' if broken > 1 else ''} met a rule that could not be matched")
    if unused:
        parts.append(f"{unused} scripted repl{'ies were' if unused > 1 else 'y was'} never used")
    return ", and ".join(parts) + "."


def _request(entry: Entry) -> str:
    """`#1 POST /v1/chat/completions (model='gpt-4o', ...)`: the description the server recorded
    (`Entry.asked`, what the miss message says too); method and path for a request it could not
    read."""
    said = f"#{entry.index + 1} {entry.asked or f'{entry.method} {entry.path}'}"
    if entry.answered_by and entry.answered_by.startswith(ENDED):  # a client kept from an earlier test
        said += f", sent to {entry.answered_by[len(ENDED) + 2 :]}, the namespace of a test that is over"
    return said

"""Where `fake_llm` keeps a test's namespace: the plugin's own server, in this process, or an
external `sparring serve` driven over the control API (`sparring.plugin.remote`).

`FakeLLM` talks only to a `Backend`, so both behave the same to a test.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from sparring.fake_server.context import NAMESPACE_PREFIX
from sparring.fake_server.journal import Entry
from sparring.fake_server.runner import FakeServer
from sparring.fake_server.store import DEFAULT_NAMESPACE
from sparring.scenario.model import Fallback, Scenario

if TYPE_CHECKING:
    from sparring.fake_server.upstream import Passthrough


class Backend(Protocol):
    """The server as `FakeLLM` uses it: one namespace per test, scripted and read by name."""

    @property
    def url(self) -> str:
        """The server's root: the control API lives under `/_sparring/`."""
        ...

    def api_root(self, namespace: str) -> str:
        """The root a namespace's clients use (the Anthropic SDK's base URL; `/v1` is added for OpenAI's)."""
        ...

    def create(self, namespace: str, *, fallback: Fallback, api_key: str) -> None:
        """Start the namespace empty, its requests routed by `api_key`."""
        ...

    def extend(self, namespace: str, scenario: Scenario) -> None: ...

    def reset(self, namespace: str) -> None:
        """Forget the namespace's rules and journal; its starting fallback comes back."""
        ...

    def scenario(self, namespace: str) -> Scenario: ...

    def journal(self, namespace: str) -> list[Entry]: ...

    def wait_until(self, namespace: str, check: Callable[[list[Entry]], bool], timeout: float) -> list[Entry]: ...

    def unused(self, namespace: str) -> list[str]: ...

    def drop(self, namespace: str) -> tuple[list[Entry], list[str]]:
        """End the namespace and its requests under way; its journal once they have ended, and
        its unused replies."""
        ...


class InProcess:
    """The plugin's own server, one per session (per xdist worker): the store, read directly.

    One test runs at a time per process, so requests with any API key land in the running
    test's namespace (the server's default while it runs)."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    def api_root(self, namespace: str) -> str:
        return f"{self.server.url}{NAMESPACE_PREFIX}/{namespace}"

    def create(self, namespace: str, *, fallback: Fallback, api_key: str) -> None:
        store = self.server.store
        store.set_scenario(Scenario(fallback=fallback), namespace)
        store.route(api_key, namespace)
        store.default = namespace

    def extend(self, namespace: str, scenario: Scenario) -> None:
        self.server.store.extend(scenario, namespace)

    def reset(self, namespace: str) -> None:
        self.server.store.reset(namespace)

    def passthrough(self, namespace: str, passthrough: Passthrough) -> None:
        """Send the namespace's requests upstream (all, or those nothing answers): a cassette recording."""
        self.server.store.space(namespace).passthrough = passthrough

    def scenario(self, namespace: str) -> Scenario:
        return self.server.store.space(namespace).scenario

    def journal(self, namespace: str) -> list[Entry]:
        return self.server.journal(namespace)

    def wait_until(self, namespace: str, check: Callable[[list[Entry]], bool], timeout: float) -> list[Entry]:
        return self.server.wait_until(check, timeout=timeout, namespace=namespace)

    def unused(self, namespace: str) -> list[str]:
        return self.server.store.unused(namespace)

    def drop(self, namespace: str) -> tuple[list[Entry], list[str]]:
        unused = self.server.store.unused(namespace)
        entries = self.server.drop_namespace(namespace)  # read once the drop has ended them
        self.server.store.default = DEFAULT_NAMESPACE
        return entries, unused

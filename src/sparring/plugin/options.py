"""Settings: per test from `@pytest.mark.sparring(...)`, per session from `--sparring-*`
options paired with `sparring_*` ini keys (the command line wins).

The external server's URL can also come from `SPARRING_URL`, and that beats the ini key: the
ini file is shared by everyone who checks the project out, the environment belongs to the
machine or CI job running it (a CI service's address), so the more specific one wins. An
empty `--sparring-url=` forces the plugin's own server whatever the ini and environment say.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sparring.errors import closest
from sparring.plugin.cassette import CassetteSettings, add_cassette_options, read_cassette_settings

if TYPE_CHECKING:
    import pytest

Report = Literal["failed", "always", "never"]
REPORT_CHOICES: tuple[str, ...] = ("failed", "always", "never")
BOOLEANS = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}


@dataclass(frozen=True, kw_only=True)
class TestOptions:
    """What `@pytest.mark.sparring(...)` can say about one test.

    `scenario` preloads scenario files or built-in names; `fallback="default"` answers
    requests nothing scripted with generated text instead of failing them; `strict=False`
    lets scripted replies go unused and unanswered requests pass at teardown.
    """

    __test__ = False

    scenario: str | Sequence[str] = ()
    fallback: Literal["miss", "default"] = "miss"
    strict: bool | None = None  # None: the session setting

    @property
    def scenarios(self) -> tuple[str, ...]:
        return (self.scenario,) if isinstance(self.scenario, str) else tuple(self.scenario)


def test_options(node: pytest.Item) -> TestOptions:
    """The closest `sparring` marker's keywords; a misspelled one fails with a short TypeError."""
    __tracebackhide__ = True
    marker = node.get_closest_marker("sparring")
    if marker is None:
        return TestOptions()
    if marker.args:
        raise TypeError("@pytest.mark.sparring takes keyword arguments only, e.g. sparring(scenario='plain-stream')")
    allowed = [f.name for f in dataclasses.fields(TestOptions)]
    for key in marker.kwargs:
        if key not in allowed:
            hint = closest(key, allowed)
            suggestion = f"; did you mean {hint!r}?" if hint else ""
            raise TypeError(
                f"@pytest.mark.sparring got an unknown option {key!r}{suggestion} (options: {', '.join(allowed)})"
            )
    options = TestOptions(**marker.kwargs)
    if options.fallback not in ("miss", "default"):
        raise TypeError(f"@pytest.mark.sparring(fallback=...) must be 'miss' or 'default', got {options.fallback!r}")
    if options.strict is not None and not isinstance(options.strict, bool):
        kind = type(options.strict).__name__
        raise TypeError(f"@pytest.mark.sparring(strict=...) must be True or False, got {options.strict!r} ({kind})")
    names = [options.scenario] if isinstance(options.scenario, str) else options.scenario
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise TypeError(
            "@pytest.mark.sparring(scenario=...) must be a scenario name or path, or a list of them, "
            f"got {options.scenario!r} ({type(options.scenario).__name__})"
        )
    return options


@dataclass(frozen=True)
class Settings:
    """Session-wide settings, shown in the report header."""

    strict: bool = True
    report: Report = "failed"
    scenario_dirs: tuple[Path, ...] = field(default=())
    url: str | None = None  # an external server's; None: the plugin's own
    url_from: str = ""  # where `url` was given, for error messages
    redact: tuple[str, ...] = ()  # header names the plugin's own server journals redacted
    cassettes: CassetteSettings = field(default_factory=CassetteSettings)

    def header(self) -> str:
        dirs = ", ".join(str(d) for d in self.scenario_dirs) or "-"
        return f"strict={str(self.strict).lower()}, report={self.report}, scenario dirs={dirs}"


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("sparring", "sparring: a fake LLM server for streaming clients")
    group.addoption(
        "--sparring-strict",
        dest="sparring_strict",
        metavar="BOOL",
        help="fail tests that leave scripted replies unused or send requests nothing answers (default: true)",
    )
    group.addoption(
        "--sparring-report",
        dest="sparring_report",
        metavar="WHEN",
        help="when to add the exchange with the fake server to a test's report: failed, always, never",
    )
    group.addoption(
        "--sparring-scenarios",
        dest="sparring_scenarios",
        metavar="DIR",
        action="append",
        help="a directory of scenario files, loadable by name (repeatable)",
    )
    group.addoption(
        "--sparring-url",
        dest="sparring_url",
        metavar="URL",
        help="drive a running `sparring serve` at URL (e.g. http://127.0.0.1:8000) instead of the plugin's own "
        "server; also the sparring_url ini key and the SPARRING_URL environment variable. An empty URL forces "
        "the plugin's own server",
    )
    group.addoption(
        "--sparring-redact",
        dest="sparring_redact",
        metavar="HEADER",
        action="append",
        help="journal this request header redacted, beside the known credential headers (repeatable)",
    )
    parser.addini("sparring_strict", "like --sparring-strict", default="true")
    parser.addini("sparring_url", "like --sparring-url (SPARRING_URL in the environment wins over it)", default="")
    parser.addini("sparring_report", "like --sparring-report", default="failed")
    parser.addini("sparring_scenarios", "like --sparring-scenarios (one directory per line)", type="paths", default=[])
    parser.addini("sparring_redact", "like --sparring-redact (one header name per line)", type="linelist", default=[])
    add_cassette_options(parser)


def read_settings(config: pytest.Config) -> Settings:
    import pytest

    strict_text = config.getoption("sparring_strict") or config.getini("sparring_strict")
    strict = BOOLEANS.get(str(strict_text).strip().lower())
    if strict is None:
        raise pytest.UsageError(f"sparring_strict must be true or false, not {strict_text!r}")
    report = str(config.getoption("sparring_report") or config.getini("sparring_report")).strip()
    if report not in REPORT_CHOICES:
        raise pytest.UsageError(f"sparring_report must be one of {', '.join(REPORT_CHOICES)}, not {report!r}")
    given = config.getoption("sparring_scenarios")
    dirs = [Path(d) for d in given] if given else [Path(p) for p in config.getini("sparring_scenarios")]
    for folder in dirs:
        if not folder.is_dir():
            raise pytest.UsageError(f"sparring_scenarios: {folder} is not a directory")
    url, url_from = external_url(config)
    from sparring.fake_server.security import header_names

    redact = config.getoption("sparring_redact") or config.getini("sparring_redact")
    try:
        header_names(redact)
    except ValueError as exc:
        raise pytest.UsageError(f"sparring_{exc}") from None
    return Settings(
        strict=strict,
        report=report,  # type: ignore[arg-type]
        scenario_dirs=tuple(d.resolve() for d in dirs),
        url=url,
        url_from=url_from,
        redact=tuple(redact),
        cassettes=read_cassette_settings(config),
    )


def external_url(config: pytest.Config) -> tuple[str | None, str]:
    """The external server's URL and where it was given: the command line, else
    `SPARRING_URL`, else the ini key. None: the plugin's own server."""
    given = config.getoption("sparring_url")
    if given is not None:
        return (given.strip() or None), "--sparring-url"
    env = os.environ.get("SPARRING_URL", "").strip()
    if env:
        return env, "SPARRING_URL"
    ini = str(config.getini("sparring_url")).strip()
    return (ini or None), "the sparring_url ini key"

"""Cassettes: one scenario file per test, recorded from a real upstream once and replayed after.

Record modes, in the spirit of pytest-recording (vcrpy's modes):

- `none` (the default, what CI runs): replay only. A request no recorded rule answers gets
  sparring's miss, and strict teardown fails the test.
- `once`: record when the test's file does not exist yet, else replay only, as `none`.
- `new_episodes`: replay what is recorded; requests nothing answers go upstream and are
  appended to the file.
- `all`: every request goes upstream; the file is rewritten with what this run recorded.

Only tests marked `@pytest.mark.sparring_cassette(...)` (or under a class or module so marked)
use a cassette. The mode and the upstream come from the command line, else the marker, else
the ini file: the command line is what the person running now asked for, so CI's
`--sparring-record-mode=none` keeps every test off the network and `=all` re-records every one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from sparring.errors import closest

if TYPE_CHECKING:
    import pytest

Mode = Literal["none", "once", "new_episodes", "all"]
RECORD_MODES: tuple[str, ...] = ("none", "once", "new_episodes", "all")
MARKER = "sparring_cassette"
MARKER_HELP = (
    "sparring_cassette(name=None, path=None, mode=None, upstream=None, redact=(), match_on=None): "
    "replay this test's fake_llm from its cassette file, or record it from an upstream"
)
SUFFIX = ".yaml"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+\[\]-]")  # what some file system refuses, or a shell trips on
_LONGEST = 150  # characters of a file name before it is cut (most file systems allow 255 bytes)


@dataclass(frozen=True)
class CassetteSettings:
    """The session's cassette settings (command line and ini file)."""

    mode: str | None = None  # the command line's; wins over the marker
    ini_mode: str = "none"
    upstream: str | None = None  # the command line's
    ini_upstream: str | None = None
    directory: Path | None = None  # None: `cassettes/` beside each test module

    def header(self) -> str:
        mode = self.mode or self.ini_mode
        upstream = self.upstream or self.ini_upstream or "-"
        where = str(self.directory) if self.directory else "cassettes/ beside each test module"
        return f"record mode={mode}, upstream={upstream}, cassette dir={where}"


@dataclass(frozen=True, kw_only=True)
class CassetteOptions:
    """What `@pytest.mark.sparring_cassette(...)` says about one test.

    `name`: the file's name in the cassette directory; `path`: the file itself (relative to the
    test module's directory). `mode` and `upstream` as the options of the same names. `redact`:
    more header names and JSON body paths the recorder writes redacted; `match_on`: which parts
    of a request the recorded rule matches (the recorder's default when not given).
    """

    name: str | None = None
    path: str | Path | None = None
    mode: str | None = None
    upstream: str | None = None
    redact: Sequence[str] = ()
    match_on: Sequence[str] | None = None


@dataclass(frozen=True)
class Plan:
    """One test's cassette: where it is, what to do with it, and why (for messages)."""

    path: Path
    mode: Mode
    mode_from: str
    upstream: str | None
    redact: tuple[str, ...]
    match_on: tuple[str, ...] | None
    existed: bool  # whether the file was there when the test started

    @property
    def records(self) -> bool:
        """Whether requests may go upstream in this run."""
        return self.mode in ("new_episodes", "all") or (self.mode == "once" and not self.existed)

    @property
    def replays(self) -> bool:
        """Whether the recorded file is loaded as the test's scenario."""
        return self.mode != "all" and self.existed


# -- options ---------------------------------------------------------------------------------


def add_cassette_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("sparring")
    group.addoption(
        "--sparring-record-mode",
        dest="sparring_record_mode",
        metavar="MODE",
        help="cassettes of tests marked sparring_cassette: none (replay only, the default), once, new_episodes, "
        "all. Wins over the marker's mode",
    )
    group.addoption(
        "--sparring-upstream",
        dest="sparring_upstream",
        metavar="URL",
        help="the real API that record modes send requests to, e.g. https://api.openai.com",
    )
    group.addoption(
        "--sparring-cassette-dir",
        dest="sparring_cassette_dir",
        metavar="DIR",
        help="keep cassettes in DIR/<test module>/<test>.yaml (default: cassettes/ beside each test module)",
    )
    parser.addini("sparring_record_mode", "like --sparring-record-mode (the marker's mode wins over it)", default="")
    parser.addini("sparring_upstream", "like --sparring-upstream", default="")
    parser.addini("sparring_cassette_dir", "like --sparring-cassette-dir", type="paths", default=[])


def read_cassette_settings(config: pytest.Config) -> CassetteSettings:
    import pytest

    mode = (config.getoption("sparring_record_mode") or "").strip() or None
    ini_mode = str(config.getini("sparring_record_mode")).strip() or "none"
    for value, where in ((mode, "--sparring-record-mode"), (ini_mode, "sparring_record_mode")):
        if value is not None and value not in RECORD_MODES:
            raise pytest.UsageError(f"{where}: {_not_a_mode(value)}")
    upstream = (config.getoption("sparring_upstream") or "").strip() or None
    ini_upstream = str(config.getini("sparring_upstream")).strip() or None
    for url, where in ((upstream, "--sparring-upstream"), (ini_upstream, "sparring_upstream")):
        problem = _url_problem(url) if url else None
        if problem:
            raise pytest.UsageError(f"{where}: {problem}")
    given = config.getoption("sparring_cassette_dir")
    ini_dirs = config.getini("sparring_cassette_dir")
    directory = Path(given).resolve() if given else (Path(ini_dirs[0]).resolve() if ini_dirs else None)
    return CassetteSettings(mode, ini_mode, upstream, ini_upstream, directory)


def _not_a_mode(value: str) -> str:
    hint = closest(value, RECORD_MODES)
    suggestion = f"; did you mean {hint!r}?" if hint else ""
    return f"{value!r} is not a record mode{suggestion} (modes: {', '.join(RECORD_MODES)})"


def _url_problem(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"not an http(s) URL: {url!r} (expected e.g. https://api.openai.com)"
    return None


# -- one test --------------------------------------------------------------------------------


def cassette_options(node: pytest.Item) -> CassetteOptions | None:
    """The closest `sparring_cassette` marker's keywords; None when the test has none. A
    mistake fails with a short TypeError."""
    __tracebackhide__ = True
    marker = node.get_closest_marker(MARKER)
    if marker is None:
        return None
    if marker.args:
        raise TypeError(f"@pytest.mark.{MARKER} takes keyword arguments only, e.g. {MARKER}(mode='once')")
    allowed = [f.name for f in dataclasses.fields(CassetteOptions)]
    for key in marker.kwargs:
        if key not in allowed:
            hint = closest(key, allowed)
            suggestion = f"; did you mean {hint!r}?" if hint else ""
            raise TypeError(
                f"@pytest.mark.{MARKER} got an unknown option {key!r}{suggestion} (options: {', '.join(allowed)})"
            )
    options = CassetteOptions(**marker.kwargs)
    if options.name is not None and options.path is not None:
        raise TypeError(f"@pytest.mark.{MARKER}: give name (in the cassette directory) or path (a file), not both")
    for key in ("name", "mode", "upstream"):
        value = getattr(options, key)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"@pytest.mark.{MARKER}({key}=...) must be a string, got {value!r}")
    if options.path is not None and not isinstance(options.path, (str, Path)):
        raise TypeError(f"@pytest.mark.{MARKER}(path=...) must be a path, got {options.path!r}")
    if options.mode is not None and options.mode not in RECORD_MODES:
        raise TypeError(f"@pytest.mark.{MARKER}(mode=...): {_not_a_mode(options.mode)}")
    if options.upstream is not None and (problem := _url_problem(options.upstream)):
        raise TypeError(f"@pytest.mark.{MARKER}(upstream=...): {problem}")
    for key in ("redact", "match_on"):
        value = getattr(options, key)
        if value is not None and (isinstance(value, str) or not all(isinstance(v, str) for v in value)):
            raise TypeError(f"@pytest.mark.{MARKER}({key}=...) must be a list of strings, got {value!r}")
    return options


def plan(
    node: pytest.Item, options: CassetteOptions, settings: CassetteSettings, *, redact: Sequence[str] = ()
) -> Plan:
    """Where the test's cassette is and what this run does with it; `redact`: the session's
    header names (`--sparring-redact`), redacted in the cassette too."""
    if settings.mode is not None:
        mode, mode_from = settings.mode, "--sparring-record-mode"
    elif options.mode is not None:
        mode, mode_from = options.mode, f"@pytest.mark.{MARKER}(mode=...)"
    else:
        mode, mode_from = settings.ini_mode, "the sparring_record_mode ini key (default none)"
    upstream = settings.upstream or options.upstream or settings.ini_upstream
    path = cassette_path(node, options, settings.directory)
    return Plan(
        path=path,
        mode=mode,  # type: ignore[arg-type]  # checked against RECORD_MODES where it was read
        mode_from=mode_from,
        upstream=upstream,
        redact=(*redact, *options.redact),
        match_on=None if options.match_on is None else tuple(options.match_on),
        existed=path.is_file(),
    )


def cassette_path(node: pytest.Item, options: CassetteOptions, directory: Path | None) -> Path:
    """`<dir>/<test module>/<test name>.yaml`, `<dir>` being `cassettes/` beside the module
    unless chosen; the marker's `path` (relative to the module's directory) or `name` instead."""
    here = Path(node.path).parent
    if options.path is not None:
        return (here / options.path).resolve()
    folder = (directory or here / "cassettes") / Path(node.path).stem
    if options.name is not None:
        name = options.name if Path(options.name).suffix else options.name + SUFFIX
        return (folder / name).resolve()
    cls = getattr(node, "cls", None)
    test = f"{cls.__name__}.{node.name}" if cls is not None else node.name
    return (folder / (file_safe(test) + SUFFIX)).resolve()


def file_safe(name: str) -> str:
    """`name` as a file name on any system: characters outside `A-Z a-z 0-9 _ . , = + [ ] -`
    become `_`. A name so changed, or cut for length, gets a short hash of the original, so
    two parametrized ids never share a file (`[a b]` and `[a_b]`)."""
    safe = _UNSAFE.sub("_", name)
    if safe == name and len(safe) <= _LONGEST:
        return safe
    digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe[:_LONGEST]}-{digest}"

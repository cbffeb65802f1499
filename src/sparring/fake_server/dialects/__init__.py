"""One module per API wire format; each renders the same content its own way.

`DIALECTS` holds one instance of each, in the order of the registry (`sparring.apis`), which
names each class as `"module:Class"`: adding an API is a module here and an entry there.
`find` says which dialect answers a path, and what the path's `{name}` parts matched.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from sparring.apis import APIS, Api, path_regex

if TYPE_CHECKING:
    from sparring.fake_server.dialects.base import Dialect

NO_PARAMS: Mapping[str, str] = MappingProxyType({})


def load(api: Api) -> Dialect:
    """An instance of the API's dialect, checked against its entry."""
    module, _, name = api.dialect.partition(":")
    cls = getattr(importlib.import_module(module), name)
    dialect: Dialect = cls()
    if (dialect.name, dialect.path) != (api.endpoint, api.path):
        raise RuntimeError(
            f"sparring.apis lists {api.dialect} as {api.endpoint!r} at {api.path}, but the class says"
            f" {dialect.name!r} at {dialect.path}"
        )
    return dialect


DIALECTS: tuple[Dialect, ...] = tuple(load(api) for api in APIS)

# Fixed paths, looked up first: the existing APIs' requests cost one dict lookup, as before.
BY_PATH: dict[str, Dialect] = {d.path: d for d in DIALECTS if "{" not in d.path}
# Patterns, tried in the registry's order only for a path that is none of the fixed ones.
_PATTERNS: tuple[tuple[re.Pattern[str], Dialect], ...] = tuple(
    (path_regex(d.path), d) for d in DIALECTS if "{" in d.path
)


def find(path: str) -> tuple[Dialect, Mapping[str, str]] | None:
    """The dialect whose route `path` (without a `/ns/NAME` prefix) is, and the values of its
    route's `{name}` parts; `None` for a path that is no API's."""
    dialect = BY_PATH.get(path)
    if dialect is not None:
        return dialect, NO_PARAMS
    return by_pattern(path)


def by_pattern(path: str) -> tuple[Dialect, Mapping[str, str]] | None:
    """`find` among the patterns only."""
    for regex, dialect in _PATTERNS:
        found = regex.fullmatch(path)
        if found is not None:
            return dialect, MappingProxyType(found.groupdict())
    return None

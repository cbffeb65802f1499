"""One module per API wire format; each renders the same content its own way.

`DIALECTS` holds one instance of each, in the order of the registry (`sparring.apis`), which
names each class as `"module:Class"`: adding an API is a module here and an entry there.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sparring.apis import APIS, Api

if TYPE_CHECKING:
    from sparring.fake_server.dialects.base import Dialect


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

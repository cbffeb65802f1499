"""The pytest plugin, registered through the `pytest11` entry point.

Kept cheap on purpose: installing sparring must not slow down test runs that never use it,
so nothing heavy is imported until a fixture asks for it.
"""

from __future__ import annotations

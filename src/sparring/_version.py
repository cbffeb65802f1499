"""The version, in a module of its own: the server and the CLI read it without the root package."""

__version__ = "0.1.0"

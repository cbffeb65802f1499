"""The fake OpenAI-compatible server: app, dialects, playback, journal, control API, runner."""

from sparring.fake_server.journal import Chunk, Entry
from sparring.fake_server.runner import FakeServer, serve

__all__ = ["Chunk", "Entry", "FakeServer", "serve"]

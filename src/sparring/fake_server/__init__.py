"""The fake OpenAI-compatible server: app, dialects, playback, journal, control API, runner.

Nothing is imported here: the public names live in `sparring`, and importing a light module
of this package (the journal, redaction) must not load aiohttp and the server with it.
"""

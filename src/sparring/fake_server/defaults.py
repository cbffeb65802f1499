"""The server's default limits, in a module that imports nothing: the CLI shows them in
`--help` without loading aiohttp and the server."""

HEADER_TIMEOUT = 10.0  # a real client sends its request head in the packet after connecting
IDLE_TIMEOUT = 75.0  # longer than any client pool keeps an idle connection (httpx: 5 s)
JOURNAL_LIMIT = 1_000  # entries a namespace keeps by default: more than a test makes (docs: Limits)

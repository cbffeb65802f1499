"""What a server does to give memory back (sparring.fake_server.memory): it trims the C heap
when it goes quiet after serving, or after a batch of journal entries was let go; and the
trim gives back the holes a burst of requests leaves in the heap, which glibc keeps.
"""

from __future__ import annotations

import asyncio
import json
import platform
import urllib.error
import urllib.request

import pytest

from sparring import FakeServer
from sparring.fake_server import memory

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator")


async def trims_after(looks: int, work: object, trimmer: memory.Trimmer) -> int:
    """Trims `trimmer` makes over `looks` looks, `work()` run before each."""
    before = trimmer.trims
    for _ in range(looks):
        work()  # type: ignore[operator]
        trimmer.look()
        trimmer.stop()  # the looks are this test's, not a timer's
    return trimmer.trims - before


@glibc
def test_trims_when_quiet_after_serving_and_after_a_batch_let_go() -> None:
    async def main() -> None:
        trimmer = memory.Trimmer(every=60)
        # Busy: a request ends between every two looks, and few entries are let go: no trim.
        assert await trims_after(5, memory.served, trimmer) == 0
        # Then quiet: one trim, and none more while nothing happens.
        assert await trims_after(3, lambda: None, trimmer) == 1
        # Busy, with a journal letting go of a batch of entries: a trim per batch.
        work = lambda: (memory.served(), memory.let_go(memory.TRIM_BATCH // 2))  # noqa: E731
        assert await trims_after(4, work, trimmer) == 2

    asyncio.run(main())


def post(url: str) -> None:
    """One chat request; its status does not matter (a FakeServer with no scenario answers 404)."""
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    request = urllib.request.Request(f"{url}/chat/completions", body, {"content-type": "application/json"})
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as exc:
        exc.close()


def test_a_journal_past_its_limit_and_a_dropped_namespace_count_as_let_go() -> None:
    with FakeServer(journal_limit=2) as server:
        before = memory.FREED.let_go
        for _ in range(5):
            post(server.base_url)
        server.wait_until(lambda j: len(j) == 2 and all(e.outcome for e in j), timeout=10)
        assert memory.FREED.let_go - before == 3  # 5 requests in a journal of 2
        server.drop_namespace("default")
        assert memory.FREED.let_go - before == 5


HOLES = """
from sparring.fake_server import memory

def rss():
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:")) // 1024

blocks = [bytearray(4000) for _ in range(20_000)]  # 80 MB from glibc's heap (over pymalloc's 512 bytes)
kept = blocks[::50]  # one in 50 lives on, as a journal entry does among a burst's garbage
del blocks
before = rss()
memory.trim()
print(before - rss())
"""


@glibc
@pytest.mark.timeout(60)  # an interpreter start and 80 MB of allocations: a second or two
def test_a_trim_gives_back_the_holes_glibc_keeps() -> None:
    """What the trimmer does: 78 MB freed between blocks that live on stay with the process
    (glibc gives back only the top of its heap), until a trim."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", HOLES], capture_output=True, text=True, check=True)
    assert int(run.stdout) > 40  # MiB given back, of about 76

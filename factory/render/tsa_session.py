"""One event loop and one kept-alive HTTP session per process, for the seal's timestamps.

pyHanko's synchronous ``sign_pdf`` runs every signature in an event loop of its own, and its
``HTTPTimeStamper`` without a session opens (and closes) an aiohttp session, so a TCP
connection, for every timestamp. Measured on loopback (bench/bench_seal.py's TSA, 2026-12-01,
a loaded 2-core machine): 634 ms per timestamp that way, 220 ms with one loop and one session
kept for the process. `KeptAlive` is that loop (a daemon thread) and that session; `Sealer` runs
``async_sign_pdf`` on it. It is rebuilt in a forked child (a loop thread does not survive a
fork) and closed at exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import threading
from collections.abc import Coroutine
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

T = TypeVar("T")


class KeptAlive:
    """A process's event loop thread and aiohttp session, started on first use."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self._lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.session: Any = None

    def _start(self) -> None:
        # pyhanko-certvalidator's lazy session: aiohttp with the certifi CA bundle, the
        # session pyHanko would otherwise open for each timestamp
        from pyhanko_certvalidator.fetchers.aiohttp_fetchers.util import LazySession

        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="seal-tsa", daemon=True).start()

        async def make() -> Any:
            return LazySession().get_session()  # type: ignore[no-untyped-call]

        self.session = asyncio.run_coroutine_threadsafe(make(), loop).result(30)
        self.loop, self._pid = loop, os.getpid()
        atexit.register(self.close)

    def ready(self) -> Any:
        """The session (started, or started again in a forked child)."""
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            return self.session

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run ``coroutine`` on the loop and wait for it; `TimeoutError` after ``timeout``."""
        self.ready()
        assert self.loop is not None
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except FutureTimeout:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout:.0f} s") from None

    def close(self) -> None:
        loop, session = self.loop, self.session
        if loop is None or self._pid != os.getpid() or loop.is_closed():
            return
        with contextlib.suppress(Exception):  # best effort at exit: the process is ending
            asyncio.run_coroutine_threadsafe(session.close(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        self.loop = None

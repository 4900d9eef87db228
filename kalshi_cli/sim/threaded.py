"""``ThreadedSim``: a SimServer on its own event loop in a background thread.

Lets synchronous tests (and tests that spawn the CLI as a subprocess) use the simulator;
every call crosses into the server's loop, so the server itself stays single-threaded.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from concurrent.futures import Future
from typing import Any

from .server import SimServer


class ThreadedSim:
    """``with ThreadedSim(rate=0) as sim: sim.url; sim.step(5); sim.sent_frames(-1)``.

    Any SimServer method or attribute is reachable as ``sim.name`` (methods run on the server
    loop and return their result; coroutine methods are awaited there).
    """

    def __init__(self, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.server: SimServer | None = None
        self.url = ""

    def start(self, timeout: float = 10.0) -> str:
        ready: Future[str] = Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                self.server = SimServer(**self._kwargs)
                ready.set_result(loop.run_until_complete(self.server.start()))
            except BaseException as exc:  # surface start-up errors in the caller's thread
                ready.set_exception(exc)
                loop.close()
                return
            loop.run_forever()
            loop.run_until_complete(self.server.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="kalshi-sim", daemon=True)
        self._thread.start()
        self.url = ready.result(timeout)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._loop = self._thread = None

    def __enter__(self) -> ThreadedSim:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def call(self, name: str, *args: Any, timeout: float = 30.0, **kwargs: Any) -> Any:
        """Run ``server.<name>(*args, **kwargs)`` (or read the attribute) on the server loop."""
        if self._loop is None or self.server is None:
            raise RuntimeError("ThreadedSim is not running")
        server = self.server

        async def invoke() -> Any:
            target = getattr(server, name)
            if not callable(target):
                return target
            result = target(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return asyncio.run_coroutine_threadsafe(invoke(), self._loop).result(timeout)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or self.__dict__.get("server") is None:
            raise AttributeError(name)
        if callable(getattr(type(self.server), name, None)):
            return lambda *args, **kwargs: self.call(name, *args, **kwargs)
        return self.call(name)

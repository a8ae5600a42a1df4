"""Runs the real bot Application against the loopback fake Bot API, in a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from bot.config import load_config
from bot.matcher import Matcher
from bot.store import Store
from bot.tg.app import build_application
from bot.tg.delivery import serve

from .fake_bot_api import FakeBotAPI


class BotRunner:
    """Starts build_application()'s Application polling the fake; stop() shuts it down cleanly."""

    def __init__(self, fake: FakeBotAPI, matcher: Matcher, db_path: Path, request_timeout: float | None = None,
                 **settings: str) -> None:
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_BASE_URL": f"{fake.url}/bot"}
        config = load_config(None, environ=env)
        config.values["storage.path"] = str(db_path)
        config.values.update(settings)
        self.store = Store(db_path)
        self.application = build_application(config, matcher=matcher, store=self.store, request_timeout=request_timeout)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bot-under-test", daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # noqa: BLE001 - surfaced to the test in start()/stop()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        started = asyncio.Event()
        asyncio.get_running_loop().create_task(self._signal_ready(started))
        # The same start-up, polling and shutdown as `python -m bot run`, with a short long-poll.
        await serve(self.application, self._stop, poll_timeout=1, started=started)

    async def _signal_ready(self, started: asyncio.Event) -> None:
        await started.wait()
        self._ready.set()

    def start(self) -> BotRunner:
        self._thread.start()
        if not self._ready.wait(15) or self._error:
            raise RuntimeError(f"bot did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)
        if self._error:
            raise self._error

"""Updates in, without losing one to a crash: each update is confirmed to Telegram only once it is handled.

Telegram keeps an update until the bot confirms it: by a getUpdates call whose
offset is past it, or by answering its webhook request. PTB's Updater fetches
ahead into an unbounded queue and confirms with the next fetch, so a SIGKILL (or
the out-of-memory killer) during a backlog lost every update fetched but not yet
answered. Here the offset only moves past an update once its handlers have
finished, and a webhook request is answered only then. After a crash Telegram
sends again whatever was not finished: every update is handled at least once, and
one whose reply went out just before the crash is answered twice.

Updates from one sender are handled one at a time, in order; different senders'
updates run concurrently, up to the application's update processor limit.

Only one process polls a token: the poller holds a lock in the store (an advisory lock
in PostgreSQL, a lock on a file beside the SQLite database), and a second `run` waits as
its standby, taking over within STANDBY_RETRY seconds once the holder is gone (the
lock dies with its process). Telegram then sends the new poller everything not confirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import signal
import time
from collections import deque
from typing import Any, Callable, Hashable

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TimedOut
from telegram.ext import Application

from ..cache import ExpiringLRU

log = logging.getLogger(__name__)

# Each getUpdates returns what is not confirmed yet, from the lowest unfinished
# update on: those still being handled come back every time. So the bot fetches
# WINDOW at a time, and fetches again only once it holds at most an eighth of
# that: at most one update in seven it parses is one it already has.
WINDOW = 64
POLL_TIMEOUT = 10.0  # seconds a getUpdates long poll waits when the bot is idle
BUSY_POLL_INTERVAL = 0.25  # seconds between fetches while earlier updates are still being handled
SHUTDOWN_GRACE = 30.0  # seconds a stop waits for updates being handled
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "inline_query", "my_chat_member")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Update ids handled lately: Telegram never sends one again once it is confirmed, so one
# that comes again is a replay (someone holding the webhook's secret) and is not handled.
# Telegram keeps an unconfirmed update for a day.
HANDLED_MEMORY = 20_000
HANDLED_TTL = 24 * 3600.0
# A shared store (several webhook processes): an update claimed by a process that has not
# finished it within this long (it died) is handled by the next process Telegram's resend reaches.
UPDATE_LEASE = 10.0
# A standby poller tries for the lock this often; the holder checks it still holds it this often.
STANDBY_RETRY = 0.5
LOCK_CHECK = 2.0
# A webhook request's body: an update is a few KB (a 4,096-character message and a quoted one).
MAX_UPDATE_BYTES = 256 * 1024


def sender_key(update: Update) -> Hashable:
    """Who an update comes from: the user, or the chat that posts as itself (anonymous admins, channels)."""
    message = update.effective_message
    if message is not None and message.sender_chat is not None:
        return ("chat", message.sender_chat.id)
    if update.effective_user is not None:
        return update.effective_user.id
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    return ("update", update.update_id)


class OrderedDispatcher:
    """Hands updates to the Application: one sender's in order, and says which are finished."""

    def __init__(self, application: Application) -> None:
        self.application = application
        self._lines: dict[Hashable, deque[tuple[Update, asyncio.Future]]] = {}  # waiting behind the running one
        self._futures: dict[int, asyncio.Future] = {}  # update id -> done when handled
        self._tasks: set[asyncio.Task] = set()
        self._handled: ExpiringLRU[int, bool] = ExpiringLRU(HANDLED_MEMORY, HANDLED_TTL)
        self._accepting = True
        self.changed = asyncio.Event()

    @property
    def unfinished(self) -> int:
        return len(self._futures)

    def lowest_unfinished(self) -> int | None:
        return min(self._futures) if self._futures else None

    def submit(self, update: Update) -> asyncio.Future:
        """Queue an update; the future is done once its handlers have finished (or it was dropped at shutdown)."""
        existing = self._futures.get(update.update_id)
        if existing is not None:  # Telegram re-sent an update still being handled
            return existing
        future = asyncio.get_running_loop().create_future()
        if update.update_id in self._handled:  # handled already: confirmed again, not handled twice
            future.set_result(None)
            return future
        self._futures[update.update_id] = future
        key = sender_key(update)
        line = self._lines.get(key)
        if line is None:
            self._lines[key] = deque()
            self._start(key, update, future)
        else:
            line.append((update, future))
        return future

    def _start(self, key: Hashable, update: Update, future: asyncio.Future) -> None:
        task = asyncio.create_task(self._handle(key, update, future), name=f"update-{update.update_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, key: Hashable, update: Update, future: asyncio.Future) -> None:
        app = self.application
        handled = False
        try:
            # PTB's process_update sends handler errors to the error handler itself.
            await app.update_processor.process_update(update, app.process_update(update))
            handled = True
        except Exception:  # noqa: BLE001 - the next update must still run
            log.exception("update %s could not be processed", update.update_id)
            handled = True
        finally:
            if handled:
                self._finish(update.update_id, future)
            else:  # cancelled at shutdown: it stays unfinished, so it is not confirmed
                future.cancel()
            line = self._lines[key]
            if line and self._accepting and handled:
                self._start(key, *line.popleft())
            else:
                del self._lines[key]
                for _, waiting in line:  # stopping: unfinished, left for Telegram to send again
                    waiting.cancel()
            self.changed.set()

    def _finish(self, update_id: int, future: asyncio.Future) -> None:
        self._futures.pop(update_id, None)
        self._handled.set(update_id, True)
        if not future.done():
            future.set_result(None)

    async def wait_for_change(self, timeout: float, clear: bool = True) -> None:
        """Until an update is finished (since now, or since `changed` was last cleared) or `timeout`."""
        if clear:
            self.changed.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.changed.wait(), timeout)

    async def drain(self) -> None:
        """Stop starting queued updates and wait for the running ones (at most SHUTDOWN_GRACE)."""
        self._accepting = False
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_GRACE)
            for task in pending:
                task.cancel()
            if pending:
                log.warning("%d update(s) still running at shutdown were cancelled; Telegram will send them again",
                            len(pending))
                await asyncio.wait(pending, timeout=5)


class SharedUpdateIds:
    """On a shared store, the update ids that every webhook process has handled: one handles each update."""

    def __init__(self, store, secret: str) -> None:
        self.store = store
        self.shared = bool(getattr(store, "shared", False))
        self.prefix = "tg:update:" + hashlib.sha256(secret.encode()).hexdigest()[:8] + ":"  # one bot's, not another's

    async def claim(self, update_id: int) -> str:
        """'mine' (handle it), 'done' (confirm it), 'busy' (another process handles it), or 'local' (no shared store,
        or the database did not answer: this process's own memory deduplicates)."""
        if not self.shared:
            return "local"
        try:
            state, _ = await asyncio.to_thread(self.store.claim, f"{self.prefix}{update_id}", UPDATE_LEASE, HANDLED_TTL)
            return state
        except self.store.Error as exc:
            log.warning("update id not checked with the other processes: the database did not answer (%s)",
                        " ".join(str(exc).split()))
            return "local"

    async def finish(self, update_id: int, claim: str, handled: bool) -> None:
        """Record a claimed update as handled (or give the claim up, to be handled on Telegram's next try)."""
        if claim != "mine":
            return
        key = f"{self.prefix}{update_id}"
        try:
            if handled:
                await asyncio.to_thread(self.store.settle, key, "handled", HANDLED_TTL)
            else:
                await asyncio.to_thread(self.store.release, key)
        except self.store.Error as exc:
            log.warning("update id not recorded for the other processes (%s)", " ".join(str(exc).split()))


def confirm_offset(dispatcher: OrderedDispatcher, highest: int | None) -> int | None:
    """The getUpdates offset that confirms everything handled and nothing else."""
    lowest = dispatcher.lowest_unfinished()
    if lowest is not None:
        return lowest
    return None if highest is None else highest + 1


async def poll(application: Application, stop: asyncio.Event, poll_timeout: float = POLL_TIMEOUT) -> None:
    """getUpdates until `stop` is set; confirm an update only once it is handled."""
    bot = application.bot
    dispatcher = OrderedDispatcher(application)
    await bot.delete_webhook()  # polling and a webhook exclude each other; pending updates are kept
    highest: int | None = None
    failures = 0
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while not stop.is_set():
            lowest = dispatcher.lowest_unfinished()
            held = 0 if lowest is None or highest is None else highest - lowest + 1
            if held > WINDOW // 8:
                await dispatcher.wait_for_change(BUSY_POLL_INTERVAL)
                continue
            dispatcher.changed.clear()
            fetch = asyncio.ensure_future(bot.get_updates(
                offset=confirm_offset(dispatcher, highest), limit=WINDOW,
                timeout=0 if lowest is not None else poll_timeout, allowed_updates=list(ALLOWED_UPDATES),
            ))
            await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await fetch
                break
            try:
                updates = fetch.result()
                failures = 0
            except TimedOut:
                continue
            except InvalidToken:
                raise
            except (NetworkError, Conflict) as exc:
                failures += 1
                delay = min(30.0, 0.5 * 2 ** min(failures, 6))
                log.warning("getUpdates failed (%s); trying again in %.1f s", exc, delay)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(stopping), delay)
                continue
            for update in updates:
                if highest is None or update.update_id > highest:
                    highest = update.update_id
                    dispatcher.submit(update)
            if dispatcher.unfinished:
                # Fetching now would only bring back what is being handled: let some of it finish.
                await dispatcher.wait_for_change(BUSY_POLL_INTERVAL, clear=False)
    finally:
        stopping.cancel()
        await dispatcher.drain()
        offset = confirm_offset(dispatcher, highest)
        if offset is not None:
            with contextlib.suppress(Exception):  # Telegram sends again what is not confirmed: no loss
                await bot.get_updates(offset=offset, timeout=0, limit=1, allowed_updates=list(ALLOWED_UPDATES))


async def poll_as_the_only_poller(application: Application, stop: asyncio.Event,
                                  poll_timeout: float = POLL_TIMEOUT) -> None:
    """poll() while this process holds the token's poller lock; as a standby until then, and again if it is lost."""
    store = application.bot_data["services"].store
    name = "telegram poller " + hashlib.sha256(application.bot.token.encode()).hexdigest()[:16]
    waiting_since: float | None = None
    while not stop.is_set():
        try:
            lock = await asyncio.to_thread(store.try_lock, name)
        except Exception as exc:  # noqa: BLE001 - the database is down: wait as a standby, try again
            log.warning("cannot take the poller lock (%s); trying again", " ".join(str(exc).split()))
            lock = None
        if lock is None:
            if waiting_since is None:
                waiting_since = time.monotonic()
                log.info("another process polls this bot's updates: standing by to take over")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), STANDBY_RETRY)
            continue
        if waiting_since is not None:
            log.warning("took over polling after %.1f s as the standby", time.monotonic() - waiting_since)
            waiting_since = None
        polling = asyncio.Event()
        watch = asyncio.create_task(_watch_lock(lock, stop, polling))
        try:
            await poll(application, polling, poll_timeout)
        finally:
            watch.cancel()
            await asyncio.to_thread(lock.release)
        if not stop.is_set():
            log.error("lost the poller lock (the database connection ended); polling stopped, standing by")


async def _watch_lock(lock, stop: asyncio.Event, polling: asyncio.Event) -> None:
    """Set `polling` (to end the poll) on a stop, or once the lock is no longer held."""
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), LOCK_CHECK)
        if not stop.is_set() and not await asyncio.to_thread(lock.held):
            break
    polling.set()


async def serve_webhook(application: Application, stop: asyncio.Event, listen: str, port: int, url_path: str,
                        webhook_url: str, secret_token: str, max_connections: int = 40) -> None:
    """An HTTP server Telegram posts updates to; each request is answered once its update is handled."""
    import tornado.httpserver
    import tornado.web

    dispatcher = OrderedDispatcher(application)
    bot = application.bot
    expected = secret_token.encode()
    store = application.bot_data["services"].store
    shared_ids = SharedUpdateIds(store, secret_token)

    class WebhookHandler(tornado.web.RequestHandler):
        async def post(self) -> None:
            given = self.request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
            if not hmac.compare_digest(given, expected):
                self.set_status(403)
                return
            try:
                update = Update.de_json(json.loads(self.request.body), bot)
            except Exception:  # noqa: BLE001 - not an update: refuse it, do not crash
                self.set_status(400)
                return
            claim = await shared_ids.claim(update.update_id)
            if claim == "busy":  # another process handles it: Telegram sends it again later
                self.set_status(503)
                return
            if claim != "done":
                try:
                    await dispatcher.submit(update)
                except asyncio.CancelledError:
                    await shared_ids.finish(update.update_id, claim, handled=False)
                    self.set_status(503)  # stopping: Telegram will send it again
                    return
                await shared_ids.finish(update.update_id, claim, handled=True)
            self.set_status(200)

    app = tornado.web.Application([(rf"/{url_path}/?", WebhookHandler)])
    server = tornado.httpserver.HTTPServer(app, xheaders=True, max_body_size=MAX_UPDATE_BYTES,
                                           idle_connection_timeout=60, body_timeout=20)
    server.listen(port, address=listen)
    try:
        await bot.set_webhook(url=webhook_url, secret_token=secret_token, allowed_updates=list(ALLOWED_UPDATES),
                              max_connections=max_connections)
        await stop.wait()
    finally:
        server.stop()
        await dispatcher.drain()
        await server.close_all_connections()


async def serve(application: Application, stop: asyncio.Event, webhook: dict[str, Any] | None = None,
                poll_timeout: float = POLL_TIMEOUT, started: asyncio.Event | None = None) -> None:
    """Run the Application until `stop` is set: start-up, updates by polling or webhook, clean shutdown."""
    await application.initialize()
    try:
        if application.post_init:
            await application.post_init(application)
        await application.start()
        if started is not None:
            started.set()
        try:
            if webhook:
                await serve_webhook(application, stop, **webhook)
            else:
                await poll_as_the_only_poller(application, stop, poll_timeout)
        finally:
            await application.stop()
            if application.post_shutdown:
                await application.post_shutdown(application)
    finally:
        await application.shutdown()


def run_until_signalled(application: Application, webhook: dict[str, Any] | None = None,
                        beside: Callable[[], contextlib.AbstractAsyncContextManager] | None = None) -> None:
    """serve() until SIGINT or SIGTERM; `beside`: what else runs in the loop meanwhile (knowledge reloads)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(sig, stop.set)
        async with beside() if beside is not None else contextlib.nullcontext():
            await serve(application, stop, webhook)

    asyncio.run(main())

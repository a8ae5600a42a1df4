"""The Telegram bot inside the web app: one process behind one TLS proxy serves every channel.

python-telegram-bot's Application runs without an updater; Telegram posts each
update to the webhook path of `telegram.webhook.url`, the request is checked
against the secret token (its body is then read, up to 256 KB), handed to the same
ordered dispatcher polling uses, and answered once the update is handled and what
it changed is saved (so Telegram resends it after a crash). An update id handled
already is confirmed again without being handled twice: on a shared store (several web
processes behind one proxy) by any of them, through a claim in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from typing import Any
from urllib.parse import urlparse

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from telegram import Update

from ..config import Config
from ..errors import UserError
from ..reload import LiveKnowledge
from ..store import Store, StoreUnavailable
from .app import SAVE_TIMEOUT, BodyRefused, read_body

log = logging.getLogger(__name__)


def telegram_webhook(config: Config, knowledge: LiveKnowledge, store: Store) -> tuple[list[Route], Any]:
    """The /telegram route and the lifespan that starts and stops the Application with the web server."""
    from ..tg.app import build_application
    from ..tg.delivery import ALLOWED_UPDATES, MAX_UPDATE_BYTES, SECRET_HEADER, OrderedDispatcher, SharedUpdateIds

    url = config["telegram.webhook.url"]
    secret = config["telegram.webhook.secret_token"]
    if not url:
        raise UserError("telegram.mode is webhook but telegram.webhook.url is empty (see config.example.yaml)")
    if not secret:
        raise UserError(
            "telegram.mode is webhook but telegram.webhook.secret_token (or TELEGRAM_WEBHOOK_SECRET) is empty: "
            "without it anyone who finds the URL can post forged updates"
        )
    application = build_application(config, store=store, knowledge=knowledge)
    expected = secret.encode()
    state: dict[str, OrderedDispatcher] = {}
    shared_ids = SharedUpdateIds(store, secret)

    async def endpoint(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if not hmac.compare_digest(given, expected):
            return Response(status_code=403)
        dispatcher = state.get("dispatcher")
        if dispatcher is None:
            return Response(status_code=503)  # not started yet, or stopping: Telegram sends it again
        try:
            raw = await read_body(request, MAX_UPDATE_BYTES)
        except BodyRefused as refused:
            return Response(status_code=refused.status)
        try:
            update = Update.de_json(json.loads(raw), application.bot)
        except Exception:  # noqa: BLE001 - not an update (RecursionError included): refuse it, do not crash
            return Response(status_code=400)
        # As polling logs what getUpdates returns: every update at DEBUG (masked like every line).
        log.debug("webhook update: %s", update.to_dict())
        claim = await shared_ids.claim(update.update_id)
        if claim == "done":  # handled by this or another process: confirmed again, not handled twice
            return Response(status_code=200)
        if claim == "busy":  # another process is handling it: Telegram sends it again later
            return Response(status_code=503)
        try:
            await dispatcher.submit(update)
        except asyncio.CancelledError:
            await shared_ids.finish(update.update_id, claim, handled=False)
            return Response(status_code=503)
        try:
            await asyncio.wait_for(asyncio.wrap_future(store.confirmation()), SAVE_TIMEOUT)
        except (StoreUnavailable, asyncio.TimeoutError) as exc:
            # The reply went out; asking Telegram to resend would send it twice. The writes stay
            # queued and are tried again (/healthz shows it).
            log.warning("update %s was handled but its writes are not saved yet (%s)", update.update_id,
                        exc or "time-out")
        await shared_ids.finish(update.update_id, claim, handled=True)
        return Response(status_code=200)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await application.initialize()
        if application.post_init:
            await application.post_init(application)
        await application.start()
        state["dispatcher"] = dispatcher = OrderedDispatcher(application)
        await application.bot.set_webhook(url=url, secret_token=secret, allowed_updates=list(ALLOWED_UPDATES))
        log.info("Telegram webhook set to %s", urlparse(url).path)
        try:
            yield
        finally:
            state.pop("dispatcher", None)
            await dispatcher.drain()
            await application.stop()
            if application.post_shutdown:
                await application.post_shutdown(application)
            await application.shutdown()

    return [Route(webhook_path(url), endpoint, methods=["POST"])], lifespan


# Paths of the page and its API: the webhook must not take one of them.
RESERVED = ("", "api", "t", "static", "wechat", "banned", "healthz", "lang", "topics", "curate")


def webhook_path(url: str) -> str:
    """The local path Telegram's posts arrive at: the path of telegram.webhook.url."""
    path = urlparse(url).path.strip("/")
    if path.split("/")[0] in RESERVED:
        raise UserError(f"telegram.webhook.url must end in a path of its own, such as https://…/telegram "
                        f"(got {url!r}, whose path the web page uses)")
    return "/" + path

"""`python -m bot web`: the services built once from the config, and uvicorn serving them."""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import sys
from typing import TextIO

from .. import logs
from ..config import Config
from ..conversation import Conversation
from ..errors import UserError
from ..reload import LiveKnowledge
from ..store import open_store
from .app import WebSettings, build_app
from .limits import BACKLOG, ConnectionGuard, connection_cap, open_descriptors, raise_descriptor_limit

log = logging.getLogger(__name__)
# Bytes of a request's line and headers (h11 refuses more with a 400).
MAX_HEAD_BYTES = 16 * 1024
SHUTDOWN_GRACE = 10  # seconds a stop waits for requests in progress


def reload_lifespan(knowledge: LiveKnowledge, watch_seconds: float):
    """The app's lifespan that runs the knowledge reloads (SIGHUP, the folder watcher) inside uvicorn's loop."""

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with knowledge.running(watch_seconds):
            yield

    return lifespan


def closing(thing):
    """A lifespan that closes `thing` when the server stops."""

    @contextlib.asynccontextmanager
    async def lifespan(app):
        try:
            yield
        finally:
            thing.close()

    return lifespan


def combine_lifespans(*lifespans):
    """One lifespan that enters each given one in order (None ones skipped) and leaves them in reverse."""
    given = [lifespan for lifespan in lifespans if lifespan is not None]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with contextlib.AsyncExitStack() as stack:
            for each in given:
                await stack.enter_async_context(each(app))
            yield

    return lifespan


def build_from_config(config: Config):
    """The ASGI app and the store it writes to (the caller closes it)."""
    token = config["telegram.token"]
    voter_key = b""
    if token and config["telegram.mode"] == "webhook":
        from ..tg.app import voter_key as telegram_voter_key

        voter_key = telegram_voter_key(token)  # as `run` hashes voters: one person is one voter in both
    # The database first: a storage problem is one line before the models take a second to load.
    store = open_store(config, voter_key=voter_key)
    try:
        knowledge = LiveKnowledge.load(config["knowledge.dir"] or None)
        conversation = Conversation(None, None, store, knowledge=knowledge)
        public_url = config["web.public_url"].rstrip("/")
        if public_url and not public_url.startswith(("https://", "http://")):
            raise UserError(f"web.public_url must start with https:// (got {public_url!r})")
        settings = WebSettings(
            public_url=public_url,
            rate_requests=config["web.rate_limit.requests"],
            rate_window=float(config["web.rate_limit.window_seconds"]),
            secure_cookies=public_url.startswith("https://"),
            trusted_proxies=config["web.forwarded_allow_ips"],
        )
        wechat = None
        if config["wechat.token"]:
            from .wechat import wechat_endpoint

            wechat = wechat_endpoint(conversation, config, public_url)
        telegram_routes, lifespan = [], None
        if token and config["telegram.mode"] == "webhook":
            from .telegram import telegram_webhook

            telegram_routes, lifespan = telegram_webhook(config, knowledge, store)
        curator_routes = []
        if config["curate.token"]:
            from pathlib import Path

            from .curate import CuratorPage

            # The draft, its evaluations and the record of what was published live beside the database.
            state = Path(config["storage.path"]).resolve().parent / "curation"
            curator = CuratorPage(conversation, config["curate.token"], state, settings.secure_cookies,
                                  config["curate.folds"])
            curator_routes = curator.routes()
            lifespan = combine_lifespans(lifespan, closing(curator))
        # Reloads on SIGHUP and on a changed knowledge folder, for as long as the server runs.
        reloads = reload_lifespan(knowledge, config["knowledge.watch_seconds"])
        return build_app(conversation, settings, wechat, telegram_routes, combine_lifespans(reloads, lifespan),
                         page_routes=curator_routes), store
    except BaseException:
        store.close()
        raise


def setup_logging(config: Config) -> None:
    """The configured level, personal data masked and every secret of the config redacted."""
    logs.setup_logging(config["logging.level"], (config["telegram.token"], config["telegram.webhook.secret_token"],
                                                 config["wechat.token"], config["wechat.encoding_aes_key"],
                                                 config["curate.token"], *logs.storage_secrets(config)))
    # uvicorn's own lines go through the same filters; its start and stop chatter only at DEBUG.
    level = logging.getLevelName(config["logging.level"])
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).setLevel(level if level <= logging.DEBUG else max(level, logging.WARNING))


def serve(config: Config, host: str, port: int, out: TextIO = sys.stdout) -> None:
    """Serve until Ctrl-C or SIGTERM."""
    import uvicorn

    setup_logging(config)
    _check_port_free(host, port)
    descriptors = raise_descriptor_limit()
    app, store = build_from_config(config)
    try:
        guard = ConnectionGuard(
            max_connections=connection_cap(config["web.max_connections"], descriptors, open_descriptors()),
            head_timeout=float(config["web.header_timeout_seconds"]),
            body_timeout=float(config["web.body_timeout_seconds"]),
        )
        shown = f"[{host}]" if ":" in host else host
        out.write(f"The bot's web page: http://{shown}:{port}/   (Ctrl-C stops it)\n")
        out.flush()
        # Numbers with thousands separators: a bare run of five digits is masked as personal data.
        log.info("open-file limit %s: at most %s connections, %d s for headers, %d s for a body",
                 f"{descriptors:,}", f"{guard.max_connections:,}", guard.head_timeout, guard.body_timeout)
        server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, http=guard.protocol(),
            # The client's address comes from ClientAddress (bot/web/limits.py), which checks it.
            proxy_headers=False,
            # No limit_concurrency: uvicorn's answers 503 to everyone once that many connections
            # are open, idle ones included, which is the attack itself; the guard's cap closes
            # the longest-idle connection instead, and the deadlines bound the busy ones.
            timeout_keep_alive=config["web.keep_alive_seconds"], h11_max_incomplete_event_size=MAX_HEAD_BYTES,
            backlog=BACKLOG, timeout_graceful_shutdown=SHUTDOWN_GRACE, server_header=False, log_config=None,
            access_log=False))
        # uvicorn stops gracefully on SIGINT or SIGTERM, then raises the signal again
        # for the handler that was there before it: here, one that lets the command
        # end normally (exit status 0) once the store is closed.
        previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            server.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        store.close()


def _check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with contextlib.closing(socket.socket(family, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UserError(f"cannot listen on {host}:{port}: {exc.strerror} (try --port with another number)") from None

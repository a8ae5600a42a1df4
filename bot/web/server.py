"""`python -m bot web`: the services built once from the config, and uvicorn serving them."""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
from typing import TextIO

from ..config import Config
from ..conversation import Conversation
from ..errors import UserError
from ..reload import LiveKnowledge
from ..store import Store
from .app import WebSettings, build_app


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
    knowledge = LiveKnowledge.load(config["knowledge.dir"] or None)
    store = Store(config["storage.path"], retention_days=config["storage.retention_days"])
    conversation = Conversation(None, None, store, knowledge=knowledge)
    public_url = config["web.public_url"].rstrip("/")
    if public_url and not public_url.startswith(("https://", "http://")):
        raise UserError(f"web.public_url must start with https:// (got {public_url!r})")
    settings = WebSettings(
        public_url=public_url,
        rate_requests=config["web.rate_limit.requests"],
        rate_window=float(config["web.rate_limit.window_seconds"]),
        secure_cookies=public_url.startswith("https://"),
    )
    wechat = None
    if config["wechat.token"]:
        from .wechat import wechat_endpoint

        wechat = wechat_endpoint(conversation, config, public_url)
    telegram_routes, lifespan = [], None
    if config["telegram.token"] and config["telegram.mode"] == "webhook":
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


def serve(config: Config, host: str, port: int, out: TextIO = sys.stdout) -> None:
    """Serve until Ctrl-C or SIGTERM."""
    import uvicorn

    _check_port_free(host, port)
    app, store = build_from_config(config)
    try:
        shown = f"[{host}]" if ":" in host else host
        out.write(f"The bot's web page: http://{shown}:{port}/   (Ctrl-C stops it)\n")
        out.flush()
        server = uvicorn.Server(uvicorn.Config(
            app, host=host, port=port, proxy_headers=True, forwarded_allow_ips=config["web.forwarded_allow_ips"],
            server_header=False, log_level="warning", access_log=False))
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

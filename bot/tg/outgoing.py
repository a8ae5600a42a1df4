"""Outgoing Bot API calls: throttled under Telegram's limits, flood waits honoured, nothing sent twice.

PTB's AIORateLimiter keeps the bot under about 30 messages a second overall and
20 a minute per group, and waits out a flood limit (429 retry_after) in full
before trying again. On top of it, a call that failed on the network is tried
again only when it certainly did not reach Telegram (the connection was never
made) or when repeating it is harmless (reading a member, deleting a message).
A message whose request timed out or met a server error may already have been
delivered: it is not resent, so a user never gets the same reply twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable, Coroutine

import httpx
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter
from telegram.request import BaseRequest, HTTPXRequest, RequestData

log = logging.getLogger(__name__)

# Calls whose repetition changes nothing a user sees.
SAFE_TO_REPEAT = frozenset({
    "getMe", "getChat", "getChatMember", "getChatAdministrators", "getWebhookInfo",
    "deleteMessage", "setMyCommands", "setWebhook", "deleteWebhook",
})
# Requests that failed before a byte reached Telegram.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Only requests to a chat count against the per-group limit of sent messages.
_MESSAGE_CALLS_PREFIXES = ("send", "edit", "copy", "forward")
NETWORK_ATTEMPTS = 3
FLOOD_RETRIES = 3


def never_sent(exc: BaseException) -> bool:
    """True when a failed request certainly did not reach Telegram."""
    cause = exc.__cause__
    return isinstance(cause, _NOT_SENT)


class TelegramLimiter(AIORateLimiter):
    """AIORateLimiter, plus retries of network failures that cannot cause a duplicate."""

    def __init__(self, sleep: Callable[[float], Coroutine[Any, Any, None]] = asyncio.sleep, **kwargs: Any) -> None:
        kwargs.setdefault("max_retries", FLOOD_RETRIES)
        super().__init__(**kwargs)
        self._sleep = sleep

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):  # noqa: ANN001
        if not endpoint.startswith(_MESSAGE_CALLS_PREFIXES) and "chat_id" in data:
            # Deleting an ad or reading a member is not a message: keep it out of the
            # group's 20-a-minute budget (still under the overall rate).
            data = {"chat_id": 0}
        for attempt in range(1, NETWORK_ATTEMPTS + 1):
            try:
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
            except RetryAfter:
                raise  # AIORateLimiter already waited and retried FLOOD_RETRIES times
            except NetworkError as exc:
                if attempt == NETWORK_ATTEMPTS or not (never_sent(exc) or endpoint in SAFE_TO_REPEAT):
                    raise
                delay = 0.5 * 2 ** (attempt - 1)
                log.warning("%s: %s; trying again in %.1f s", endpoint, exc, delay)
                await self._sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises


class JsonBodyRequest(HTTPXRequest):
    """PTB's HTTPXRequest, with the parameters sent as a JSON body instead of a form.

    Telegram takes both. Percent-encoding a card (3 KB of mostly Chinese) for a
    form cost a fifth of a millisecond of CPU per answer; JSON costs a hundredth.
    Uploads still go as multipart through PTB's own code.
    """

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if request_data is None or request_data.contains_files:
            return await super().do_request(url, method, request_data, read_timeout, write_timeout,
                                            connect_timeout, pool_timeout)
        default = self._client.timeout

        def chosen(value: Any, fallback: float | None) -> float | None:
            return fallback if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value

        timeout = httpx.Timeout(connect=chosen(connect_timeout, default.connect), read=chosen(read_timeout, default.read),
                                write=chosen(write_timeout, default.write), pool=chosen(pool_timeout, default.pool))
        headers = {"User-Agent": self.USER_AGENT, "Content-Type": "application/json"}
        # The same mapping of httpx's errors as HTTPXRequest.do_request, on which never_sent() relies.
        try:
            response = await self._client.request(method=method, url=url, headers=headers, timeout=timeout,
                                                  content=request_data.json_payload)
        except httpx.TimeoutException as err:
            raise TimedOut from err
        except httpx.HTTPError as err:
            raise NetworkError(f"httpx.{err.__class__.__name__}: {err}") from err
        return response.status_code, response.content

"""Every Bot API call retried on flood limits, server errors and time-outs, so no reply is lost."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import warnings
from typing import Any, Callable, Coroutine

from telegram.error import BadRequest, ChatMigrated, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

log = logging.getLogger(__name__)

# Errors that another try cannot fix: the request itself is wrong or not allowed.
_FINAL = (BadRequest, Forbidden, InvalidToken, Conflict, ChatMigrated)


def retry_after_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 warns while it moves from int to timedelta
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


class RetryingLimiter(BaseRateLimiter[None]):
    """Plugs into PTB's rate-limiter hook, which wraps every request except getUpdates."""

    def __init__(self, attempts: int = 6, base_delay: float = 0.5, max_delay: float = 30.0, sleep=asyncio.sleep) -> None:
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._sleep = sleep

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == self.attempts:
                    raise
                delay = min(retry_after_seconds(exc), self.max_delay)
                log.warning("%s: flood limit, retrying in %.1f s (attempt %d)", endpoint, delay, attempt)
            except _FINAL:
                raise
            except NetworkError as exc:  # 5xx, time-outs, dropped connections
                if attempt == self.attempts:
                    raise
                delay = min(self.base_delay * 2 ** (attempt - 1), self.max_delay)
                log.warning("%s: %s, retrying in %.1f s (attempt %d)", endpoint, exc, delay, attempt)
            await self._sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises

"""Logging for every long-running command: one format, the configured level, secrets and personal data never written."""

from __future__ import annotations

import logging
from typing import Iterable

from .privacy import MaskPersonalData

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Replaces each secret (the bot token, the webhook secret, WeChat's token and key, the database password) by <token>."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            redacted = message
            for secret in self.secrets:
                redacted = redacted.replace(secret, "<token>")
            if redacted != message:
                record.msg, record.args = redacted, None
            if record.exc_info and record.exc_info[1] is not None:
                text = logging.Formatter().formatException(record.exc_info)
                for secret in self.secrets:
                    text = text.replace(secret, "<token>")
                record.exc_text, record.exc_info = text, None
        return True


def storage_secrets(config) -> tuple[str, ...]:
    """What of storage.url must never be logged: its password (and so the whole URL as written)."""
    from urllib.parse import urlsplit

    url = config["storage.url"]
    try:
        password = urlsplit(url).password or ""
    except ValueError:  # unreadable: the whole of it is the secret
        return (url,)
    return (url, password) if password else ()


def setup_logging(level: str, secrets: Iterable[str] = (), filters: Iterable[logging.Filter] = ()) -> None:
    """The root logger at `level`, each of its handlers filtered: `filters`, then secrets, then personal data."""
    logging.basicConfig(format=FORMAT, level=level)
    logging.getLogger().setLevel(level)
    # httpx logs every request URL, and a Bot API URL contains the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for handler in logging.getLogger().handlers:
        for extra in filters:
            handler.addFilter(extra)
        handler.addFilter(RedactSecrets(secrets))
        # Last: it also turns tracebacks into masked text. At DEBUG, PTB logs every update.
        handler.addFilter(MaskPersonalData())

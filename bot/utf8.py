"""Text that can be encoded as UTF-8, whatever arrived: the one rule the CLI, the bot and the store share."""

from __future__ import annotations

import re

# A Python string holds a surrogate only when it came from undecodable bytes
# (surrogateescape) or a lone "\ud800" JSON escape; UTF-8 cannot encode either.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def valid_text(text: str | None) -> str:
    """`text` with every unencodable character replaced by U+FFFD; None becomes ''."""
    return _SURROGATE.sub("\ufffd", text) if text else ""


def valid_argument(text: str) -> str:
    """A command-line argument or terminal line: undecodable bytes become U+FFFD, one per byte run."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:  # a lone surrogate that did not come from undecodable bytes
        return valid_text(text)

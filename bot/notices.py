"""A pasted ban notice, read for what it states: the reason it gives and how long the ban lasts.

The /banned checklist takes a reason only from the notice's own words
(knowledge/ban_notices.yaml); a notice that names none is "unknown". Nothing
is guessed from which topic a notice reads like: that once told a person whose
notice said only "涉嫌违规操作" that they had helped others register.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .knowledge import NOTICE_REASONS, BanNotices
from .languages import converter
from .text import clean_input, has_cjk
from .utf8 import valid_text

UNKNOWN = "unknown"
# A notice is a few lines; a longer paste is cut, as the checker cuts messages.
MAX_NOTICE_CHARS = 4000


@dataclass(frozen=True)
class NoticeReading:
    """What a notice states, each in the notice's own words (None: it does not say)."""

    reason: str  # one of NOTICE_REASONS, or "unknown"
    reason_words: str | None
    term: str | None  # the duration or unfreeze date: "解冻时间2025-12-20", "封禁7天", "永久封禁"


class NoticeReader:
    """Reads notices with one knowledge base's ban_notices.yaml."""

    def __init__(self, notices: BanNotices) -> None:
        self.notices = notices
        self._t2s = converter("t2s")

    def read(self, text: str) -> NoticeReading:
        original = clean_input(valid_text(text))[:MAX_NOTICE_CHARS]
        norm = unicodedata.normalize("NFKC", original).lower()
        if has_cjk(norm):
            norm = self._t2s.convert(norm)
        # OpenCC and NFKC keep lengths for almost all text; then the words are quoted as written.
        source = original if len(original) == len(norm) else norm
        found = []
        for reason in NOTICE_REASONS:
            patterns = self.notices.reasons.get(reason)
            m = _first(patterns.patterns, norm) if patterns else None
            if m is not None:
                found.append((m.start(), reason, _quote(source, m)))
        term_match = _first(self.notices.term.patterns, norm)
        term = _quote(source, term_match) if term_match else None
        if not found:
            return NoticeReading(UNKNOWN, None, term)
        _, reason, words = min(found)  # the reason the notice names first
        return NoticeReading(reason, words, term)


def _first(patterns: tuple[re.Pattern[str], ...], norm: str) -> re.Match[str] | None:
    """The earliest match of any of `patterns` in the text."""
    matches = [m for m in (p.search(norm) for p in patterns) if m is not None]
    return min(matches, key=lambda m: (m.start(), -m.end())) if matches else None


def _quote(source: str, m: re.Match[str]) -> str:
    return source[m.start(): m.end()].strip() or m.group(0)

"""Message in, verdict out: is this ad, DM or notice a scam or a risky recruitment?

A pure library like the matcher: the red flags are curated data in
knowledge/red_flags.yaml; this module only applies them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

import opencc

from .knowledge import KnowledgeBase, Localized, RedFlags
from .text import clean_input, has_cjk
from .utf8 import valid_text

Risk = Literal["high", "medium", "low"]
Context = Literal["ad", "warning", "question"]

# Long pastes are cut: an ad that needs more than this to show its hand is rare,
# and the regexes' cost grows with length.
MAX_CHECK_CHARS = 4000
_SPACED_CJK = re.compile(r"(?:[\u4e00-\u9fff] ){2,}[\u4e00-\u9fff]")
HIGH_FROM = 3
MEDIUM_FROM = 2
# An ad that asks to be contacted ("加我私聊", "DM me") is one step riskier.
CONTACT_BONUS = 1


@dataclass(frozen=True)
class FlagHit:
    id: str
    label: Localized
    trigger: str  # the words of the message that set the flag off
    topic: str
    weight: int


@dataclass(frozen=True)
class Verdict:
    risk: Risk
    flags: tuple[FlagHit, ...]
    topics: tuple[str, ...]  # topic ids to read, most relevant first
    context: Context  # "warning" and "question" texts are not ads, whatever words they quote
    score: int

    def as_json(self) -> dict:
        return {
            "risk": self.risk,
            "flags": [
                {"id": f.id, "label": {"zh": f.label.zh, "en": f.label.en}, "trigger": f.trigger, "topic": f.topic}
                for f in self.flags
            ],
            "topics": list(self.topics),
            "context": self.context,
            "score": self.score,
        }


class MessageChecker:
    """Applies one knowledge base's red flags to messages."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.rules: RedFlags = kb.red_flags
        self._t2s = opencc.OpenCC("t2s")

    def normalise(self, text: str) -> str:
        text = clean_input(valid_text(text))[:MAX_CHECK_CHARS]
        text = unicodedata.normalize("NFKC", text).lower()
        if has_cjk(text):
            text = self._t2s.convert(text)
            # "辅 助 注 册": ads space out their words to slip past filters.
            text = _SPACED_CJK.sub(lambda m: m.group(0).replace(" ", ""), text)
        return text

    def check_message(self, text: str) -> Verdict:
        """The verdict for one message; never raises on any input string."""
        original = clean_input(valid_text(text))[:MAX_CHECK_CHARS]
        norm = self.normalise(text)
        # OpenCC and NFKC keep lengths for almost all text; when they do, the
        # trigger is quoted from the message as the user wrote it.
        source = original if len(original) == len(norm) else norm
        hits: list[FlagHit] = []
        for flag in self.rules.flags:
            for pattern in flag.patterns:
                m = pattern.search(norm)
                if m:
                    trigger = source[m.start(): m.end()].strip() or m.group(0)
                    hits.append(FlagHit(flag.id, flag.label, trigger, flag.topic, flag.weight))
                    break
        rules = self.rules
        score = sum(h.weight for h in hits)
        context: Context = "ad"
        has_contact = _any(rules.contact_cues, norm)
        if hits and has_contact:
            score += CONTACT_BONUS
        elif hits:
            if _any(rules.warning_cues, norm):
                context = "warning"
            elif _any(rules.question_cues, norm) and (
                _any(rules.doubt_cues, norm) or not _any(rules.request_cues, norm)
            ):
                context = "question"
        if context != "ad":
            risk: Risk = "low"
        elif score >= HIGH_FROM:
            risk = "high"
        elif score >= MEDIUM_FROM:
            risk = "medium"
        else:
            risk = "low"
        ordered = sorted(hits, key=lambda h: -h.weight)
        topics = tuple(dict.fromkeys(h.topic for h in ordered))
        return Verdict(risk, tuple(ordered), topics, context, score)

    def reads_like_a_message(self, text: str, verdict: Verdict | None = None) -> bool:
        """True for a pasted ad or notice rather than a question to the bot.

        Routes private-chat text: questions and first-person stories go to the
        matcher; text with red flags that also looks like an ad (contact
        details, a link, several lines, price tags, recruiting words) goes to
        the checker. Pass the text's verdict if it is already at hand.
        """
        verdict = verdict or self.check_message(text)
        if not verdict.flags or verdict.context != "ad":
            return False
        norm = self.normalise(text)
        rules = self.rules
        if _any(rules.question_cues, norm) or _any(rules.doubt_cues, norm):
            return False
        if re.search(r"https?://|www\.|\.(com|cn|xyz|top|cc|net)\b", norm):
            return True
        if _any(rules.narrative_cues, norm):
            return False
        return (_any(rules.contact_cues, norm) or norm.count("\n") >= 2 or _any(rules.ad_cues, norm)
                or len(verdict.flags) >= 2)


def _any(patterns: tuple[re.Pattern[str], ...], text: str) -> bool:
    return any(p.search(text) for p in patterns)

"""Message in, verdict out: is this ad, DM or notice a scam or a risky recruitment?

Two signals, like the question matcher's: the red flags curated in
knowledge/red_flags.yaml, which explain (each quotes the words that set it
off), and a classifier trained on the labelled messages of
knowledge/messages.yaml (bot/classifier.py), which catches wording no flag
foresaw and names the topic a message is closest to. Context cues (a warning,
a question, a news report, a rules post) keep texts that only quote scam words
from being flagged. Every verdict carries its next step: what to do now and
where to report, from the topic's official channels.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .classifier import LinearModel, cached_model
from .knowledge import ANY_MEDIUM, KnowledgeBase, Localized, OfficialPath, RedFlags
from .languages import converter
from .text import TextNormaliser, clean_input, has_cjk
from .utf8 import valid_text

Risk = Literal["high", "medium", "low"]
Context = Literal["ad", "warning", "question", "news", "rules", "notice"]

# Long pastes are cut: an ad that needs more than this to show its hand is rare,
# and every step's cost grows with length.
MAX_CHECK_CHARS = 4000
_CJK = "\u4e00-\u9fff"
# "辅 助 注 册", "辅*助*注*册", "辅💰助": ads break up their words to slip past filters.
# Runs of at least three characters broken by spaces, punctuation or emoji are joined up.
_BROKEN_CJK = re.compile(
    rf"[{_CJK}](?:[ \-_*.·•~|/\\\u2600-\u27bf\ufe0f\u200d\U0001f000-\U0001faff]{{1,3}}[{_CJK}]){{2,}}")
_BREAKERS = re.compile(r"[ \-_*.·•~|/\\\u2600-\u27bf\ufe0f\u200d\U0001f000-\U0001faff]")
NONE_CLASS = "-"  # the classifier's label for harmless messages
_LINK = re.compile(r"https?://|www\.|\.(com|cn|xyz|top|cc|net)\b")
_EMAIL = re.compile(r"[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,5}")
HIGH_FROM = 3
MEDIUM_FROM = 2
# An ad that asks to be contacted ("加我私聊", "DM me") is one step riskier.
CONTACT_BONUS = 1
# How far before a red flag's match a negation ("不收", "we will never ask you to") is
# looked for, and how many negated matches of one pattern are skipped before giving up
# (a bound keeps a text of repeated negations linear).
NEGATION_REACH = 30
NEGATED_TRIES = 4
# A text that asks nothing reads as a pasted message (not a word to the bot) from
# this many letters, digits and Chinese characters, in two clauses or from twice as many.
PASTED_MIN_CHARS = 10
_CLAUSE_BREAK = re.compile(r"[，,。；;！!\n]\s*\S")


@dataclass(frozen=True)
class CheckSettings:
    """How the classifier's probability counts beside the red flags' weights.

    Chosen by cross-validation over knowledge/messages.yaml (bench/bench_checker.py).
    """

    classifier_c: float = 10.0
    high_probability: float = 0.85  # the message is risky with at least this probability: 3 points (high alone)
    medium_probability: float = 0.35  # at least this: 2 points (medium alone)
    # At most this: the classifier is sure the message is harmless, and takes points
    # off what the red flags add (a flag's word quoted in an innocent sentence).
    harmless_probability: float = 0.2
    harmless_points: int = 3
    # Fewer letters, digits and Chinese characters than this: too little for the
    # classifier to add points ("<b>hi</b>" is not an ad); the red flags still count.
    classifier_min_chars: int = 8
    # At least this: the classifier is sure the message is risky, and a warning's or a
    # question's words in it ("注意保密", "能交个朋友吗？") do not make it harmless.
    # Scam DMs ask their reader questions more often than they warn.
    overrule_warning_from: float = 0.9
    overrule_question_from: float = 0.7


@dataclass(frozen=True)
class FlagHit:
    id: str
    label: Localized
    trigger: str  # the words of the message that set the flag off
    topic: str
    weight: int


@dataclass(frozen=True)
class Learned:
    """What the classifier says of a message."""

    probability: float  # that the message is risky
    topic: str  # the topic it reads most like (the most likely risky class)
    points: int  # what the probability adds to (or takes from) the red flags' score


@dataclass(frozen=True)
class NextStep:
    """What to do now, and where to report: the channels of the verdict's topic."""

    advice: Localized
    channels: tuple[OfficialPath, ...]

    def as_json(self, lang: str) -> dict:
        return {
            "advice": self.advice.get(lang),
            "report": [{"name": p.name.get(lang), "how": p.how.get(lang)} for p in self.channels],
        }


@dataclass(frozen=True)
class Verdict:
    risk: Risk
    flags: tuple[FlagHit, ...]
    topics: tuple[str, ...]  # topic ids to read, most relevant first
    context: Context  # warnings, questions, news reports, rules posts and ban notices are not ads, whatever words they quote
    score: int
    learned: Learned | None = None
    next_step: NextStep | None = field(default=None, compare=False)
    medium: str = ANY_MEDIUM  # where the message came from (red_flags.yaml `media`): the next step speaks to it

    @property
    def learned_only(self) -> bool:
        """Risky because of the classifier: the red flags alone would have said low."""
        return self.risk != "low" and self.learned is not None and self.learned.points > 0 and \
            self.score - self.learned.points < MEDIUM_FROM

    def as_json(self, lang: str = "zh") -> dict:
        return {
            "risk": self.risk,
            "flags": [
                {"id": f.id, "label": {"zh": f.label.zh, "en": f.label.en}, "trigger": f.trigger, "topic": f.topic}
                for f in self.flags
            ],
            "topics": list(self.topics),
            "context": self.context,
            "score": self.score,
            "learned": None if self.learned is None else {
                "probability": round(self.learned.probability, 4), "topic": self.learned.topic,
                "only": self.learned_only,
            },
            "next_step": self.next_step.as_json(lang) if self.next_step else None,
            "medium": self.medium,
            "lang": lang,
        }


class MessageChecker:
    """Applies one knowledge base's red flags and message classifier to messages."""

    def __init__(self, kb: KnowledgeBase, normaliser: TextNormaliser | None = None,
                 settings: CheckSettings | None = None, model_cache: Path | None = None,
                 train: bool = True) -> None:
        """`model_cache`: where the classifier is cached (default: the normaliser's cache folder).

        `train=False` builds no classifier (red flags only), for comparisons.
        """
        self.kb = kb
        self.rules: RedFlags = kb.red_flags
        self.settings = settings or CheckSettings()
        self.normaliser = normaliser or TextNormaliser(kb.synonyms, kb.userdict)
        self._t2s = converter("t2s")
        self._flags = {f.id: f for f in self.rules.flags}
        self._notice_reasons = frozenset(f.id for f in self.rules.flags if f.notice_reason)
        self.model: LinearModel | None = None
        if train and kb.messages:
            labels = [m.topic or NONE_CLASS for m in kb.messages]
            # Trained on text normalised exactly as check_message normalises what it reads.
            prepared = self.normaliser.prepare_many([self.normalise(m.text) for m in kb.messages])
            self.model = cached_model(model_cache or self.normaliser.cache_dir, "messages", prepared, labels,
                                      self.settings.classifier_c)
            self._none_column = self.model.classes.index(NONE_CLASS)

    def normalise(self, text: str) -> str:
        """Lower case, NFKC (full-width letters and digits), Simplified, broken-up words joined."""
        text = clean_input(valid_text(text))[:MAX_CHECK_CHARS]
        text = unicodedata.normalize("NFKC", text).lower()
        if has_cjk(text):
            text = self._t2s.convert(text)
            text = _BROKEN_CJK.sub(lambda m: _BREAKERS.sub("", m.group(0)), text)
        return text

    def classify(self, norm: str) -> Learned | None:
        """The classifier's reading of a normalised message."""
        if self.model is None:
            return None
        s = self.settings
        written = self.normaliser.normalise(norm, synonyms=False)
        text = self.normaliser.fold(written)
        probabilities = self.model.scores(text, self.normaliser.tokens_of_normalised(text),
                                          self.normaliser.syllables(written))
        risky = 1.0 - float(probabilities[self._none_column])
        best = max((p, c) for c, p in zip(self.model.classes, probabilities.tolist()) if c != NONE_CLASS)[1]
        if risky <= s.harmless_probability:
            points = -s.harmless_points
        elif sum(c.isalnum() for c in norm) < s.classifier_min_chars:
            points = 0
        elif risky >= s.high_probability:
            points = 3
        elif risky >= s.medium_probability:
            points = 2
        else:
            points = 0
        return Learned(risky, best, points)

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
                m = self._affirmed_match(pattern, norm)
                if m:
                    trigger = source[m.start(): m.end()].strip() or m.group(0)
                    hits.append(FlagHit(flag.id, flag.label, trigger, flag.topic, flag.weight))
                    break
        rules = self.rules
        s = self.settings
        learned = self.classify(norm)
        score = max(0, sum(h.weight for h in hits) + (learned.points if learned else 0))
        context: Context = "ad"
        has_contact = _any(rules.contact_cues, norm)
        # News reports and rules posts link to nothing a reader must open; a "notice" with a link may be phishing.
        has_link = _has_link(norm)
        if not has_link and _any(rules.news_cues, norm):
            context = "news"
        elif not has_link and _any(rules.rules_cues, norm):
            context = "rules"
        elif self._own_notice(norm, hits, has_link, has_contact):
            # The platform's notice about the reader's account: the reason it states is no red flag.
            context = "notice"
            hits = []
        elif has_contact:
            # Ads dressed as warnings or questions ask to be contacted; real ones do not.
            score += CONTACT_BONUS if score else 0
        elif _any(rules.warning_cues, _strip(rules.accusation_cues, norm)):
            # A crime pinned on the reader ("您的账户涉嫌洗钱") is a fake officer's script, not a warning.
            context = "warning"
        elif _any(rules.question_cues, norm) and (_any(rules.doubt_cues, norm) or not _any(rules.request_cues, norm)):
            context = "question"
        overrule = {"warning": s.overrule_warning_from, "question": s.overrule_question_from}.get(context)
        if overrule is not None and learned is not None and learned.probability >= overrule:
            context = "ad"
        if context != "ad":
            risk: Risk = "low"
        elif score >= HIGH_FROM:
            risk = "high"
        elif score >= MEDIUM_FROM:
            risk = "medium"
        else:
            risk = "low"
        ordered = sorted(hits, key=lambda h: -h.weight)
        topics = list(dict.fromkeys(h.topic for h in ordered))
        if context == "notice" and rules.notice_topic:
            topics = [rules.notice_topic]
        elif learned and learned.points > 0 and learned.topic not in topics:
            # The flags come first: they say why. The classifier's topic follows, or stands alone.
            topics.append(learned.topic)
        medium = self.medium_of(norm)
        step = self.next_step(risk, topics, ordered, medium, context)
        return Verdict(risk, tuple(ordered), tuple(topics), context, score, learned, step, medium)

    def medium_of(self, norm: str) -> str:
        """Where a normalised message came from (a call, a stall, a DM, an online post), or "any"."""
        return next((medium for medium, cues in self.rules.media if _any(cues, norm)), ANY_MEDIUM)

    def next_step(self, risk: Risk, topics: list[str], hits: list[FlagHit] | tuple[FlagHit, ...] = (),
                  medium: str = ANY_MEDIUM, context: Context = "ad") -> NextStep:
        """What to do now and where to report: the strongest flag's advice for the medium, and its topic's channels.

        Without a flag (the classifier's topic alone), the topic's next step
        from red_flags.yaml, else the topic card's first warning.
        """
        kb = self.kb
        if context == "notice" and topics:
            return NextStep(kb.ui["check_next_notice"], kb.topics[topics[0]].official_paths)
        if risk == "low" or not topics:
            return NextStep(kb.ui["check_next_low"], ())
        topic = kb.topics[topics[0]]
        steps = next((self._flags[h.id].next_step for h in hits if self._flags[h.id].next_step), None)
        steps = steps or self.rules.topic_next_steps.get(topic.id)
        if steps:
            # Written for this risk and medium: only what it leaves unsaid is added.
            first = steps.get(medium) or steps[ANY_MEDIUM]
            tail = [kb.ui[key] for key, said in (("check_next_codes", "验证码"), ("check_next_110", "110"))
                    if said not in first.zh]
        elif topic.warnings:
            first = topic.warnings[0]
            # Most topics' first warning already says "never give a verification code": not twice.
            tail = [kb.ui["check_next_risky_no_codes" if "验证码" in first.zh else "check_next_risky"]]
        else:
            return NextStep(kb.ui["check_next_risky"], topic.official_paths)
        advice = Localized("".join([first.zh, *(t.zh for t in tail)]), " ".join([first.en, *(t.en for t in tail)]),
                           first.wording)
        return NextStep(advice, topic.official_paths)

    def _affirmed_match(self, pattern: re.Pattern[str], norm: str) -> re.Match[str] | None:
        """The pattern's first match not right after a negation ("不收手机卡" says the opposite of the label).

        After a negated match the search goes on from its next character, so
        that "不收手机卡，只收银行卡" still finds "收银行卡".
        """
        pos = 0
        for _ in range(NEGATED_TRIES):
            m = pattern.search(norm, pos)
            if m is None:
                return None
            if not _any(self.rules.negation_cues, norm[max(0, m.start() - NEGATION_REACH):m.start()]):
                return m
            pos = m.start() + 1
        return None

    def _own_notice(self, norm: str, hits: list[FlagHit], has_link: bool, has_contact: bool) -> bool:
        """A platform's notice about the reader's own account, asking nothing of them (no link, contact or scam sign)."""
        if has_link or has_contact or not _any(self.rules.notice_cues, norm):
            return False
        return all(h.id in self._notice_reasons for h in hits)

    def reads_like_a_message(self, text: str, verdict: Verdict | None = None) -> bool:
        """True for a pasted ad or notice rather than a question to the bot.

        Routes private-chat text: questions and first-person stories go to the
        matcher; risky text with a link or contact details, or that asks nothing
        and looks like an ad (several lines, price tags, recruiting words, two
        signals), goes to the checker. Pass the text's verdict if it is already at hand.
        """
        verdict = verdict or self.check_message(text)
        if verdict.context != "ad" or (not verdict.flags and verdict.risk == "low"):
            return False
        norm = self.normalise(text)
        rules = self.rules
        if _any(rules.question_cues, norm) or _any(rules.doubt_cues, norm):
            return False
        if _has_link(norm):
            return True
        if _any(rules.narrative_cues, norm):
            return False
        if _any(rules.contact_cues, norm):
            return True
        if _any(rules.asking_cues, norm):
            return False
        return (norm.count("\n") >= 2 or _any(rules.ad_cues, norm)
                or len(verdict.flags) + bool(verdict.learned and verdict.learned.points > 0) >= 2)

    def asks_about(self, text: str) -> bool:
        """True for a text that asks or doubts ("会不会受影响", "靠谱吗", "is it legit?"): a question, not an offer."""
        norm = self.normalise(text)
        return _any(self.rules.question_cues, norm) or _any(self.rules.doubt_cues, norm)

    def asks_nothing(self, text: str) -> bool:
        """True for a text that asks the bot nothing and tells nothing of the person: a pasted message.

        For text the question matcher has no answer for ("明天晚上七点老地方吃火锅，
        记得带上小王"): the person wants to know if it is safe, so it gets a verdict.
        Short words to the bot ("谢谢"), questions, requests and stories do not.
        """
        norm = self.normalise(text)
        chars = sum(c.isalnum() for c in norm)
        if chars < PASTED_MIN_CHARS or (chars < 2 * PASTED_MIN_CHARS and not _CLAUSE_BREAK.search(norm)):
            return False
        rules = self.rules
        cues = (rules.question_cues, rules.doubt_cues, rules.asking_cues, rules.narrative_cues, rules.request_cues,
                rules.to_bot_cues)
        return not any(_any(c, norm) for c in cues)


def _any(patterns: tuple[re.Pattern[str], ...], text: str) -> bool:
    return any(p.search(text) for p in patterns)


def _has_link(norm: str) -> bool:
    return _LINK.search(_EMAIL.sub(" ", norm)) is not None  # an e-mail address (…@qq.com) is not a link


def _strip(patterns: tuple[re.Pattern[str], ...], text: str) -> str:
    for p in patterns:
        text = p.sub(" ", text)
    return text

"""What a conversation is, for every channel: text in, a reply out.

Telegram, the web page, the WeChat Official Account and the terminal chat all
talk to a Conversation. It decides what a message is (a step of the /banned
checklist, a pasted ad to check, a question, a follow-up to the last card), in
which language to answer, and keeps each person's state (language, last card,
checklist step) in the store. Channels only translate replies to their wire
format; nothing here knows about any of them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from typing import Callable, Union

from . import languages
from .checker import MessageChecker, Verdict
from .knowledge import NOTICE_REASONS, Fallback, KnowledgeBase, OfficialPath, Topic
from .matcher import Match, Matcher
from .notices import UNKNOWN, NoticeReader, NoticeReading
from .pinyin import reads_as_pinyin
from .privacy import mask_personal_data
from .reading import LinkFact, PictureReader, Reading, links_in
from .reload import LiveKnowledge
from .store import Store
from .text import has_cjk

# /banned: platforms, the reasons a ban notice gives, and how long a half-finished checklist waits.
PLATFORMS = ("wechat", "qq", "other")
REASONS = (*NOTICE_REASONS, UNKNOWN)
FLOW_TIMEOUT = 15 * 60
# The `platform` of the official paths each choice shows: "other" gets only the
# paths that suit every platform (never a WeChat-only menu).
PATH_PLATFORM = {"wechat": "wechat", "qq": "qq", "other": "any"}
# The checklist's steps: heading, topic, and whether the step lists the platform's paths.
# Every reason goes through the same appeal: a "suspected fraud" ban is an ordinary
# ban, and the regional anti-fraud card is only a pointer under the reason.
CHECKLIST_STEPS = (
    ("banned_step_appeal", "ban-appeal", True),
    ("banned_step_money", "banned-funds-withdrawal", True),
    ("banned_step_data", "banned-data-recovery", True),
    ("banned_step_dont", "paid-unseal-service", False),
)
# The topic a reason's step links to (its text is ui.yaml's banned_reason_<reason>).
# None of them is a reporting card: a banned user is not told how to report others.
REASON_TOPIC = {
    "fraud": "regional-fraud-ban",
    "gambling": "gambling-consequences",
    "porn": "ban-types-duration",
    "helping": "unseal-helper-job",
    "unknown": "ban-types-duration",
}
# Cards that also offer the /banned checklist.
GUIDED_FLOW_TOPICS = frozenset({"ban-appeal", "regional-fraud-ban"})
# A follow-up is read with the last card in mind, and a number picks from the
# last "did you mean", for this long.
LAST_CARD_TTL = 30 * 60
APPEAL_TOPIC = "ban-appeal"
REPORT_TOPICS = ("report-gambling", "report-porn-contraband", "report-fraud-general")


# -- replies ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """A topic card."""

    topic: Topic
    lang: str
    situation: str | None = None  # where the asker stands (situations.yaml): which first lines they read
    # Asked for by name (a button, a shared link, a number, a command) rather than the answer to a
    # question: shown whole, its first lines on top, where a question's answer is the short form first.
    whole: bool = False

    @property
    def offers_checklist(self) -> bool:
        return self.topic.id in GUIDED_FLOW_TOPICS


@dataclass(frozen=True)
class Choices:
    """"Did you mean": the topics the question may be about, best first."""

    topics: tuple[Topic, ...]
    lang: str
    situation: str | None = None  # the asker's situation in the first topic


@dataclass(frozen=True)
class NoAnswer:
    """An honest no-answer: what the bot covers, and the general channels (110, 96110)."""

    lang: str
    fallback: Fallback | None = None  # another platform's ban, a frozen bank card: what holds everywhere


@dataclass(frozen=True)
class Checked:
    """The verdict on a pasted or forwarded message."""

    verdict: Verdict
    text: str  # what was checked: a channel may offer to read it as a question instead
    lang: str
    offer_question: bool  # routed here by guess, not asked for: offer "I meant it as a question"
    links: tuple[LinkFact, ...] = ()  # the addresses in the text (and a picture's QR codes), explained


@dataclass(frozen=True)
class ChecklistQuestion:
    """A step of the /banned checklist that asks something: the platform, then the notice's reason."""

    step: str  # "platform", then "notice" (the reason the ban notice gives)
    options: tuple[tuple[str, str], ...]  # (value, label)
    lang: str


@dataclass(frozen=True)
class ChecklistItem:
    heading: str
    topic: Topic
    paths: tuple[OfficialPath, ...]
    note: str | None = None


@dataclass(frozen=True)
class Checklist:
    """The personal checklist at the end of /banned."""

    platform: str
    reason: str
    items: tuple[ChecklistItem, ...]
    reason_heading: str
    reason_text: str
    reason_topic: Topic
    lang: str
    notice: NoticeReading | None = None  # what a pasted notice states, when the reason came from one

    @property
    def topics(self) -> list[Topic]:
        return list({t.id: t for t in [*(i.topic for i in self.items), self.reason_topic]}.values())


@dataclass(frozen=True)
class Notice:
    """An interface text of ui.yaml: welcome, help, cancelled, expired, empty question…"""

    key: str
    lang: str


@dataclass(frozen=True)
class Pictured:
    """A picture's reply: what was read from it (shown, so that a misreading shows), then the reply to that text."""

    text: str  # everything read, line by line
    codes: tuple[LinkFact, ...]  # the picture's QR codes, explained
    reply: "Reply"  # to the text: a card, a verdict, the checklist… or a notice (nothing could be read)
    lang: str

    @property
    def excerpt(self) -> str:
        """The read text as the reply quotes it: one line, shortened, personal data masked."""
        flat = " / ".join(line.strip() for line in self.text.splitlines() if line.strip())
        flat = mask_personal_data(flat)
        return flat if len(flat) <= PICTURE_EXCERPT else flat[:PICTURE_EXCERPT - 1] + "…"

    @property
    def risk(self) -> str | None:
        return self.reply.verdict.risk if isinstance(self.reply, Checked) else None


Reply = Union[Card, Choices, NoAnswer, Checked, ChecklistQuestion, Checklist, Notice, Pictured]
# Characters of a picture's text quoted back to the sender.
PICTURE_EXCERPT = 120
RISK_RANK = {"low": 0, "medium": 1, "high": 2}
PARAGRAPH_MIN = 6  # letters, digits or characters of a paragraph the matcher is asked about on its own
LINK_TOPIC = "suspicious-links-apps"  # the topic of a verdict that only a disguised address made risky


class Conversation:
    """The conversations with everyone, on every channel, over the knowledge base being served.

    A user is a string that is stable for a person on a channel ("123" for a
    Telegram user, "web:…" for a browser, "wx:…" for a WeChat follower).
    `knowledge` (bot/reload.py) supplies the matcher and checker of the
    bundle the request pinned, so a live reload never mixes two knowledge bases
    in one reply; without it, `matcher` and `checker` are served as they are.
    """

    def __init__(self, matcher: Matcher | None, checker: MessageChecker | None, store: Store,
                 clock: Callable[[], float] = time.time, knowledge: LiveKnowledge | None = None) -> None:
        if knowledge is None:
            assert matcher is not None, "a matcher or live knowledge is needed"
            knowledge = LiveKnowledge.fixed(matcher, checker)
        self.knowledge = knowledge
        self.store = store
        self.clock = clock
        self._notices: tuple[KnowledgeBase, NoticeReader] | None = None
        # Pictures are read off the event loop, a few at a time; the OCR models load on the first one.
        self._pictures = PictureReader(self.kb.domains)

    @property
    def notices(self) -> NoticeReader:
        """The ban-notice reader of the knowledge base this request pinned (again after a reload)."""
        kb = self.kb
        if self._notices is None or self._notices[0] is not kb:
            self._notices = (kb, NoticeReader(kb.ban_notices))
        return self._notices[1]

    @property
    def pictures(self) -> PictureReader:
        """The one picture reader (its models load once), reading links with the pinned knowledge base's domains."""
        self._pictures.domains = self.kb.domains
        return self._pictures

    @property
    def matcher(self) -> Matcher:
        return self.knowledge.get().matcher

    @property
    def checker(self) -> MessageChecker:
        return self.knowledge.get().checker

    @property
    def kb(self) -> KnowledgeBase:
        return self.knowledge.get().kb

    def text(self, key: str, lang: str) -> str:
        return self.kb.text(key, lang)

    # -- language ----------------------------------------------------------------------

    def language(self, user: str, text: str | None = None, fallback: str | None = None) -> str:
        """The answer language: the person's choice, else the text's language and script, else `fallback`."""
        chosen = self.store.get(f"lang:{user}")
        if chosen in languages.LANGUAGES:
            return chosen
        if text and any(c.isalpha() for c in text):
            return languages.detect(text)
        return languages.normalize_code(fallback) or languages.DEFAULT

    def set_language(self, user: str, code: str | None) -> str:
        """Remember a language choice (None: follow each message); the language now in force."""
        code = code if code in languages.LANGUAGES else None
        self.store.put(f"lang:{user}", code)
        return self.language(user)

    # -- messages ----------------------------------------------------------------------

    def receive(self, user: str, text: str, fallback_lang: str | None = None, lang: str | None = None) -> Reply:
        """Any text a person sends: a numbered choice, a checklist answer, a pasted ad, or a question.

        Channels without buttons (the terminal, WeChat) show choices numbered;
        a bare number answers the last question asked. `lang`: a language the
        channel keeps for the person itself (the page's cookie), over the text's.
        """
        chosen = lang
        state = self._flow(user)
        number = int(text.strip()) if text.strip().isdigit() and len(text.strip()) <= 2 else None
        offered = self._recent(f"flow:offered:{user}") or {}
        if number is not None:
            # A bare number has no language of its own: it answers in the question's.
            fallback_lang = (state or offered).get("lang") or fallback_lang
        lang = chosen or self.language(user, text, fallback_lang)
        if not text.strip():
            return Notice("empty_question", lang)
        if state is not None and number is not None:
            options = PLATFORMS if state.get("step") == "platform" else REASONS
            if 1 <= number <= len(options):
                if state.get("step") == "platform":
                    return self.checklist_platform(user, options[number - 1], lang)
                return self._finish_checklist(user, state, options[number - 1], lang)
        if state is not None and state.get("step") == "notice":
            return self._finish_checklist(user, state, self.read_notice(text), lang)
        topics = self._offered(user)
        if number is not None and 1 <= number <= len(topics):
            situation = offered.get("situation") if isinstance(offered.get("situation"), str) else None
            return self.open(user, topics[number - 1], lang, situation=situation)
        verdict, links = self.check_links(text)
        if self.checker.reads_like_a_message(text, verdict):
            return Checked(verdict, text, lang, offer_question=True, links=links)
        reply = self.question(user, text, lang)
        if isinstance(reply, NoAnswer) and reply.fallback is None and self.checker.asks_nothing(text):
            # No question in it and no answer for it: a pasted message, and the person wants to know if it is safe.
            return Checked(verdict, text, lang, offer_question=True, links=links)
        if isinstance(reply, Card) and verdict.context == "notice" and not self._suits_notice(reply.topic.id, text):
            # The person's own ban notice: never a card about a reason it does not state.
            return self.open(user, self.kb.ban_notices.topics[0], lang, situation=reply.situation, whole=False)
        return reply

    def _suits_notice(self, topic_id: str, notice: str) -> bool:
        """True when a card may answer a pasted notice: it suits any notice, or speaks of the reason the notice states."""
        notices = self.kb.ban_notices
        stated = notices.reasons.get(self.read_notice(notice).reason)
        return topic_id in notices.topics or (stated is not None and topic_id in stated.topics)

    def question(self, user: str, text: str, lang: str | None = None, previous_topic: str | None = None,
                 private: bool = True) -> Reply:
        """Text read as a question: a card, choices, or an honest no-answer.

        A follow-up ("and the money in it?") is read with the person's last
        card in mind, or with `previous_topic` (a group reply to a card).
        `private=False` (a group): the person's private state is neither read nor changed.
        """
        lang = lang or self.language(user, text)
        if not text.strip():
            return Notice("empty_question", lang)
        previous = previous_topic or (self._last_card(user) if private else None)
        match = self.matcher.match_followup(text, previous)
        return self.reply_to_match(user, text, match, lang, private)

    def as_question(self, user: str, text: str, lang: str | None = None) -> Reply:
        """A message the checker took for an ad, which its sender says they meant as a question.

        Answered as a question, and kept (masked) for curators: the checker's routing
        or the knowledge base may need a phrasing.
        """
        if text.strip():
            self.store.record_unanswered(text, languages.detect(text), kind="as_question")
        return self.question(user, text, lang)

    def reply_to_match(self, user: str, text: str, match: Match, lang: str, private: bool = True) -> Reply:
        kb = self.kb
        if private and match.decision != "suggest" and self._offered(user):
            self.store.put(f"flow:offered:{user}", None)  # a new question: old numbers mean nothing now
        if match.decision == "answer" and match.topic:
            return self.open(user, match.topic, lang, remember=private, situation=match.situation, whole=False)
        if match.decision == "suggest" and match.topic and not private:
            self.store.record_unanswered(text, match.lang, kind="low")
            ids = [match.topic] + [a.topic for a in match.alternatives]
            return Choices(tuple(kb.topics[t] for t in ids if t in kb.topics), lang, match.situation)
        if match.decision == "suggest" and match.topic:
            # An unsure answer: a curator may add the question as a phrasing of the topic it meant.
            self.store.record_unanswered(text, match.lang, kind="low")
            return self.offer(user, [match.topic] + [a.topic for a in match.alternatives], lang, match.situation)
        self.store.record_unanswered(text, match.lang)
        return NoAnswer(lang, kb.fallbacks.get(match.fallback))

    def offer(self, user: str, topic_ids: list[str], lang: str, situation: str | None = None) -> Choices:
        """Topics to choose from (did you mean, a menu); a bare number then picks one.

        `situation`: the asker's, kept so that the card picked opens with that reader's first lines.
        """
        ids = [t for t in topic_ids if t in self.kb.topics]
        self.store.put(f"flow:offered:{user}", json.dumps({"topics": ids, "lang": lang, "situation": situation,
                                                            "at": self.clock()}))
        return Choices(tuple(self.kb.topics[t] for t in ids), lang, situation)

    def open(self, user: str, topic_id: str, lang: str | None = None, remember: bool = True,
             situation: str | None = None, whole: bool = True) -> Card | Notice:
        """A topic's card (a deep link, a button, a topic page); remembered as the last card."""
        lang = lang or self.language(user)
        topic = self.kb.topics.get(topic_id)
        if topic is None:
            return Notice("button_expired", lang)
        self.store.record_view(topic.id)
        if remember:
            self.store.put(f"flow:last:{user}", json.dumps({"topic": topic.id, "at": self.clock()}))
        return Card(topic, lang, situation if topic.situation(situation) else None, whole)

    def check(self, user: str, text: str, lang: str | None = None, offer_question: bool = False) -> Checked | Notice:
        """A message the person asks about on purpose (/check, a forward, the page's check box).

        `offer_question`: the person sent it without saying why (a forward), so
        they may have meant it as a question.
        """
        lang = lang or self.language(user, text)
        if not text.strip():
            return Notice("check_usage", lang)
        verdict, links = self.check_links(text)
        return Checked(verdict, text, lang, offer_question, links)

    def check_links(self, text: str, codes: tuple[LinkFact, ...] = ()) -> tuple[Verdict, tuple[LinkFact, ...]]:
        """The checker's verdict, with the addresses of the text (and QR codes) explained.

        A disguised address (a lookalike, punycode, a bare IP, a shortener) makes an
        ad at least as risky as the address alone; a warning that quotes one stays a warning.
        """
        verdict = self.checker.check_message(text) if text.strip() else self._empty_verdict()
        if not verdict.flags and reads_as_pinyin(text) and not has_cjk(text):
            # An ad typed in pinyin to slip past word filters ("jian zhi shua dan, ri jie 300"): judged as the
            # words it spells, as a question in pinyin is answered; what they show outweighs a guess at the letters.
            decoder = self.matcher.pinyin_decoder()
            spelled = decoder.decode(self.matcher.normaliser.normalise(text, synonyms=False)) if decoder else ""
            if spelled and has_cjk(spelled):
                read = self.checker.check_message(spelled)
                if read.flags or RISK_RANK[read.risk] > RISK_RANK[verdict.risk]:
                    verdict = read
        links = tuple(codes) + links_in(text, self.kb.domains)
        worst = max((f.risk for f in links if f.risk and (f.in_qr or verdict.context in ("ad", "notice"))),
                    key=RISK_RANK.__getitem__, default=None)
        if worst is not None and RISK_RANK[worst] > RISK_RANK[verdict.risk]:
            topics = verdict.topics or ((LINK_TOPIC,) if LINK_TOPIC in self.kb.topics else ())
            verdict = replace(verdict, risk=worst, context="ad", topics=topics,
                              next_step=self.checker.next_step(worst, list(topics), verdict.flags, verdict.medium))
        return verdict, links

    def _picture_match(self, text: str) -> Match:
        """The matcher on a picture's whole text, else on each of its paragraphs, the newest (lowest) first:
        a chat screenshot holds a name, a greeting and the one message that asks something."""
        match = self.matcher.match_question(text)
        if match.decision == "answer":
            return match
        paragraphs = [p for p in text.splitlines() if sum(c.isalnum() for c in p) >= PARAGRAPH_MIN]
        for paragraph in reversed(paragraphs if len(paragraphs) > 1 else []):
            candidate = self.matcher.match_question(paragraph)
            if candidate.decision == "answer":
                return candidate
        return match

    def _offer_in_chat(self, text: str, reading: Reading, verdict: Verdict) -> Verdict:
        """A chat that reads as a question or a warning only because of the reader's own words about the other
        side's offer ("我的号会不会受影响？", "好的，怎么退？", "what?? 我从来没做过"): the offer gets the verdict when
        it is risky. The offer is the paragraphs that ask nothing (a question only), then the other side's words
        (reading.others). A reader who shares news and says "活该" keeps the whole chat's verdict."""
        parts = []
        if verdict.context == "question":
            paragraphs = [p for p in text.splitlines() if p.strip()]
            told = [p for p in paragraphs if not self.checker.asks_about(p)]
            if told and len(told) < len(paragraphs):
                parts.append("\n".join(told))
        if verdict.context in ("question", "warning") and reading.others.strip():
            parts.append(reading.others.strip())
        for part in parts:
            offer, _ = self.check_links(part, reading.codes)
            if offer.context == "ad" and offer.risk != "low":
                return offer
        return verdict

    def _empty_verdict(self) -> Verdict:
        return Verdict("low", (), (), "ad", 0, None, self.checker.next_step("low", []))

    def picture(self, user: str, reading: Reading, fallback_lang: str | None = None,
                lang: str | None = None) -> Pictured:
        """A picture's text and QR codes, read as a person holding the screenshot means them.

        In the /banned checklist, a screenshot of the ban notice answers its question.
        Otherwise a notice or a question the bot can answer gets its card, and
        anything else (an ad, a DM, a poster, a code alone) gets a verdict.
        """
        text = reading.text.strip()
        lang = lang or self.language(user, text, fallback_lang)
        if not text and not reading.codes:
            return Pictured("", (), Notice("picture_no_text", lang), lang)
        state = self._flow(user)
        if text and state is not None and state.get("step") == "notice":
            return Pictured(text, reading.codes, self._finish_checklist(user, state, self.read_notice(text), lang), lang)
        verdict, links = self.check_links(text, reading.codes)  # the links of every paragraph are shown
        verdict = self._offer_in_chat(text, reading, verdict)
        checked = Checked(verdict, text, lang, offer_question=False, links=links)
        # Only the classifier's hunch, no red flag and no disguised address: a ban notice or a
        # question the bot is sure about gets its card (notices share an ad's words: 封号, 解封).
        # A classifier that is sure (high on its own) is no hunch: an offer in plain words.
        hunch = verdict.learned_only and not verdict.flags and not any(f.risk for f in links) \
            and verdict.learned.probability < self.checker.settings.high_probability
        if not text or (verdict.risk != "low" and not hunch):
            return Pictured(text, reading.codes, checked, lang)
        # A screenshot has several lines and reads like a pasted message, so that test is not asked here.
        match = self._picture_match(text)
        notice_topics = self.kb.ban_notices.topics
        if match.decision == "answer" and match.topic:
            topic = match.topic
            if verdict.context == "notice" and notice_topics and not self._suits_notice(topic, text):
                topic = notice_topics[0]  # the reader's own ban notice: never a card about a reason it does not state
            return Pictured(text, reading.codes, self.open(user, topic, lang, situation=match.situation, whole=False), lang)
        if verdict.context == "notice" and notice_topics:
            # The platform's notice about the reader's account, in words the matcher is unsure of: the card every notice suits.
            card = self.open(user, notice_topics[0], lang, situation=match.situation, whole=False)
            return Pictured(text, reading.codes, card, lang)
        if hunch and verdict.risk != "low":
            return Pictured(text, reading.codes, checked, lang)
        # Half-recognised (a notice in unusual words): the likely cards to choose from, unless the
        # text is a warning, news or a group's rules, which ask nothing.
        if match.decision == "suggest" and match.topic and verdict.context in ("ad", "question") \
                and not self.checker.reads_like_a_message(text, verdict):
            choices = self.offer(user, [match.topic] + [a.topic for a in match.alternatives], lang, match.situation)
            return Pictured(text, reading.codes, choices, lang)
        return Pictured(text, reading.codes, checked, lang)

    def vote(self, user: str, topic_id: str, up: bool) -> bool:
        """Feedback on a card: one vote per person and card (a second press replaces the first)."""
        if topic_id not in self.kb.topics:
            return False
        self.store.record_vote(topic_id, 1 if up else -1, user)
        return True

    def _last_card(self, user: str) -> str | None:
        last = self._recent(f"flow:last:{user}")
        return last.get("topic") if last else None

    def _offered(self, user: str) -> list[str]:
        """The topics of the last "did you mean", in order, while they are fresh."""
        offered = self._recent(f"flow:offered:{user}")
        topics = offered.get("topics") if offered else None
        return [t for t in topics if t in self.kb.topics] if isinstance(topics, list) else []

    def _recent(self, key: str) -> dict | None:
        raw = self.store.get(key)
        try:
            value = json.loads(raw) if raw else None
        except ValueError:
            return None
        if not isinstance(value, dict) or self.clock() - float(value.get("at", 0)) > LAST_CARD_TTL:
            return None
        return value

    # -- the /banned checklist --------------------------------------------------------

    def platform_options(self, lang: str) -> tuple[tuple[str, str], ...]:
        """(value, label) of the checklist's first question: which platform."""
        labels = {"wechat": "微信 WeChat", "qq": "QQ", "other": self.text("banned_other_platform", lang)}
        return tuple((p, labels[p]) for p in PLATFORMS)

    def reason_options(self, lang: str) -> tuple[tuple[str, str], ...]:
        """(value, label) of the checklist's second question: the reason the notice gives."""
        return tuple((r, self.text(f"banned_notice_{r}", lang)) for r in REASONS)

    def checklist_start(self, user: str, lang: str | None = None) -> ChecklistQuestion:
        lang = lang or self.language(user)
        self._save_flow(user, {"step": "platform", "lang": lang})
        return ChecklistQuestion("platform", self.platform_options(lang), lang)

    def checklist_platform(self, user: str, platform: str, lang: str | None = None) -> ChecklistQuestion | Notice:
        lang = lang or self.language(user)
        if self._flow(user) is None or platform not in PLATFORMS:
            return Notice("flow_expired", lang)
        self._save_flow(user, {"step": "notice", "platform": platform, "lang": lang})
        return ChecklistQuestion("notice", self.reason_options(lang), lang)

    def checklist_reason(self, user: str, reason: str, lang: str | None = None) -> Checklist | Notice:
        lang = lang or self.language(user)
        state = self._flow(user)
        if state is None or state.get("step") != "notice" or reason not in REASONS:
            return Notice("flow_expired", lang)
        return self._finish_checklist(user, state, reason, lang)

    def cancel(self, user: str, lang: str | None = None) -> Notice:
        lang = lang or self.language(user)
        had_flow = self._flow(user) is not None
        self._save_flow(user, None)
        return Notice("flow_cancelled" if had_flow else "flow_nothing_to_cancel", lang)

    def read_notice(self, text: str) -> NoticeReading:
        """What a pasted ban notice states: its reason ("unknown" unless it names one) and its term."""
        return self.notices.read(text)

    def checklist(self, platform: str, reason: str | NoticeReading, lang: str) -> Checklist:
        """The personal checklist: the chosen platform's channels, nothing about reporting others.

        `reason`: the one the person chose, or what their pasted notice states;
        the notice's own words for its reason and term are read back to them.
        """
        kb = self.kb
        notice = reason if isinstance(reason, NoticeReading) else None
        reason = notice.reason if notice else reason
        wanted = PATH_PLATFORM.get(platform, "any")
        items = []
        shown: set[str] = set()  # a path listed under one step is not repeated under the next
        for key, topic_id, with_paths in CHECKLIST_STEPS:
            topic = kb.topics[topic_id]
            paths = tuple(p for p in topic.official_paths if with_paths and p.suits(wanted) and p.name.zh not in shown)
            shown.update(p.name.zh for p in paths)
            note = self.text("banned_other_note", lang) if key == "banned_step_appeal" and not paths else None
            items.append(ChecklistItem(self.text(key, lang), topic, paths, note))
        return Checklist(platform, reason, tuple(items), self.text("banned_step_reason", lang),
                         self.reason_text(platform, reason, notice, lang), kb.topics[REASON_TOPIC[reason]], lang,
                         notice)

    def reason_text(self, platform: str, reason: str, notice: NoticeReading | None, lang: str) -> str:
        """The reason step: what the notice states in its own words, then what that reason means on this platform."""
        lines = []
        if notice is not None and notice.reason_words:
            lines.append(self.text("banned_notice_states_reason", lang).replace("{words}", notice.reason_words))
        elif notice is not None:
            lines.append(self.text("banned_notice_states_no_reason", lang))
        if notice is not None and notice.term:
            lines.append(self.text("banned_notice_states_term", lang).replace("{term}", notice.term))
        key = f"banned_reason_{reason}"
        if platform != "wechat" and f"{key}_elsewhere" in self.kb.ui:
            # A step that quotes WeChat's rules has a version for QQ and others that says they are WeChat's.
            key += "_elsewhere"
        lines.append(self.text(key, lang))
        return "\n".join(lines)

    def checklist_state(self, user: str) -> dict | None:
        """Where the person is in /banned (for channels that show the step as a page), or None."""
        return self._flow(user)

    def _finish_checklist(self, user: str, state: dict, reason: str | NoticeReading, lang: str) -> Checklist:
        self._save_flow(user, None)
        return self.checklist(state.get("platform", "wechat"), reason, lang)

    def _flow(self, user: str) -> dict | None:
        raw = self.store.get(f"flow:banned:{user}")
        if raw is None:
            return None
        try:
            state = json.loads(raw)
        except ValueError:
            state = {}
        if not isinstance(state, dict) or self.clock() - float(state.get("at", 0)) > FLOW_TIMEOUT:
            self.store.put(f"flow:banned:{user}", None)
            return None
        return state

    def _save_flow(self, user: str, state: dict | None) -> None:
        value = None if state is None else json.dumps({**state, "at": self.clock()})
        self.store.put(f"flow:banned:{user}", value)

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
from dataclasses import dataclass
from typing import Callable, Union

from . import languages
from .checker import MessageChecker, Verdict
from .knowledge import NOTICE_REASONS, Fallback, KnowledgeBase, OfficialPath, Topic
from .matcher import Match, Matcher
from .notices import UNKNOWN, NoticeReader, NoticeReading
from .store import Store

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


Reply = Union[Card, Choices, NoAnswer, Checked, ChecklistQuestion, Checklist, Notice]


class Conversation:
    """One knowledge base's conversations with everyone, on every channel.

    A user is a string that is stable for a person on a channel ("123" for a
    Telegram user, "web:…" for a browser, "wx:…" for a WeChat follower).
    """

    def __init__(self, matcher: Matcher, checker: MessageChecker, store: Store,
                 clock: Callable[[], float] = time.time) -> None:
        self.matcher = matcher
        self.checker = checker
        self.store = store
        self.clock = clock
        self.notices = NoticeReader(matcher.kb.ban_notices)

    @property
    def kb(self) -> KnowledgeBase:
        return self.matcher.kb

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

    def receive(self, user: str, text: str, fallback_lang: str | None = None) -> Reply:
        """Any text a person sends: a numbered choice, a checklist answer, a pasted ad, or a question.

        Channels without buttons (the terminal, WeChat) show choices numbered;
        a bare number answers the last question asked.
        """
        state = self._flow(user)
        number = int(text.strip()) if text.strip().isdigit() and len(text.strip()) <= 2 else None
        offered = self._recent(f"flow:offered:{user}") or {}
        if number is not None:
            # A bare number has no language of its own: it answers in the question's.
            fallback_lang = (state or offered).get("lang") or fallback_lang
        lang = self.language(user, text, fallback_lang)
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
        verdict = self.checker.check_message(text)
        if self.checker.reads_like_a_message(text, verdict):
            return Checked(verdict, text, lang, offer_question=True)
        reply = self.question(user, text, lang)
        if isinstance(reply, NoAnswer) and reply.fallback is None and self.checker.asks_nothing(text):
            # No question in it and no answer for it: a pasted message, and the person wants to know if it is safe.
            return Checked(verdict, text, lang, offer_question=True)
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

    def reply_to_match(self, user: str, text: str, match: Match, lang: str, private: bool = True) -> Reply:
        kb = self.kb
        if private and match.decision != "suggest" and self._offered(user):
            self.store.put(f"flow:offered:{user}", None)  # a new question: old numbers mean nothing now
        if match.decision == "answer" and match.topic:
            return self.open(user, match.topic, lang, remember=private, situation=match.situation, whole=False)
        if match.decision == "suggest" and match.topic and not private:
            ids = [match.topic] + [a.topic for a in match.alternatives]
            return Choices(tuple(kb.topics[t] for t in ids if t in kb.topics), lang, match.situation)
        if match.decision == "suggest" and match.topic:
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
        return Checked(self.checker.check_message(text), text, lang, offer_question)

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

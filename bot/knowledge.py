"""The knowledge base: knowledge/ loaded and validated once into typed, immutable topics.

Loading is all-or-nothing: every problem in every file is collected and reported
(file, topic, field, line), and no KnowledgeBase is returned unless all are valid.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import loadcache
from .languages import CONVERTED, Wording, base_of, localize
from .regex_shape import super_linear_problems
from .text import SynonymTable, clean_input, default_cache_dir, has_cjk


def _yaml_loader() -> Any:
    """libyaml's loader when available (several times faster), else PyYAML's own.

    PyYAML is imported here, not at the top: a warm start finds every file's
    data in the load cache (bot/loadcache.py) and never needs it.
    """
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


LANGS = ("zh", "en")
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
# Ids travel in deep links (64 characters) and in callback data (64 bytes,
# shared with a short prefix), so they are kept well below both.
MAX_ID_LEN = 40
MAX_TITLE = 60
MAX_SUMMARY = 200
MAX_ANSWER = 1200
MIN_QUESTIONS = 12
MAX_FIRST = {"zh": 90, "en": 240}  # the answer first: two lines on a phone
MIN_SITUATION_QUESTIONS = 8
# Which app an official path is for; "any" (the default) suits every platform (110, 96110 ...).
# Channels that show one platform's paths (the /banned checklist) filter on it.
PATH_PLATFORMS = ("wechat", "qq", "any")
# What a card's source is: a source document (its file name) or a public fact (where it is published).
SOURCE_KINDS = ("seed", "public")
_PUNCT = re.compile(r"[\s.,!?;:'\"，。！？；：、“”‘’（）()\-]+")

# Every field of a topic file, with whether it is required and what it means.
# knowledge/README.md documents the same table; a test keeps the two in step.
TOPIC_FIELDS: dict[str, tuple[bool, str]] = {
    "id": (True, "public slug, equal to the file name"),
    "theme": (True, "the themes.yaml group that lists the topic"),
    "title": (True, "{zh, en} short title"),
    "summary": (True, "{zh, en} one or two sentences for inline results and group cards"),
    "questions": (True, f"{MIN_QUESTIONS}+ ways people ask it"),
    "keywords": (True, "domain terms that signal the topic"),
    "answer": (True, f"{{zh, en}} plain-text steps, at most {MAX_ANSWER} characters each"),
    "official_paths": (True, "list of {name: {zh, en}, how: {zh, en}, platform: wechat|qq|any (optional)}"),
    "warnings": (False, "list of {zh, en}: what not to do"),
    "sources": (True, "list of {seed or public, supports, zh, en}: a source document or a published public fact, "
                      "what the card takes from it, and the line users see naming it"),
    "related": (True, "other topic ids"),
    "requires": (False, "words of which a question must hold one for the topic to win outright"),
    "first": (True, "{zh, en} the direct answer to the general reader, at most two lines"),
    "situations": (False, "list of {id, first: {zh, en}, questions}: other readers of the topic (situations.yaml ids)"),
}

# Interface strings the code looks up in ui.yaml; a missing one is a load error,
# not a KeyError in front of a user.
UI_KEYS = (
    "no_answer",
    "no_answer_first",
    "no_answer_scope",
    "first_suggest",
    "banned_first",
    "full_steps",
    "did_you_mean",
    "general_channels",
    "official_paths",
    "warnings",
    "sources",
    "related",
    "topic_list",
    "empty_question",
    "all_topics",
    "read_more",
    "ask_in_private",
    "welcome",
    "help",
    "rate_limited",
    "text_only",
    "apology",
    "lang_choose",
    "lang_auto",
    "lang_set",
    "report_intro",
    "ask_usage",
    "topic_usage",
    "vote_thanks",
    "button_expired",
    "check_context_warning",
    "check_context_question",
    "check_context_news",
    "check_context_rules",
    "check_context_notice",
    "check_usage",
    "check_high",
    "check_medium",
    "check_low",
    "check_as_question",
    "check_flags",
    "check_learned",
    "check_next",
    "check_next_risky",
    "check_next_risky_no_codes",
    "check_next_codes",
    "check_next_110",
    "check_next_low",
    "check_next_notice",
    "check_channels",
    "web_title",
    "web_tagline",
    "web_placeholder",
    "web_send",
    "web_send_hint",
    "web_topics",
    "web_home",
    "web_vote_question",
    "web_not_found",
    "web_continue",
    "web_banned_paste",
    "web_emergency",
    "web_share",
    "web_too_many",
    "web_not_saved",
    "reply_with_number",
    "full_answer",
    "wechat_menu_word",
    "wechat_banned_word",
    "wechat_cancel_word",
    "wechat_welcome",
    "wechat_menu",
    "wechat_hint",
    "wechat_voice_empty",
    "wechat_banned_hint",
    "wechat_menu_hint",
    "banned_start",
    "banned_ask_platform",
    "banned_cancel_hint",
    "banned_ask_notice",
    "banned_notice_fraud",
    "banned_notice_gambling",
    "banned_notice_porn",
    "banned_notice_helping",
    "banned_notice_unknown",
    "banned_other_platform",
    "banned_checklist",
    "banned_step_appeal",
    "banned_step_money",
    "banned_step_data",
    "banned_step_dont",
    "banned_step_reason",
    "banned_reason_fraud",
    "banned_reason_gambling",
    "banned_reason_porn",
    "banned_reason_helping",
    "banned_reason_unknown",
    "banned_reason_gambling_elsewhere",
    "banned_reason_porn_elsewhere",
    "banned_reason_helping_elsewhere",
    "banned_reason_unknown_elsewhere",
    "banned_notice_states_reason",
    "banned_notice_states_no_reason",
    "banned_notice_states_term",
    "banned_other_note",
    "flow_cancelled",
    "flow_nothing_to_cancel",
    "flow_expired",
    "guard_usage",
    "guard_admins_only",
    "guard_on",
    "guard_delete_on",
    "guard_delete_no_right",
    "guard_off",
    "guard_status_on",
    "guard_status_delete",
    "guard_status_off",
    "guard_warning",
    "picture_read",
    "picture_qr",
    "picture_links",
    "picture_no_text",
    "picture_not_image",
    "picture_too_big",
    "picture_too_many_pixels",
    "picture_broken",
    "picture_busy",
    "picture_timeout",
    "picture_send_text",
    "picture_send_text_page",
    "link_official",
    "link_lookalike",
    "link_punycode",
    "link_ip",
    "link_shortener",
    "link_other",
    "code_payment",
    "code_group",
    "code_contact",
    "code_text",
    "web_picture_label",
    "web_picture_send",
    "web_picture_hint",
)


class KnowledgeError(Exception):
    """The knowledge base is invalid; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Localized:
    """A string in Chinese and English."""

    zh: str
    en: str
    # The knowledge base's corrections of the Traditional converter (traditional.yaml), carried by
    # every string it loads so that each one reads the same in every channel.
    wording: Wording | None = field(default=None, compare=False, repr=False)

    def get(self, lang: str) -> str:
        """The text in a language of bot.languages: the English, or the Chinese in that language's script."""
        return self.en if base_of(lang) == "en" else localize(self.zh, lang, self.wording)


@dataclass(frozen=True)
class OfficialPath:
    name: Localized
    how: Localized
    platform: str = "any"  # one of PATH_PLATFORMS

    def suits(self, platform: str) -> bool:
        """True when this path is for `platform` or for every platform."""
        return self.platform in ("any", platform)


@dataclass(frozen=True)
class Source:
    """Where a card's facts come from, for curators and tests, and the citation users read.

    Either a source document (`seed`, its file name) or a published public fact
    (`public`: where it is published, such as a law's text); `supports` says what
    the card takes from it.
    """

    seed: str | None
    citation: Localized
    supports: str = ""
    public: str | None = None


@dataclass(frozen=True)
class Situation:
    """Where the asker stands in a topic (already did it, a relative, a group owner…) and what they read first."""

    id: str
    first: Localized
    questions: tuple[str, ...]


@dataclass(frozen=True)
class SituationKind:
    """A situation id of situations.yaml, shared by the topics that have it."""

    id: str
    label: Localized


@dataclass(frozen=True)
class Topic:
    """One card of advice and the phrasings that lead to it."""

    id: str
    theme: str
    title: Localized
    summary: Localized
    questions: tuple[str, ...]
    keywords: tuple[str, ...]
    answer: Localized
    official_paths: tuple[OfficialPath, ...]
    warnings: tuple[Localized, ...]
    sources: tuple[Source, ...]
    related: tuple[str, ...]
    requires: tuple[str, ...] = ()
    first: Localized = Localized("", "")
    situations: tuple[Situation, ...] = ()

    def situation(self, situation_id: str | None) -> Situation | None:
        return next((s for s in self.situations if s.id == situation_id), None)

    def first_lines(self, situation_id: str | None = None) -> Localized:
        """What a reader in that situation reads first (the general first lines when the topic lacks it)."""
        found = self.situation(situation_id)
        return found.first if found else self.first

    @property
    def all_questions(self) -> tuple[str, ...]:
        """Every phrasing that leads to the topic: the general ones and every situation's."""
        return self.questions + tuple(q for s in self.situations for q in s.questions)


@dataclass(frozen=True)
class RedFlag:
    """One sign of a scam or recruitment ad, as curated in red_flags.yaml."""

    id: str
    topic: str
    weight: int
    label: Localized
    patterns: tuple[re.Pattern[str], ...]
    # Curated texts the flag must fire on and near misses it must stay silent
    # on; tests/test_red_flag_reasons.py runs them through the checker.
    fires_on: tuple[str, ...] = ()
    silent_on: tuple[str, ...] = ()
    # What to do next, by the medium the message came through ("any", and the ids of `media`).
    next_step: dict[str, Localized] = field(default_factory=dict)
    # A platform's own ban notice may state this as its reason ("因涉嫌赌博…已被限制"):
    # there it is no sign of a scam.
    notice_reason: bool = False


@dataclass(frozen=True)
class RedFlags:
    flags: tuple[RedFlag, ...] = ()
    warning_cues: tuple[re.Pattern[str], ...] = ()
    question_cues: tuple[re.Pattern[str], ...] = ()
    contact_cues: tuple[re.Pattern[str], ...] = ()
    narrative_cues: tuple[re.Pattern[str], ...] = ()
    ad_cues: tuple[re.Pattern[str], ...] = ()
    request_cues: tuple[re.Pattern[str], ...] = ()
    doubt_cues: tuple[re.Pattern[str], ...] = ()
    news_cues: tuple[re.Pattern[str], ...] = ()
    rules_cues: tuple[re.Pattern[str], ...] = ()
    asking_cues: tuple[re.Pattern[str], ...] = ()
    accusation_cues: tuple[re.Pattern[str], ...] = ()
    negation_cues: tuple[re.Pattern[str], ...] = ()
    notice_cues: tuple[re.Pattern[str], ...] = ()
    to_bot_cues: tuple[re.Pattern[str], ...] = ()
    # Where a message came from (a call, a street stall, a DM, an online post), in order: the first that matches.
    media: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...] = ()
    notice_topic: str | None = None  # the card a platform's own notice points to
    # The next step of a verdict no flag explains (the classifier's topic alone), by topic and medium.
    topic_next_steps: dict[str, dict[str, Localized]] = field(default_factory=dict)


@dataclass(frozen=True)
class NoticePatterns:
    """What a ban notice may state (a reason, or how long the ban lasts), as curated in ban_notices.yaml."""

    patterns: tuple[re.Pattern[str], ...] = ()
    # Notices that state it and near misses that must not be read as stating it;
    # tests/test_ban_notices.py runs them.
    states: tuple[str, ...] = ()
    silent: tuple[str, ...] = ()
    topics: tuple[str, ...] = ()  # a reason's cards: a reply to a notice opens one only if the notice states it


@dataclass(frozen=True)
class BanNotices:
    """How a pasted ban notice is read: the reasons it may state (NOTICE_REASONS) and its term."""

    reasons: dict[str, NoticePatterns] = field(default_factory=dict)
    term: NoticePatterns = field(default_factory=NoticePatterns)
    topics: tuple[str, ...] = ()  # cards that suit any notice, the first for a notice the matched card does not suit


@dataclass(frozen=True)
class Fallback:
    """An honest fallback for a question without a card whose asker is in the same trouble (fallbacks.yaml)."""

    id: str
    platforms: tuple[re.Pattern[str], ...]
    problems: tuple[re.Pattern[str], ...]
    first: Localized
    answer: Localized
    overrules_cards: bool = False  # applies even where a card of Fallbacks.themes matched

    def applies(self, norm: str) -> bool:
        """True when a normalised question names one of its platforms and one of its problems."""
        return any(p.search(norm) for p in self.platforms) and any(p.search(norm) for p in self.problems)


@dataclass(frozen=True)
class Fallbacks:
    """fallbacks.yaml: the fallbacks, the platforms the cards are about, and the themes a fallback may overrule."""

    entries: tuple[Fallback, ...] = ()
    own_platforms: tuple[re.Pattern[str], ...] = ()
    themes: frozenset[str] = frozenset()

    def __iter__(self):
        return iter(self.entries)

    def for_question(self, norm: str, overruling: bool = False) -> Fallback | None:
        """The fallback for a normalised question, or None (always None when it names one of our platforms).

        `overruling`: a card matched, and only a fallback that overrules cards may replace it.
        """
        if any(p.search(norm) for p in self.own_platforms):
            return None
        found = next((f for f in self.entries if f.applies(norm)), None)
        return found if found is not None and (found.overrules_cards or not overruling) else None

    def get(self, fallback_id: str | None) -> Fallback | None:
        return next((f for f in self.entries if f.id == fallback_id), None)


@dataclass(frozen=True)
class Theme:
    id: str
    title: Localized


@dataclass(frozen=True)
class LabelledMessage:
    """A forwarded ad, DM or notice, and the topic that explains its risk (None: harmless)."""

    text: str
    topic: str | None


@dataclass(frozen=True)
class OfficialDomain:
    """A web domain known to be an official channel, and where that is said."""

    domain: str
    name: Localized
    source: str


@dataclass(frozen=True)
class KnownPrefix:
    """A QR payload or address prefix of a kind (a payment code, a group invitation, a contact card)."""

    prefix: str
    name: Localized


@dataclass(frozen=True)
class Domains:
    """domains.yaml: what the bot knows of web addresses, for QR codes and links in any text."""

    official: tuple[OfficialDomain, ...] = ()
    shorteners: frozenset[str] = frozenset()
    payment: tuple[KnownPrefix, ...] = ()
    groups: tuple[KnownPrefix, ...] = ()
    contacts: tuple[KnownPrefix, ...] = ()


@dataclass(frozen=True)
class KnowledgeBase:
    root: Path
    topics: dict[str, Topic]
    themes: tuple[Theme, ...]
    synonyms: SynonymTable
    out_of_scope: tuple[str, ...]
    ui: dict[str, Localized]
    red_flags: RedFlags = field(default_factory=RedFlags)
    messages: tuple[LabelledMessage, ...] = ()  # the scam checker's training data
    situation_kinds: dict[str, SituationKind] = field(default_factory=dict)
    fallbacks: "Fallbacks" = field(default_factory=lambda: Fallbacks())
    ban_notices: BanNotices = field(default_factory=BanNotices)
    wording: Wording = field(default_factory=Wording)  # traditional.yaml: the converter's corrections
    app_labels: tuple[str, ...] = ()  # traditional.yaml: the app's own words the cards quote in 「…」
    domains: Domains = field(default_factory=Domains)  # official domains, shorteners, payment codes
    # situations.yaml `cues`: cue name -> words saying who asks and at what stage (the situation model's features)
    situation_cues: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def userdict(self) -> Path:
        return self.root / "userdict.txt"

    def text(self, key: str, lang: str) -> str:
        """An interface string from ui.yaml in the given language."""
        return self.ui[key].get(lang)

    def topics_in_theme(self, theme_id: str) -> list[Topic]:
        return [t for t in self.topics.values() if t.theme == theme_id]


def default_kb_dir() -> Path:
    """$ACCOUNT_SAFETY_BOT_KB, else knowledge/ beside the package."""
    env = os.environ.get("ACCOUNT_SAFETY_BOT_KB")
    return Path(env) if env else Path(__file__).resolve().parent.parent / "knowledge"


class _FileReader:
    """Reads one YAML file, remembering key lines so errors can name them."""

    def __init__(self, path: Path, root: Path, problems: list[str]) -> None:
        self.path = path
        self.label = str(path.relative_to(root.parent)) if root.parent in path.parents else str(path)
        self.problems = problems
        self.lines: dict[str, int] = {}

    def load(self) -> Any:
        try:
            raw = self.path.read_bytes()
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.problems.append(f"{self.label}: not UTF-8 text (byte {exc.start})")
            return None
        except OSError as exc:
            self.problems.append(f"{self.label}: cannot read: {exc.strerror}")
            return None
        cache = loadcache.CURRENT.get()
        found = cache.parsed(raw) if cache is not None else None
        if found is not None:
            data, self.lines = found
            return data
        before = len(self.problems)
        data = self._parse(text)
        if cache is not None and len(self.problems) == before:
            cache.add_parsed(raw, data, self.lines)
        return data

    def _parse(self, text: str) -> Any:
        import yaml

        loader = _yaml_loader()(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            dup = _find_duplicate_key(node)
            if dup:
                key, line = dup
                self.problems.append(f"{self.label}:{line}: duplicate key {key!r}")
                return None
            if isinstance(node, yaml.MappingNode):
                for key_node, _ in node.value:
                    self.lines[str(key_node.value)] = key_node.start_mark.line + 1
            return loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f":{mark.line + 1}" if mark else ""
            self.problems.append(f"{self.label}{where}: YAML syntax error: {exc.problem or exc.context}")
            return None
        except yaml.YAMLError as exc:
            self.problems.append(f"{self.label}: YAML error: {exc}")
            return None
        finally:
            loader.dispose()

    def where(self, key: str) -> str:
        line = self.lines.get(key.split(".")[0].split("[")[0])
        return f"{self.label}:{line}" if line else self.label


def _find_duplicate_key(node: Any) -> tuple[str, int] | None:
    # PyYAML silently keeps the last of two equal keys; a curator's typo would vanish.
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                return str(key), key_node.start_mark.line + 1
            seen.add(key)
            found = _find_duplicate_key(value_node)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            found = _find_duplicate_key(child)
            if found:
                return found
    return None


_MISSING = object()  # a required field that is absent: reported once, not again per check


class _TopicChecker:
    """Turns one topic file's data into a Topic, or records why it cannot."""

    def __init__(self, reader: _FileReader, data: Any, topic_id: str, wording: Wording | None = None) -> None:
        self.reader = reader
        self.data = data
        self.topic_id = topic_id
        self.wording = wording
        self.ok = True

    def fail(self, fieldname: str, message: str) -> None:
        self.ok = False
        self.reader.problems.append(
            f"{self.reader.where(fieldname)}: topic {self.topic_id!r}, field {fieldname!r}: {message}"
        )

    def string(self, value: Any, fieldname: str, max_len: int | None = None) -> str:
        if value is _MISSING:
            return ""
        if not isinstance(value, str) or not value.strip():
            self.fail(fieldname, "must be a non-empty string")
            return ""
        value = value.strip()
        if max_len is not None and len(value) > max_len:
            self.fail(fieldname, f"{len(value):,} characters, at most {max_len:,} allowed")
        return value

    def localized(self, value: Any, fieldname: str, max_len: int | dict[str, int] | None = None) -> Localized:
        if value is _MISSING:
            return Localized("", "", self.wording)
        if not isinstance(value, dict):
            self.fail(fieldname, "must have 'zh' and 'en'")
            return Localized("", "", self.wording)
        for key in value:
            if key not in LANGS:
                self.fail(f"{fieldname}.{key}", "unknown language (only zh and en)")
        missing = [lang for lang in LANGS if lang not in value]
        for lang in missing:
            self.fail(f"{fieldname}.{lang}", "missing")
        limits = max_len if isinstance(max_len, dict) else dict.fromkeys(LANGS, max_len)
        return Localized(
            *(self.string(value.get(lang), f"{fieldname}.{lang}", limits[lang]) if lang not in missing else ""
              for lang in LANGS),
            self.wording,
        )

    def string_list(self, value: Any, fieldname: str, min_len: int = 1) -> tuple[str, ...]:
        if value is _MISSING:
            return ()
        if not isinstance(value, list):
            self.fail(fieldname, "must be a list")
            return ()
        if len(value) < min_len:
            self.fail(fieldname, f"has {len(value)} entries, at least {min_len} needed")
        return tuple(self.string(v, f"{fieldname}[{i}]") for i, v in enumerate(value))

    def mapping_list(
        self, value: Any, fieldname: str, keys: tuple[str, ...], min_len: int = 1, optional: tuple[str, ...] = ()
    ) -> list[dict]:
        if value is _MISSING:
            return []
        if not isinstance(value, list) or len(value) < min_len:
            self.fail(fieldname, f"must be a list of at least {min_len} entries")
            return []
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, dict):
                self.fail(f"{fieldname}[{i}]", f"must be a mapping with {', '.join(keys)}")
                continue
            for key in item:
                if key not in keys and key not in optional:
                    self.fail(f"{fieldname}[{i}].{key}", "unknown field")
            for key in keys:
                if key not in item:
                    self.fail(f"{fieldname}[{i}].{key}", "missing")
            out.append(item)
        return out

    def platform(self, value: Any, fieldname: str) -> str:
        if value not in PATH_PLATFORMS:
            self.fail(fieldname, f"must be one of {', '.join(PATH_PLATFORMS)}, not {value!r}")
            return "any"
        return value

    def citation(self, source: dict, fieldname: str) -> Localized:
        # A source line is read by users in the card's language: the English one
        # names the document in English (a Chinese title goes into words).
        text = Localized(*(self.string(source.get(lang, _MISSING), f"{fieldname}.{lang}") for lang in LANGS), self.wording)
        if has_cjk(text.en):
            self.fail(f"{fieldname}.en", "contains Chinese characters; say it in English")
        return text

    def source(self, source: dict, fieldname: str) -> Source:
        # A source is a document (seed) or a public fact with where it is published, never both or neither.
        kinds = [key for key in SOURCE_KINDS if key in source]
        if len(kinds) != 1:
            self.fail(fieldname, "needs exactly one of 'seed' (a source document) or 'public' (where a public fact "
                                 "is published)")
        seed = self.string(source["seed"], f"{fieldname}.seed") if "seed" in source else None
        public = self.string(source["public"], f"{fieldname}.public") if "public" in source else None
        supports = self.string(source.get("supports", _MISSING), f"{fieldname}.supports")
        return Source(seed, self.citation(source, fieldname), supports, public)

    def situations(self, value: Any, kinds: set[str]) -> tuple[Situation, ...]:
        items = self.mapping_list(value, "situations", ("id", "first", "questions"), min_len=0)
        out, seen = [], set()
        for i, item in enumerate(items):
            where = f"situations[{i}]"
            sid = item.get("id")
            if sid not in kinds:
                self.fail(f"{where}.id", f"{sid!r} is not a situation of situations.yaml")
                continue
            if sid in seen:
                self.fail(f"{where}.id", f"{sid!r} listed twice")
            seen.add(sid)
            out.append(Situation(sid, self.localized(item.get("first", _MISSING), f"{where}.first", MAX_FIRST),
                                 self.string_list(item.get("questions", _MISSING), f"{where}.questions",
                                                  MIN_SITUATION_QUESTIONS)))
        return tuple(out)

    def build(self, themes: set[str], situation_kinds: set[str] = frozenset()) -> Topic | None:
        data = self.data
        if not isinstance(data, dict):
            self.fail("(file)", "must be a mapping of topic fields")
            return None
        for key in data:
            if key not in TOPIC_FIELDS:
                self.fail(str(key), "unknown field")
        for key, (required, _) in TOPIC_FIELDS.items():
            if required and key not in data:
                self.fail(key, "missing")
        if data.get("id") != self.topic_id:
            self.fail("id", f"must equal the file name {self.topic_id!r}")
        if not ID_PATTERN.match(self.topic_id) or len(self.topic_id) > MAX_ID_LEN:
            self.fail("id", f"must be a lower-case slug of at most {MAX_ID_LEN} characters")
        theme = self.string(data.get("theme", _MISSING), "theme")
        if theme and theme not in themes:
            self.fail("theme", f"{theme!r} is not a theme of themes.yaml")
        paths = [
            OfficialPath(self.localized(p.get("name"), f"official_paths[{i}].name"),
                         self.localized(p.get("how"), f"official_paths[{i}].how"),
                         self.platform(p.get("platform", "any"), f"official_paths[{i}].platform"))
            for i, p in enumerate(self.mapping_list(
                data.get("official_paths", _MISSING), "official_paths", ("name", "how"), optional=("platform",)))
        ]
        warnings_raw = data.get("warnings", [])
        warnings = tuple(
            self.localized(w, f"warnings[{i}]") for i, w in enumerate(warnings_raw if isinstance(warnings_raw, list) else [])
        )
        if not isinstance(warnings_raw, list):
            self.fail("warnings", "must be a list")
        sources = [
            self.source(s, f"sources[{i}]")
            for i, s in enumerate(self.mapping_list(
                data.get("sources", _MISSING), "sources", ("supports", *LANGS), optional=SOURCE_KINDS))
        ]
        related_raw = data.get("related", [])
        related = self.string_list(related_raw, "related", min_len=0)
        topic = Topic(
            id=self.topic_id,
            theme=theme,
            title=self.localized(data.get("title", _MISSING), "title", MAX_TITLE),
            summary=self.localized(data.get("summary", _MISSING), "summary", MAX_SUMMARY),
            questions=self.string_list(data.get("questions", _MISSING), "questions", MIN_QUESTIONS),
            keywords=self.string_list(data.get("keywords", _MISSING), "keywords"),
            answer=self.localized(data.get("answer", _MISSING), "answer", MAX_ANSWER),
            official_paths=tuple(paths),
            warnings=warnings,
            sources=tuple(sources),
            related=related,
            requires=self.string_list(data.get("requires", []), "requires", min_len=0),
            first=self.localized(data.get("first", _MISSING), "first", MAX_FIRST),
            situations=self.situations(data.get("situations", _MISSING), situation_kinds),
        )
        return topic if self.ok else None


def _read_optional(root: Path, name: str, problems: list[str]) -> tuple[_FileReader, Any]:
    reader = _FileReader(root / name, root, problems)
    if not reader.path.exists():
        problems.append(f"{reader.label}: missing")
        return reader, None
    return reader, reader.load()


def _read_list(root: Path, name: str, field: str, shape: str, problems: list[str]) -> tuple[_FileReader, list | None]:
    """An optional file's one top-level list `field`, or None (with the problem noted) when it is not a non-empty list."""
    reader, data = _read_optional(root, name, problems)
    if data is None:
        return reader, None
    items = data.get(field) if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        problems.append(f"{reader.where(field)}: field {field!r}: must be a non-empty list of {shape}")
        return reader, None
    return reader, items


def _load_themes(root: Path, problems: list[str], wording: Wording | None = None) -> tuple[Theme, ...]:
    reader, items = _read_list(root, "themes.yaml", "themes", "{id, title}", problems)
    if items is None:
        return ()
    themes = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("title"), dict):
            problems.append(f"{reader.where('themes')}: field 'themes[{i}]': needs id and title {{zh, en}}")
            continue
        title = item["title"]
        if not all(isinstance(title.get(lang), str) and title[lang].strip() for lang in LANGS):
            problems.append(f"{reader.where('themes')}: field 'themes[{i}].title': needs zh and en")
            continue
        # Theme ids travel in callback data like topic ids: the same limits.
        if not ID_PATTERN.match(item["id"]) or len(item["id"]) > MAX_ID_LEN:
            problems.append(
                f"{reader.where('themes')}: field 'themes[{i}].id': must be a lower-case slug of at most {MAX_ID_LEN} characters"
            )
            continue
        themes.append(Theme(item["id"], Localized(title["zh"].strip(), title["en"].strip(), wording)))
    return tuple(themes)


def _load_situation_kinds(root: Path, problems: list[str], wording: Wording | None = None
                          ) -> tuple[dict[str, SituationKind], dict[str, tuple[str, ...]]]:
    """situations.yaml: the situation ids, and the optional `cues` (cue name -> words, lower case, Simplified)."""
    reader, data = _read_optional(root, "situations.yaml", problems)
    items = data.get("situations") if isinstance(data, dict) else None
    if data is not None and (not isinstance(items, list) or not items):
        problems.append(f"{reader.where('situations')}: field 'situations': must be a non-empty list of {{id, label, about}}")
    kinds: dict[str, SituationKind] = {}
    for i, item in enumerate(items or []):
        where = f"{reader.where('situations')}: field 'situations[{i}]'"
        label = item.get("label") if isinstance(item, dict) else None
        if (not isinstance(item, dict) or set(item) != {"id", "label", "about"}
                or not isinstance(item["id"], str) or not ID_PATTERN.match(item["id"])
                or not isinstance(label, dict) or set(label) != set(LANGS)
                or not all(isinstance(label[lang], str) and label[lang].strip() for lang in LANGS)):
            problems.append(f"{where}: needs exactly id (a slug), label {{zh, en}} and about")
            continue
        if item["id"] in kinds:
            problems.append(f"{where}: id {item['id']!r} listed twice")
        kinds[item["id"]] = SituationKind(item["id"], Localized(label["zh"].strip(), label["en"].strip(), wording))
    return kinds, _situation_cues(reader, data.get("cues", {}) if isinstance(data, dict) else {}, problems)


_ASCII_CUE = re.compile(r"[a-z0-9]+(?: [a-z0-9]+)?")


def _situation_cues(reader: _FileReader, raw: Any, problems: list[str]) -> dict[str, tuple[str, ...]]:
    where = reader.where("cues")
    if not isinstance(raw, dict):
        problems.append(f"{where}: field 'cues': must be a mapping of cue name to a list of words")
        return {}
    cues: dict[str, tuple[str, ...]] = {}
    for name, words in raw.items():
        if not isinstance(name, str) or not ID_PATTERN.match(name):
            problems.append(f"{where}: field 'cues': {name!r} is not a slug")
        elif not isinstance(words, list) or not words or not all(isinstance(w, str) and w.strip() for w in words):
            problems.append(f"{where}: field 'cues.{name}': must be a non-empty list of words (quote yes/no/on)")
        elif any(w != w.strip().lower() for w in words):
            problems.append(f"{where}: field 'cues.{name}': write words in lower case, without spaces around them")
        elif any(w.isascii() and not _ASCII_CUE.fullmatch(w) for w in words):
            bad = next(w for w in words if w.isascii() and not _ASCII_CUE.fullmatch(w))
            problems.append(f"{where}: field 'cues.{name}': {bad!r}: an English cue is one or two words of letters and digits")
        else:
            cues[name] = tuple(words)
    return cues


def _variant_table(reader: _FileReader, section: str, table: Any, problems: list[str]) -> dict[str, str]:
    """A {canonical: [variants]} section as variant -> canonical, every variant listed once."""
    variants: dict[str, str] = {}
    if not isinstance(table, dict):
        problems.append(f"{reader.where(section)}: field {section!r}: must be a mapping of canonical word to a list of variants")
        return variants
    for canonical, items in table.items():
        if not isinstance(canonical, str) or not isinstance(items, list):
            problems.append(f"{reader.where(section)}: field '{section}.{canonical}': must be a list of variants")
            continue
        for item in items:
            if not isinstance(item, str) or not item.strip():
                problems.append(f"{reader.where(section)}: field '{section}.{canonical}': empty variant")
                continue
            key = item.strip().lower()
            if key in variants and variants[key] != canonical:
                problems.append(
                    f"{reader.where(section)}: field '{section}.{canonical}': variant {item!r} "
                    f"is also listed under {variants[key]!r}"
                )
            variants[key] = canonical
    return variants


def _load_synonyms(root: Path, problems: list[str]) -> SynonymTable:
    reader, data = _read_optional(root, "synonyms.yaml", problems)
    stopwords: set[str] = set()
    if data is None:
        return SynonymTable({}, frozenset())
    if not isinstance(data, dict) or not isinstance(data.get("synonyms"), dict):
        problems.append(f"{reader.label}: field 'synonyms': must be a mapping of canonical word to a list of variants")
        return SynonymTable({}, frozenset())
    variants = _variant_table(reader, "synonyms", data["synonyms"], problems)
    dialect = _variant_table(reader, "dialect", data.get("dialect", {}), problems)
    raw_stop = data.get("stopwords", [])
    if not isinstance(raw_stop, list):
        problems.append(f"{reader.where('stopwords')}: field 'stopwords': must be a list of words")
    elif not all(isinstance(w, str) for w in raw_stop):
        bad = next(w for w in raw_stop if not isinstance(w, str))
        problems.append(
            f"{reader.where('stopwords')}: field 'stopwords': {bad!r} is not a word (YAML reads on/no/yes as "
            "booleans: quote it)"
        )
    else:
        stopwords = {w.strip().lower() for w in raw_stop if w.strip()}
    for key in data:
        if key not in ("synonyms", "dialect", "stopwords"):
            problems.append(f"{reader.where(str(key))}: field {key!r}: unknown field")
    return SynonymTable(variants, frozenset(stopwords), dialect)


def _load_out_of_scope(root: Path, problems: list[str]) -> tuple[str, ...]:
    reader, data = _read_optional(root, "out_of_scope.yaml", problems)
    if data is None:
        return ()
    items = data.get("questions") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(q, str) and q.strip() for q in items):
        problems.append(f"{reader.where('questions')}: field 'questions': must be a list of non-empty strings")
        return ()
    return tuple(q.strip() for q in items)


def _load_messages(root: Path, topic_ids: set[str], problems: list[str]) -> tuple[LabelledMessage, ...]:
    reader, items = _read_list(root, "messages.yaml", "messages", "{text, topic}", problems)
    if items is None:
        return ()
    messages, seen = [], set()
    for i, item in enumerate(items):
        where = f"{reader.where('messages')}: message {i + 1}"
        if not isinstance(item, dict) or set(item) != {"text", "topic"}:
            problems.append(f"{where}: must have exactly 'text' and 'topic' (a topic id, or null when harmless)")
            continue
        text, topic = item["text"], item["topic"]
        if not isinstance(text, str) or not text.strip():
            problems.append(f"{where}, field 'text': must be a non-empty string")
            continue
        if topic is not None and topic not in topic_ids:
            problems.append(f"{where}, field 'topic': no topic {topic!r}")
            continue
        if text in seen:
            problems.append(f"{where}, field 'text': listed twice")
            continue
        seen.add(text)
        messages.append(LabelledMessage(text, topic))
    return tuple(messages)


def _load_ui(root: Path, problems: list[str], wording: Wording | None = None) -> dict[str, Localized]:
    reader, data = _read_optional(root, "ui.yaml", problems)
    if data is None:
        return {}
    strings = data.get("strings") if isinstance(data, dict) else None
    if not isinstance(strings, dict):
        problems.append(f"{reader.label}: field 'strings': must be a mapping of key to {{zh, en}}")
        return {}
    ui = {}
    for key, value in strings.items():
        if not isinstance(value, dict) or not all(isinstance(value.get(lang), str) for lang in LANGS):
            problems.append(f"{reader.label}: field 'strings.{key}': needs zh and en strings")
            continue
        ui[str(key)] = Localized(value["zh"].rstrip("\n"), value["en"].rstrip("\n"), wording)
    for key in UI_KEYS:
        if key not in strings:
            problems.append(f"{reader.label}: field 'strings.{key}': missing (the bot needs it)")
    return ui


def _compile_patterns(items: Any, where: str, problems: list[str]) -> tuple[re.Pattern[str], ...]:
    if not isinstance(items, list) or not items:
        problems.append(f"{where}: must be a non-empty list of regular expressions")
        return ()
    compiled = []
    for i, pattern in enumerate(items):
        if not isinstance(pattern, str) or not pattern:
            problems.append(f"{where}[{i}]: must be a non-empty string")
            continue
        cache = loadcache.CURRENT.get()
        # A pattern that compiled and passed the shape check before, to the same program: no need to redo either.
        known = cache.pattern(pattern) if cache is not None else None
        if known is not None:
            compiled.append(known)
            continue
        try:
            compiled.append(re.compile(pattern))
        except re.error as exc:
            problems.append(f"{where}[{i}]: invalid regular expression ({exc})")
            continue
        # Patterns run on any text a stranger sends: one that is slower than
        # linear lets a single long message stall the bot for everyone.
        shape_problems = super_linear_problems(pattern)
        for problem in shape_problems:
            problems.append(f"{where}[{i}]: {problem}")
        if cache is not None and not shape_problems:
            cache.add_pattern(pattern, compiled[-1])
    return tuple(compiled)


RED_FLAG_FIELDS = ("id", "topic", "weight", "label", "patterns", "next_step")
RED_FLAG_OPTIONAL = ("examples", "notice_reason")
RED_FLAG_EXAMPLE_KINDS = ("fires", "silent")
RED_FLAG_CUES = (
    "warning_cues", "question_cues", "contact_cues", "narrative_cues", "ad_cues", "request_cues", "doubt_cues",
    "news_cues", "rules_cues", "asking_cues", "accusation_cues", "negation_cues", "notice_cues", "to_bot_cues",
)
RED_FLAG_SECTIONS = ("media", "notice_topic", "topic_next_steps")
ANY_MEDIUM = "any"


def _red_flag_examples(value: Any, where: str, problems: list[str],
                       kinds: tuple[str, ...] = RED_FLAG_EXAMPLE_KINDS) -> dict[str, tuple[str, ...]]:
    """The optional `examples: {fires: [...], silent: [...]}` of a red flag (or other `kinds`), one problem line per bad entry."""
    examples: dict[str, tuple[str, ...]] = {kind: () for kind in kinds}
    named = " and ".join(kinds)
    if value is None:
        return examples
    if not isinstance(value, dict):
        problems.append(f"{where}, field 'examples': must be a mapping of {named}, each a list of texts")
        return examples
    for key in value:
        if key not in kinds:
            problems.append(f"{where}, field 'examples.{key}': unknown field ({' or '.join(kinds)})")
    for kind in kinds:
        texts = value.get(kind)
        if texts is None:
            continue
        if not isinstance(texts, list):
            problems.append(f"{where}, field 'examples.{kind}': must be a list of texts")
            continue
        good = []
        for i, text in enumerate(texts):
            if isinstance(text, str) and text.strip():
                good.append(text)
            else:
                problems.append(
                    f"{where}, field 'examples.{kind}[{i}]': must be a non-empty text (quote text that has ': ')"
                )
        examples[kind] = tuple(good)
    return examples


def _next_steps(value: Any, where: str, media: set[str], problems: list[str],
                wording: Wording | None = None) -> dict[str, Localized]:
    """A next step by medium: `{any: {zh, en}, <medium>: {zh, en}, ...}`, `any` required."""
    if not isinstance(value, dict) or ANY_MEDIUM not in value:
        problems.append(f"{where}: must be a mapping of medium to {{zh, en}}, with {ANY_MEDIUM!r} for every medium")
        return {}
    steps = {}
    for medium, text in value.items():
        if medium != ANY_MEDIUM and medium not in media:
            problems.append(f"{where}.{medium}: unknown medium (one of {ANY_MEDIUM}, {', '.join(sorted(media))})")
            continue
        if (not isinstance(text, dict) or set(text) != set(LANGS)
                or not all(isinstance(text.get(l), str) and text[l].strip() for l in LANGS)):
            problems.append(f"{where}.{medium}: needs exactly zh and en (quote text that has commas)")
            continue
        steps[str(medium)] = Localized(text["zh"].strip(), text["en"].strip(), wording)
    return steps


def _load_media(reader: _FileReader, value: Any, problems: list[str]) -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        problems.append(f"{reader.where('media')}: field 'media': must be a mapping of medium id to a list of regular expressions")
        return ()
    media = []
    for medium, patterns in value.items():
        if not isinstance(medium, str) or not ID_PATTERN.match(medium) or medium == ANY_MEDIUM:
            problems.append(f"{reader.where('media')}: field 'media': {medium!r} must be a lower-case slug other than {ANY_MEDIUM!r}")
            continue
        media.append((medium, _compile_patterns(patterns, f"{reader.where('media')}: field 'media.{medium}'", problems)))
    return tuple(media)


def _load_red_flags(root: Path, topic_ids: set[str], problems: list[str], wording: Wording | None = None) -> RedFlags:
    reader, data = _read_optional(root, "red_flags.yaml", problems)
    if data is None:
        return RedFlags()
    if not isinstance(data, dict) or not isinstance(data.get("flags"), list):
        problems.append(f"{reader.label}: field 'flags': must be a list of red flags")
        return RedFlags()
    for key in data:
        if key not in ("flags", *RED_FLAG_CUES, *RED_FLAG_SECTIONS):
            problems.append(f"{reader.where(str(key))}: field {key!r}: unknown field")
    media = _load_media(reader, data.get("media"), problems)
    medium_ids = {m for m, _ in media}
    flags, seen = [], set()
    for i, item in enumerate(data["flags"]):
        where = f"{reader.where('flags')}: flag {i + 1}"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a mapping of {', '.join(RED_FLAG_FIELDS)}")
            continue
        flag_id = item.get("id")
        where = f"{reader.where('flags')}: flag {flag_id!r}" if isinstance(flag_id, str) else where
        unknown = [k for k in item if k not in RED_FLAG_FIELDS + RED_FLAG_OPTIONAL]
        missing = [k for k in RED_FLAG_FIELDS if k not in item]
        for key in unknown:
            problems.append(f"{where}, field {key!r}: unknown field")
        for key in missing:
            problems.append(f"{where}, field {key!r}: missing")
        if unknown or missing:
            continue
        if not isinstance(flag_id, str) or not ID_PATTERN.match(flag_id) or flag_id in seen:
            problems.append(f"{where}, field 'id': must be a unique lower-case slug")
            continue
        seen.add(flag_id)
        if item["topic"] not in topic_ids:
            problems.append(f"{where}, field 'topic': no topic {item['topic']!r}")
        if item["weight"] not in (1, 2, 3):
            problems.append(f"{where}, field 'weight': must be 1, 2 or 3")
        label = item["label"]
        if (not isinstance(label, dict) or set(label) != set(LANGS)
                or not all(isinstance(label.get(l), str) and label[l].strip() for l in LANGS)):
            problems.append(f"{where}, field 'label': needs exactly zh and en (quote text that has commas)")
            continue
        patterns = _compile_patterns(item["patterns"], f"{where}, field 'patterns'", problems)
        examples = _red_flag_examples(item.get("examples"), where, problems)
        next_step = _next_steps(item["next_step"], f"{where}, field 'next_step'", medium_ids, problems, wording)
        notice_reason = item.get("notice_reason", False)
        if not isinstance(notice_reason, bool):
            problems.append(f"{where}, field 'notice_reason': must be true or false")
        flags.append(RedFlag(flag_id, item["topic"], item["weight"], Localized(label["zh"], label["en"], wording), patterns,
                             examples["fires"], examples["silent"], next_step, notice_reason is True))
    cues = {
        key: _compile_patterns(data.get(key), f"{reader.where(key)}: field {key!r}", problems)
        for key in RED_FLAG_CUES
    }
    notice_topic = data.get("notice_topic")
    if notice_topic not in topic_ids:
        problems.append(f"{reader.where('notice_topic')}: field 'notice_topic': no topic {notice_topic!r}")
    topic_next_steps = {}
    table = data.get("topic_next_steps") or {}
    if not isinstance(table, dict):
        problems.append(f"{reader.where('topic_next_steps')}: field 'topic_next_steps': must be a mapping of topic id "
                        "to next steps by medium")
        table = {}
    for topic_id, steps in table.items():
        where = f"{reader.where('topic_next_steps')}: field 'topic_next_steps.{topic_id}'"
        if topic_id not in topic_ids:
            problems.append(f"{where}: no topic {topic_id!r}")
            continue
        topic_next_steps[topic_id] = _next_steps(steps, where, medium_ids, problems, wording)
    return RedFlags(tuple(flags), **cues, media=media, notice_topic=notice_topic, topic_next_steps=topic_next_steps)


# The reasons a ban notice may state (the /banned checklist adds "unknown": the notice states none).
NOTICE_REASONS = ("fraud", "gambling", "porn", "helping")
NOTICE_EXAMPLE_KINDS = ("states", "silent")


def _notice_topics(value: Any, where: str, topic_ids: set[str], problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        problems.append(f"{where}: must be a non-empty list of topic ids")
        return ()
    for topic_id in value:
        if topic_id not in topic_ids:
            problems.append(f"{where}: no topic {topic_id!r}")
    return tuple(value)


def _notice_patterns(reader: _FileReader, item: Any, key: str, topic_ids: set[str], problems: list[str],
                     with_topics: bool) -> NoticePatterns:
    where = f"{reader.where(key.split('.')[0])}: field {key!r}"
    if not isinstance(item, dict):
        problems.append(f"{where}: must be a mapping of patterns and examples")
        return NoticePatterns()
    fields = ("patterns", "examples", "topics") if with_topics else ("patterns", "examples")
    for name in item:
        if name not in fields:
            problems.append(f"{where}, field {name!r}: unknown field")
    patterns = _compile_patterns(item.get("patterns"), f"{where}, field 'patterns'", problems)
    examples = _red_flag_examples(item.get("examples"), where, problems, NOTICE_EXAMPLE_KINDS)
    topics = _notice_topics(item.get("topics"), f"{where}, field 'topics'", topic_ids, problems) if with_topics else ()
    return NoticePatterns(patterns, examples["states"], examples["silent"], topics)


def _load_ban_notices(root: Path, topic_ids: set[str], problems: list[str]) -> BanNotices:
    reader, data = _read_optional(root, "ban_notices.yaml", problems)
    if data is None:
        return BanNotices()
    if not isinstance(data, dict):
        problems.append(f"{reader.label}: must be a mapping of reasons and term")
        return BanNotices()
    for key in data:
        if key not in ("reasons", "term", "topics"):
            problems.append(f"{reader.where(str(key))}: field {key!r}: unknown field")
    reasons = data.get("reasons")
    if not isinstance(reasons, dict):
        problems.append(f"{reader.where('reasons')}: field 'reasons': must be a mapping of {', '.join(NOTICE_REASONS)}")
        reasons = {}
    for key in reasons:
        if key not in NOTICE_REASONS:
            problems.append(f"{reader.where('reasons')}: field 'reasons.{key}': unknown reason "
                            f"(one of {', '.join(NOTICE_REASONS)})")
    read = {}
    for reason in NOTICE_REASONS:
        if reason not in reasons:
            if isinstance(data.get("reasons"), dict):
                problems.append(f"{reader.where('reasons')}: field 'reasons.{reason}': missing")
            continue
        read[reason] = _notice_patterns(reader, reasons[reason], f"reasons.{reason}", topic_ids, problems, True)
    term = _notice_patterns(reader, data.get("term"), "term", topic_ids, problems, False)
    topics = _notice_topics(data.get("topics"), f"{reader.where('topics')}: field 'topics'", topic_ids, problems)
    return BanNotices(read, term, topics)


_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$")


def _load_domains(root: Path, problems: list[str]) -> Domains:
    """domains.yaml: official domains (each with its source), shorteners, and kinds of QR payload."""
    reader, data = _read_optional(root, "domains.yaml", problems)
    if data is None:
        return Domains()
    if not isinstance(data, dict):
        problems.append(f"{reader.label}: must be a mapping with 'official', 'shorteners', 'payment', 'groups', 'contacts'")
        return Domains()
    for key in data:
        if key not in ("official", "shorteners", "payment", "groups", "contacts"):
            problems.append(f"{reader.where(str(key))}: unknown field {key!r}")

    def localized(value: Any, where: str) -> Localized | None:
        if isinstance(value, dict) and all(isinstance(value.get(lang), str) and value[lang].strip() for lang in LANGS):
            return Localized(value["zh"].strip(), value["en"].strip())
        problems.append(f"{where}: field 'name': needs zh and en strings")
        return None

    official = []
    items = data.get("official")
    if not isinstance(items, list) or not items:
        problems.append(f"{reader.where('official')}: field 'official': must be a non-empty list of {{domain, name, source}}")
        items = []
    for i, item in enumerate(items):
        where = f"{reader.where('official')}: official[{i}]"
        if not isinstance(item, dict) or set(item) != {"domain", "name", "source"}:
            problems.append(f"{where}: must have exactly domain, name and source (every official domain cites where it is said)")
            continue
        domain, source = item["domain"], item["source"]
        if not isinstance(domain, str) or not _DOMAIN.match(domain):
            problems.append(f"{where}: field 'domain': {domain!r} is not a lower-case domain name")
            continue
        if not isinstance(source, str) or not source.strip():
            problems.append(f"{where}: field 'source': must say where the domain is given as official")
            continue
        name = localized(item["name"], where)
        if name is not None:
            official.append(OfficialDomain(domain, name, source.strip()))
    shorteners = data.get("shorteners") or []
    if not isinstance(shorteners, list) or not all(isinstance(h, str) and _DOMAIN.match(h) for h in shorteners):
        problems.append(f"{reader.where('shorteners')}: field 'shorteners': must be a list of lower-case host names")
        shorteners = []

    def prefixes(field: str) -> tuple[KnownPrefix, ...]:
        found = []
        items = data.get(field) or []
        if not isinstance(items, list):
            problems.append(f"{reader.where(field)}: field {field!r}: must be a list of {{prefix, name}}")
            return ()
        for i, item in enumerate(items):
            where = f"{reader.where(field)}: {field}[{i}]"
            prefix = item.get("prefix") if isinstance(item, dict) else None
            if not isinstance(prefix, str) or not prefix or prefix != prefix.lower():
                problems.append(f"{where}: field 'prefix': must be a non-empty lower-case string")
                continue
            name = localized(item.get("name"), where)
            if name is not None:
                found.append(KnownPrefix(prefix, name))
        return tuple(found)

    return Domains(tuple(official), frozenset(shorteners), prefixes("payment"), prefixes("groups"), prefixes("contacts"))


TRADITIONAL_FIELDS = ("fixes", "app_labels")
ALL_CONVERTED = "all"  # a traditional.yaml `fixes` section that applies to every converted language


def _load_traditional(root: Path, problems: list[str]) -> tuple[Wording, tuple[str, ...]]:
    """traditional.yaml: corrections of the converter's known mistakes, and the app labels cards quote."""
    reader, data = _read_optional(root, "traditional.yaml", problems)
    if data is None:
        return Wording(), ()
    if not isinstance(data, dict):
        problems.append(f"{reader.label}: must be a mapping of {' and '.join(TRADITIONAL_FIELDS)}")
        return Wording(), ()
    for key in data:
        if key not in TRADITIONAL_FIELDS:
            problems.append(f"{reader.where(str(key))}: field {key!r}: unknown field")
    tables: dict[str, dict[str, str]] = {code: {} for code in CONVERTED}
    sections = data.get("fixes", {})
    if not isinstance(sections, dict):
        problems.append(f"{reader.where('fixes')}: field 'fixes': must be a mapping of language to "
                        "{wrong form: right form}")
        sections = {}
    for section, table in sections.items():
        where = f"{reader.where('fixes')}: field 'fixes.{section}'"
        codes = CONVERTED if section == ALL_CONVERTED else (section,) if section in CONVERTED else ()
        if not codes:
            problems.append(f"{where}: unknown language ({ALL_CONVERTED}, {', '.join(CONVERTED)})")
            continue
        if not isinstance(table, dict):
            problems.append(f"{where}: must be a mapping of the converter's wrong form to the right one")
            continue
        for wrong, right in table.items():
            if not (isinstance(wrong, str) and isinstance(right, str) and wrong.strip() and right.strip()):
                problems.append(f"{where}: {wrong!r}: both forms must be non-empty text")
            elif wrong == right:
                problems.append(f"{where}: {wrong!r}: the right form equals the wrong one")
            else:
                for code in codes:
                    if tables[code].get(wrong, right) != right:
                        problems.append(f"{where}: {wrong!r} is corrected twice for {code}, differently")
                    tables[code][wrong] = right
    labels = data.get("app_labels", [])
    if not isinstance(labels, list) or not all(isinstance(label, str) and label.strip() for label in labels):
        problems.append(f"{reader.where('app_labels')}: field 'app_labels': must be a list of non-empty texts")
        labels = []
    elif len(set(labels)) != len(labels):
        problems.append(f"{reader.where('app_labels')}: field 'app_labels': a label is listed twice")
    # Longest first, so that a phrase's correction is not undone by a shorter one inside it.
    fixes = {code: tuple(sorted(table.items(), key=lambda kv: -len(kv[0]))) for code, table in tables.items()}
    return Wording(fixes), tuple(label.strip() for label in labels)


FALLBACK_FIELDS = ("id", "platforms", "problems", "first", "answer")
FALLBACK_OPTIONAL = ("overrules_cards",)


def _localized_entry(value: Any, where: str, problems: list[str], max_len: dict[str, int] | None = None,
                     wording: Wording | None = None) -> Localized | None:
    if not isinstance(value, dict) or set(value) != set(LANGS) or not all(
            isinstance(value[lang], str) and value[lang].strip() for lang in LANGS):
        problems.append(f"{where}: needs exactly zh and en, each a non-empty string")
        return None
    for lang in LANGS:
        if max_len and len(value[lang].strip()) > max_len[lang]:
            problems.append(f"{where}.{lang}: {len(value[lang].strip())} characters, at most {max_len[lang]} allowed")
    return Localized(value["zh"].strip(), value["en"].strip(), wording)


def _load_fallbacks(root: Path, themes: set[str], problems: list[str], wording: Wording | None = None) -> Fallbacks:
    reader, data = _read_optional(root, "fallbacks.yaml", problems)
    items = data.get("fallbacks") if isinstance(data, dict) else None
    if data is not None and (not isinstance(items, list) or not items):
        problems.append(f"{reader.where('fallbacks')}: field 'fallbacks': must be a non-empty list of "
                        "{id, platforms, problems, first, answer}")
    own: tuple[re.Pattern[str], ...] = ()
    overruled: list[str] = []
    if isinstance(data, dict):
        for key in data:
            if key not in ("fallbacks", "own_platforms", "themes"):
                problems.append(f"{reader.where(str(key))}: field {key!r}: unknown field")
        own = _compile_patterns(data.get("own_platforms"), f"{reader.where('own_platforms')}: field 'own_platforms'", problems)
        overruled = data.get("themes") if isinstance(data.get("themes"), list) else []
        for theme in overruled:
            if theme not in themes:
                problems.append(f"{reader.where('themes')}: field 'themes': {theme!r} is not a theme of themes.yaml")
    out, seen = [], set()
    for i, item in enumerate(items or []):
        where = f"{reader.where('fallbacks')}: field 'fallbacks[{i}]'"
        if (not isinstance(item, dict) or not set(FALLBACK_FIELDS) <= set(item)
                or not set(item) <= set(FALLBACK_FIELDS + FALLBACK_OPTIONAL)
                or not isinstance(item.get("overrules_cards", False), bool)):
            problems.append(f"{where}: needs {', '.join(FALLBACK_FIELDS)} and optionally overrules_cards (true or false)")
            continue
        if not isinstance(item["id"], str) or not ID_PATTERN.match(item["id"]) or item["id"] in seen:
            problems.append(f"{where}.id: must be a unique lower-case slug")
            continue
        seen.add(item["id"])
        first = _localized_entry(item["first"], f"{where}.first", problems, MAX_FIRST, wording)
        answer = _localized_entry(item["answer"], f"{where}.answer", problems, dict.fromkeys(LANGS, MAX_ANSWER), wording)
        platforms = _compile_patterns(item["platforms"], f"{where}.platforms", problems)
        problem_patterns = _compile_patterns(item["problems"], f"{where}.problems", problems)
        if first and answer and platforms and problem_patterns:
            out.append(Fallback(item["id"], platforms, problem_patterns, first, answer, item.get("overrules_cards", False)))
    return Fallbacks(tuple(out), own, frozenset(t for t in overruled if isinstance(t, str)))


def question_key(question: str) -> str:
    """What makes two phrasings 'the same question' for the duplicate check."""
    return _PUNCT.sub("", clean_input(question).casefold())


def load_knowledge(root: Path | None = None) -> KnowledgeBase:
    """Load and validate knowledge/; raise KnowledgeError naming every problem."""
    root = Path(root) if root is not None else default_kb_dir()
    if not root.is_dir():
        raise KnowledgeError([f"{root}: knowledge base folder not found"])
    # Parsed files and compiled patterns from earlier loads, found by content (bot/loadcache.py).
    cache = loadcache.LoadCache(default_cache_dir())
    token = loadcache.CURRENT.set(cache)
    try:
        return _load_knowledge(root)
    finally:
        loadcache.CURRENT.reset(token)
        cache.save()


def _load_knowledge(root: Path) -> KnowledgeBase:
    problems: list[str] = []
    wording, app_labels = _load_traditional(root, problems)
    themes = _load_themes(root, problems, wording)
    theme_ids = {t.id for t in themes}
    situation_kinds, situation_cues = _load_situation_kinds(root, problems, wording)
    topics: dict[str, Topic] = {}
    topic_dir = root / "topics"
    files = sorted(topic_dir.glob("*.yaml")) if topic_dir.is_dir() else []
    if not files:
        problems.append(f"{topic_dir}: no topic files (*.yaml)")
    readers: dict[str, _FileReader] = {}
    declared_ids: dict[str, str] = {}
    for path in files:
        reader = _FileReader(path, root, problems)
        before = len(problems)
        data = reader.load()
        if data is None:
            if len(problems) == before:
                problems.append(f"{reader.label}: empty file")
            continue
        declared = data.get("id") if isinstance(data, dict) else None
        if isinstance(declared, str) and declared in declared_ids:
            problems.append(f"{reader.where('id')}: duplicate id {declared!r}: also in {declared_ids[declared]}")
        elif isinstance(declared, str):
            declared_ids[declared] = reader.label
        topic = _TopicChecker(reader, data, path.stem, wording).build(theme_ids, set(situation_kinds))
        if topic is not None:
            topics[topic.id] = topic
            readers[topic.id] = reader
    seen_questions: dict[str, str] = {}
    for topic in topics.values():
        reader = readers[topic.id]
        for rel in topic.related:
            if not ID_PATTERN.match(rel) or len(rel) > MAX_ID_LEN:
                problems.append(f"{reader.where('related')}: topic {topic.id!r}, field 'related': {rel!r} is not a topic id")
                continue
            if rel not in topics and not (topic_dir / f"{rel}.yaml").exists():
                problems.append(f"{reader.where('related')}: topic {topic.id!r}, field 'related': no topic {rel!r}")
            if rel == topic.id:
                problems.append(f"{reader.where('related')}: topic {topic.id!r}, field 'related': names itself")
        for question in topic.all_questions:
            key = question_key(question)
            other = seen_questions.get(key)
            if other is not None:
                where = "twice in this topic" if other == topic.id else f"also under topic {other!r}"
                problems.append(f"{reader.where('questions')}: topic {topic.id!r}, field 'questions': {question!r} {where}")
            seen_questions[key] = topic.id
    synonyms = _load_synonyms(root, problems)
    out_of_scope = _load_out_of_scope(root, problems)
    for question in out_of_scope:
        owner = seen_questions.get(question_key(question))
        if owner:
            problems.append(f"{root.name}/out_of_scope.yaml: {question!r} is also a question of topic {owner!r}")
    ui = _load_ui(root, problems, wording)
    # Against the topic files, not the valid topics: one broken topic is one error, not a cascade.
    red_flags = _load_red_flags(root, {path.stem for path in files}, problems, wording)
    messages = _load_messages(root, {path.stem for path in files}, problems)
    fallbacks = _load_fallbacks(root, theme_ids, problems, wording)
    ban_notices = _load_ban_notices(root, {path.stem for path in files}, problems)
    domains = _load_domains(root, problems)
    if problems:
        raise KnowledgeError(problems)
    theme_order = {t.id: i for i, t in enumerate(themes)}
    # Topics are listed theme by theme; sorted() is stable, so file order holds inside a theme.
    ordered = dict(sorted(topics.items(), key=lambda kv: theme_order[kv[1].theme]))
    return KnowledgeBase(root, ordered, themes, synonyms, out_of_scope, ui, red_flags, messages, situation_kinds,
                         fallbacks, ban_notices, wording, app_labels, domains, situation_cues)

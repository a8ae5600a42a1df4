"""What every Telegram handler shares: the services, language choice, keyboards, card sending."""

from __future__ import annotations

from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message, Update, User
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from ..cache import ExpiringLRU
from ..ratelimit import RateLimiter
from ..knowledge import KnowledgeBase, Topic
from ..checker import MessageChecker
from ..matcher import Match, Matcher
from ..render import render_card_html, render_card_short_html
from .. import languages
from ..store import Store
from ..text import has_cjk
from ..utf8 import valid_text

# Callback data prefixes. Data is "<prefix>:<arg>", always under Telegram's 64 bytes
# because topic and theme ids are limited to 40 characters.
CB_TOPIC = "t"
CB_THEME = "th"
CB_MENU = "m"
CB_VOTE = "v"
CB_LANG = "l"
CB_ASK_PASTED = "aq"  # answer the last pasted text as a question
CB_BANNED = "b"  # the /banned guided flow


GROUP_ANSWERS_PER_MINUTE = 15


def callback(prefix: str, *args: str) -> str:
    data = ":".join((prefix, *args))
    assert len(data.encode()) <= 64, data  # ids are validated at load; this guards new prefixes
    return data


@dataclass
class Services:
    """The bot's long-lived collaborators, stored once in application.bot_data."""

    matcher: Matcher
    store: Store
    rate_limiter: RateLimiter
    checker: MessageChecker
    # A group gets at most this many answers a minute, under Telegram's 20, so that
    # its replies never queue behind the flood limit (and hold up other chats).
    group_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(GROUP_ANSWERS_PER_MINUTE, 60.0))
    # The card each user saw last, for reading a follow-up question (bounded: see cache.py).
    recent_topics: ExpiringLRU[int, str] = field(default_factory=lambda: ExpiringLRU(10_000, 30 * 60.0))
    # Per-chat knowledge of the guard: admins, the bot's own rights, the last warning.
    chat_state: ExpiringLRU[tuple, object] = field(default_factory=lambda: ExpiringLRU(20_000, 3600.0))
    # Keyboards are immutable and the same for every user: built once (see keyboard()).
    keyboards: dict[tuple, InlineKeyboardMarkup] = field(default_factory=dict)

    @property
    def kb(self) -> KnowledgeBase:
        return self.matcher.kb


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]


def user_lang(context: ContextTypes.DEFAULT_TYPE, user: User | None, text: str | None = None) -> str:
    """The answer language: a /lang choice, else the question's language and script, else Telegram's language_code."""
    if user is not None:
        chosen = services(context).store.get(f"lang:{user.id}")
        if chosen in languages.LANGUAGES:
            return chosen
    if text and (has_cjk(text) or any(c.isascii() and c.isalpha() for c in text)):
        return languages.detect(text)
    return languages.normalize_code(user.language_code if user else None) or "en"


def share_link(context: ContextTypes.DEFAULT_TYPE, topic_id: str) -> str:
    return f"https://t.me/{context.bot.username}?start={topic_id}"


def ui(context: ContextTypes.DEFAULT_TYPE, key: str, lang: str) -> str:
    return services(context).kb.text(key, lang)


def short_label(text: str, limit: int = 40) -> str:
    """Button labels stay short enough to read on a phone."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def themes_keyboard(kb: KnowledgeBase, lang: str) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(t.title.get(lang), callback_data=callback(CB_THEME, t.id))] for t in kb.themes]
    return InlineKeyboardMarkup(rows)


def topic_rows(kb: KnowledgeBase, topic_ids: list[str], lang: str) -> list[list[InlineKeyboardButton]]:
    """One button a row, each opening a topic card."""
    return [
        [InlineKeyboardButton(short_label(kb.topics[t].title.get(lang)), callback_data=callback(CB_TOPIC, t))]
        for t in topic_ids
        if t in kb.topics
    ]


def topics_keyboard(kb: KnowledgeBase, topics: list[Topic], lang: str, back: bool = True) -> InlineKeyboardMarkup:
    rows = topic_rows(kb, [t.id for t in topics], lang)
    if back:
        rows.append([InlineKeyboardButton(kb.text("all_topics", lang), callback_data=callback(CB_MENU))])
    return InlineKeyboardMarkup(rows)


# Cards that also offer the /banned step-by-step checklist.
GUIDED_FLOW_TOPICS = frozenset({"ban-appeal", "regional-fraud-ban"})


def card_keyboard(kb: KnowledgeBase, topic: Topic, lang: str) -> InlineKeyboardMarkup:
    rows = []
    if topic.id in GUIDED_FLOW_TOPICS:
        rows.append([InlineKeyboardButton(kb.text("banned_start", lang), callback_data=callback(CB_BANNED, "start"))])
    rows += [
        [InlineKeyboardButton("↪ " + short_label(kb.topics[r].title.get(lang)), callback_data=callback(CB_TOPIC, r))]
        for r in topic.related
        if r in kb.topics
    ][:4]
    rows.append([
        InlineKeyboardButton("👍", callback_data=callback(CB_VOTE, topic.id, "1")),
        InlineKeyboardButton("👎", callback_data=callback(CB_VOTE, topic.id, "0")),
        InlineKeyboardButton(kb.text("all_topics", lang), callback_data=callback(CB_MENU)),
    ])
    return InlineKeyboardMarkup(rows)


class ReusedKeyboard(InlineKeyboardMarkup):
    """A keyboard sent again and again: immutable, so its JSON form is computed once."""

    __slots__ = ("_as_dict",)

    def to_dict(self, recursive: bool = True) -> dict:
        cached = getattr(self, "_as_dict", None)
        if cached is None or not recursive:
            if not recursive:
                return super().to_dict(recursive)
            cached = super().to_dict(recursive)
            object.__setattr__(self, "_as_dict", cached)  # TelegramObjects are frozen after __init__
        return cached


def keyboard(svc: Services, key: tuple, build: Callable[[], InlineKeyboardMarkup]) -> InlineKeyboardMarkup:
    """A keyboard built and serialised once per knowledge base (per answer, that cost a tenth of the CPU)."""
    markup = svc.keyboards.get(key)
    if markup is None:
        markup = svc.keyboards[key] = ReusedKeyboard(build().inline_keyboard)
    return markup


NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# Bot API method names are case-insensitive; PTB's do_api_request() asks to use
# Bot.send_message instead when given a name it knows, which is what send_html() avoids.
SEND_MESSAGE = "sendmessage"


async def send_html(message: Message, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """HTML into a private chat, without turning Telegram's copy of the sent message into objects.

    Bot.send_message parses the sent message it gets back; nothing here reads it,
    and for a card with its keyboard that parsing was an eighth of the bot's CPU per
    answer (bench/bench_cpu.py). For private chats: no forum topic or business
    connection to carry over, as Message.reply_html would.
    """
    params = {"chat_id": message.chat_id, "text": text, "parse_mode": ParseMode.HTML, "link_preview_options": NO_PREVIEW}
    if markup is not None:
        params["reply_markup"] = markup
    await message.get_bot().do_api_request(SEND_MESSAGE, api_kwargs=params)


async def send_card(message: Message, context: ContextTypes.DEFAULT_TYPE, topic: Topic, lang: str) -> None:
    """The full card in a private chat, split under the limit, buttons on the last part."""
    svc = services(context)
    parts = render_card_html(svc.kb, topic, lang, share_link(context, topic.id))
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        markup = keyboard(svc, ("card", topic.id, lang), lambda: card_keyboard(svc.kb, topic, lang)) if last else None
        await send_html(message, part, markup)
    svc.store.record_view(topic.id)
    if message.chat.type == "private":
        svc.recent_topics.set(message.chat.id, topic.id)


def group_card_html(context: ContextTypes.DEFAULT_TYPE, topic: Topic, lang: str) -> str:
    svc = services(context)
    return render_card_short_html(svc.kb, topic, lang, share_link(context, topic.id), svc.kb.text("read_more", lang))


def match_text(context: ContextTypes.DEFAULT_TYPE, text: str, previous_topic: str | None = None) -> Match:
    """The matcher's decision, reading a follow-up question in the light of the card before it."""
    return services(context).matcher.match_followup(text, previous_topic)


def topic_of_bot_message(message: Message | None) -> str | None:
    """The topic a card of ours was about, from its deep link (…?start=<topic-id>)."""
    if message is None:
        return None
    for entity in message.entities or ():
        url = entity.url or ""
        if "?start=" in url:
            return url.rsplit("?start=", 1)[1]
    return None


def effective_text(update: Update) -> str:
    msg = update.effective_message
    return valid_text((msg.text or msg.caption) if msg else None)


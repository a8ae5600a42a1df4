"""What every Telegram handler shares: the services, language choice, keyboards, replies as messages."""

from __future__ import annotations

import html

from dataclasses import dataclass, field
from typing import Callable

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message, Update, User
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from .. import conversation as talk
from ..cache import ExpiringLRU
from ..checker import MessageChecker
from ..conversation import Conversation
from ..knowledge import KnowledgeBase, Topic
from ..matcher import Matcher
from ..reload import LiveKnowledge
from ..ratelimit import RateLimiter
from ..reading import MAX_BYTES as MAX_PICTURE, PictureError, Reading
from ..render import (
    render_card_html,
    render_card_short_html,
    render_checklist_html,
    render_links_html,
    render_verdict_html,
    reply_first,
)
from ..store import Store
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
CB_FULL = "f"  # a card's full steps, under its short form


GROUP_ANSWERS_PER_MINUTE = 15


def callback(prefix: str, *args: str) -> str:
    data = ":".join((prefix, *args))
    assert len(data.encode()) <= 64, data  # ids are validated at load; this guards new prefixes
    return data


@dataclass
class Services:
    """The bot's long-lived collaborators, stored once in application.bot_data."""

    knowledge: LiveKnowledge  # the knowledge bundle served (bot/reload.py); each update pins one
    store: Store
    rate_limiter: RateLimiter
    # A group gets at most this many answers a minute, under Telegram's 20, so that
    # its replies never queue behind the flood limit (and hold up other chats).
    group_limiter: RateLimiter = field(default_factory=lambda: RateLimiter(GROUP_ANSWERS_PER_MINUTE, 60.0))
    # Per-chat knowledge of the guard: admins, the bot's own rights, the last warning.
    chat_state: ExpiringLRU[tuple, object] = field(default_factory=lambda: ExpiringLRU(20_000, 3600.0))
    # Keyboards are immutable and the same for every user: built once per knowledge base (see keyboard()).
    keyboards: dict[tuple, InlineKeyboardMarkup] = field(default_factory=dict)
    keyboards_of: KnowledgeBase | None = None

    conversation: Conversation = field(init=False)

    def __post_init__(self) -> None:
        self.conversation = Conversation(None, None, self.store, knowledge=self.knowledge)

    @property
    def matcher(self) -> Matcher:
        return self.knowledge.get().matcher

    @property
    def checker(self) -> MessageChecker:
        return self.knowledge.get().checker

    @property
    def kb(self) -> KnowledgeBase:
        return self.knowledge.get().kb


def services(context: ContextTypes.DEFAULT_TYPE) -> Services:
    return context.application.bot_data["services"]


def person(user: User | None) -> str:
    """A Telegram user as the conversation knows them (the key of their language and state in the store)."""
    return str(user.id) if user is not None else "anonymous"


def user_lang(context: ContextTypes.DEFAULT_TYPE, user: User | None, text: str | None = None) -> str:
    """The answer language: a /lang choice, else the text's language and script, else Telegram's language_code."""
    fallback = (user.language_code if user else None) or "en"
    return services(context).conversation.language(person(user), text, fallback)


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


def card_keyboard(kb: KnowledgeBase, topic: Topic, lang: str) -> InlineKeyboardMarkup:
    rows = []
    if topic.id in talk.GUIDED_FLOW_TOPICS:
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
    if svc.keyboards_of is not svc.kb:  # a reload: titles and ids may have changed
        svc.keyboards, svc.keyboards_of = {}, svc.kb
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


def short_card_keyboard(kb: KnowledgeBase, topic: Topic, lang: str) -> InlineKeyboardMarkup:
    """Under a card's short form: the full steps first, then the card's own buttons."""
    # The language travels with the button: the full steps come in the language of the answer above them.
    full = [InlineKeyboardButton("📋 " + kb.text("full_steps", lang), callback_data=callback(CB_FULL, topic.id, lang))]
    return InlineKeyboardMarkup([full, *card_keyboard(kb, topic, lang).inline_keyboard])


async def send_short_card(message: Message, context: ContextTypes.DEFAULT_TYPE, reply: talk.Card) -> None:
    """A card's answer first: the asker's first lines and the title, the full steps one button away."""
    svc = services(context)
    kb, topic, lang = svc.kb, reply.topic, reply.lang
    # The title links to the card's deep link: the link moderators share, and one tap to the whole card.
    link = html.escape(share_link(context, topic.id), quote=True)
    text = f"<b>{html.escape(reply_first(kb, reply))}</b>\n\n📌 <a href=\"{link}\">{html.escape(topic.title.get(lang))}</a>"
    markup = keyboard(svc, ("short", topic.id, lang), lambda: short_card_keyboard(kb, topic, lang))
    await send_html(message, text, markup)


async def send_card(message: Message, context: ContextTypes.DEFAULT_TYPE, topic: Topic, lang: str,
                    with_first: bool = False) -> None:
    """The full card in a private chat, split under the limit, buttons on the last part.

    `with_first`: the card is the whole reply (a shared link, a button), so it opens with its first lines.
    """
    svc = services(context)
    first = topic.first.get(lang) if with_first else None
    parts = render_card_html(svc.kb, topic, lang, share_link(context, topic.id), first)
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        markup = keyboard(svc, ("card", topic.id, lang), lambda: card_keyboard(svc.kb, topic, lang)) if last else None
        await send_html(message, part, markup)


def checklist_question_keyboard(reply: talk.ChecklistQuestion) -> InlineKeyboardMarkup:
    """The /banned question's options as buttons: platforms in a row, reasons one a row."""
    step = "p" if reply.step == "platform" else "n"
    buttons = [InlineKeyboardButton(label, callback_data=callback(CB_BANNED, step, value)) for value, label in reply.options]
    return InlineKeyboardMarkup([buttons] if reply.step == "platform" else [[b] for b in buttons])


async def send_reply(message: Message, context: ContextTypes.DEFAULT_TYPE, reply: talk.Reply,
                     quote: bool = False) -> None:
    """Any reply of the conversation, as Telegram HTML and buttons, into a private chat."""
    svc = services(context)
    kb, lang = svc.kb, reply.lang
    e = html.escape
    if isinstance(reply, talk.Pictured):
        # What was read, quoted under the picture, so that a misreading shows; then the reply to it.
        if reply.text:
            await message.reply_text(kb.text("picture_read", lang).replace("{text}", reply.excerpt), do_quote=True)
        await send_reply(message, context, reply.reply, quote)
        return
    if isinstance(reply, talk.Card) and reply.whole:
        await send_card(message, context, reply.topic, lang, with_first=True)
    elif isinstance(reply, talk.Card):
        await send_short_card(message, context, reply)
    elif isinstance(reply, talk.Choices):
        rows = topic_rows(kb, [t.id for t in reply.topics], lang)
        text = f"<b>{e(reply_first(kb, reply))}</b>\n\n{e(kb.text('did_you_mean', lang))}"
        await send_html(message, text, InlineKeyboardMarkup(rows))
    elif isinstance(reply, talk.NoAnswer):
        steps = f"{e(reply.fallback.answer.get(lang))}\n\n" if reply.fallback else ""
        body = (f"<b>{e(reply_first(kb, reply))}</b>\n\n{steps}{e(kb.text('no_answer_scope', lang))}\n\n"
                f"{e(kb.text('general_channels', lang))}")
        await send_html(message, body, keyboard(svc, ("themes", lang), lambda: themes_keyboard(kb, lang)))
    elif isinstance(reply, talk.Checked):
        rows = topic_rows(kb, list(reply.verdict.topics)[:4], lang)
        if reply.offer_question:
            # The button reads the message this verdict replies to: the pasted text itself.
            rows.append([InlineKeyboardButton(kb.text("check_as_question", lang), callback_data=callback(CB_ASK_PASTED))])
        links = render_links_html(kb, reply.links, lang)
        await message.reply_html(render_verdict_html(kb, reply.verdict, lang) + (f"\n\n{links}" if links else ""),
                                 reply_markup=InlineKeyboardMarkup(rows) if rows else None,
                                 do_quote=quote or reply.offer_question)
    elif isinstance(reply, talk.ChecklistQuestion):
        question = kb.text("banned_ask_platform" if reply.step == "platform" else "banned_ask_notice", lang)
        if reply.step == "platform":
            question += kb.text("banned_cancel_hint", lang)
        await message.reply_text(question, reply_markup=checklist_question_keyboard(reply), do_quote=False)
    elif isinstance(reply, talk.Checklist):
        rows = topic_rows(kb, [t.id for t in reply.topics], lang)
        text = f"<b>{e(reply_first(kb, reply))}</b>\n\n{render_checklist_html(kb, reply)}"
        await send_html(message, text, InlineKeyboardMarkup(rows))
    elif isinstance(reply, talk.Notice):
        await message.reply_text(kb.text(reply.key, lang), do_quote=False)
    else:
        raise TypeError(f"not a reply: {reply!r}")


def group_card_html(context: ContextTypes.DEFAULT_TYPE, topic: Topic, lang: str, situation: str | None = None) -> str:
    svc = services(context)
    return render_card_short_html(svc.kb, topic, lang, share_link(context, topic.id), svc.kb.text("read_more", lang),
                                  situation)


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



def picture_of(message: Message | None) -> tuple[str, int | None] | None:
    """The file id and size of a message's picture (a photo's largest size, or an image sent as a file), or None."""
    if message is None:
        return None
    if message.photo:
        largest = message.photo[-1]
        return largest.file_id, largest.file_size
    document = message.document
    if document is not None and (document.mime_type or "").startswith("image/"):
        return document.file_id, document.file_size
    return None


async def read_picture_of(message: Message, context: ContextTypes.DEFAULT_TYPE, who: str) -> Reading:
    """Download a message's picture into memory (never to disk) and read it; PictureError when it cannot be."""
    from telegram.error import BadRequest

    found = picture_of(message)
    if found is None:
        raise PictureError("picture_not_image", "the message has no picture")
    file_id, size = found
    if size is not None and size > MAX_PICTURE:
        raise PictureError("picture_too_big", "the picture is over 10 MB")
    try:
        file = await message.get_bot().get_file(file_id)
    except BadRequest as exc:
        if "too big" in str(exc).lower():
            raise PictureError("picture_too_big", "the picture is over 20 MB") from None
        raise
    if file.file_size is not None and file.file_size > MAX_PICTURE:
        raise PictureError("picture_too_big", "the picture is over 10 MB")
    data = bytes(await file.download_as_bytearray())
    return await services(context).conversation.pictures.read_async(data, who)

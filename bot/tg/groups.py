"""Groups: /ask, /topic, mentions and replies to the bot; ordinary chatter is never answered."""

from __future__ import annotations

import html

from telegram import Message, Update, User
from telegram.constants import MessageEntityType
from telegram.ext import ContextTypes

from . import guard
from ..utf8 import valid_text
from ..conversation import Card, Choices
from ..render import reply_first
from .common import group_card_html, person, services, topic_of_bot_message, ui, user_lang


async def reply_in_group(target: Message, context: ContextTypes.DEFAULT_TYPE, asker: User | None, question: str,
                         lang: str, previous_topic: str | None = None) -> None:
    """A short card (or a short no-answer) posted as a reply to `target`.

    A group gets the closest card even when the conversation would offer choices:
    a list of buttons there would serve only the one who asked.
    """
    reply = services(context).conversation.question(person(asker), question, lang, previous_topic, private=False)
    if isinstance(reply, Choices) and reply.topics:
        reply = Card(reply.topics[0], lang, reply.situation)
    if isinstance(reply, Card):
        text = group_card_html(context, reply.topic, lang, reply.situation)
    else:
        link = f"https://t.me/{context.bot.username}"
        first = reply_first(services(context).kb, reply)
        text = f"{html.escape(first)}\n\n<a href=\"{link}\">{html.escape(ui(context, 'ask_in_private', lang))}</a>"
    await target.reply_html(text, disable_web_page_preview=True)


def _strip_bot_mention(message: Message, username: str) -> str:
    text = valid_text(message.text or message.caption)
    mentions = (message.parse_entities if message.text else message.parse_caption_entities)([MessageEntityType.MENTION])
    for value in mentions.values():
        if value.lstrip("@").lower() == username.lower():
            text = text.replace(valid_text(value), " ")
    return text.strip()


async def cmd_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask <question>; a bare /ask in reply to a member answers that member's message."""
    message = update.effective_message
    question = valid_text(" ".join(context.args or []))
    target = message
    replied = message.reply_to_message
    if not question and replied is not None:
        question = valid_text(replied.text or replied.caption)
        target = replied
    lang = user_lang(context, update.effective_user, question)
    if not question.strip():
        await message.reply_text(ui(context, "ask_usage", lang))
        return
    await reply_in_group(target, context, update.effective_user, question, lang)


async def cmd_topic(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/topic <id>: post that card, as a reply to the member's message when used in reply."""
    svc = services(context)
    message = update.effective_message
    lang = user_lang(context, update.effective_user)
    topic_id = (context.args or [""])[0].strip().lower()
    if topic_id not in svc.kb.topics:
        ids = ", ".join(svc.kb.topics)
        await message.reply_text(f"{ui(context, 'topic_usage', lang)}\n{ids}")
        return
    target = message.reply_to_message or message
    await target.reply_html(group_card_html(context, svc.kb.topics[topic_id], lang), disable_web_page_preview=True)
    svc.store.record_view(topic_id)


def addressed_to_bot(message: Message, bot_id: int, username: str) -> bool:
    """A mention of the bot, a reply to one of its messages, or a command for it (not for another bot)."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == bot_id:
        return True
    text = valid_text(message.text or message.caption)
    first = message.entities[0] if message.entities else None
    if first is not None and first.type == MessageEntityType.BOT_COMMAND and first.offset == 0:
        command = text.split(maxsplit=1)[0]
        return "@" not in command or command.rpartition("@")[2].lower() == username.lower()
    return _strip_bot_mention(message, username) != text.strip()


async def on_group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text or a caption: screened by the guard; answered if it mentions or replies to the bot."""
    message = update.effective_message
    bot = context.bot
    if await guard.screen(message, context):
        return
    if not addressed_to_bot(message, bot.id, bot.username):
        return
    replied = message.reply_to_message
    to_bot = replied is not None and replied.from_user is not None and replied.from_user.id == bot.id
    question = _strip_bot_mention(message, bot.username)
    lang = user_lang(context, update.effective_user, question)
    if not question:
        await message.reply_text(ui(context, "ask_usage", lang))
        return
    await reply_in_group(message, context, update.effective_user, question, lang,
                         topic_of_bot_message(replied) if to_bot else None)

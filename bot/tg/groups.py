"""Groups: /ask, /topic, mentions and replies to the bot; ordinary chatter is never answered."""

from __future__ import annotations

import html

from telegram import Message, Update
from telegram.constants import MessageEntityType
from telegram.ext import ContextTypes

from . import guard
from .common import group_card_html, match_text, services, topic_of_bot_message, ui, user_lang


async def reply_in_group(target: Message, context: ContextTypes.DEFAULT_TYPE, question: str, lang: str,
                         previous_topic: str | None = None) -> None:
    """A short card (or a short no-answer) posted as a reply to `target`."""
    svc = services(context)
    match = match_text(context, question, previous_topic)
    if match.decision != "none" and match.topic:
        text = group_card_html(context, svc.kb.topics[match.topic], lang)
        svc.store.record_view(match.topic)
    else:
        svc.store.record_unanswered(question, match.lang)
        link = f"https://t.me/{context.bot.username}"
        text = f"{html.escape(ui(context, 'no_answer', lang))}\n\n<a href=\"{link}\">{html.escape(ui(context, 'ask_in_private', lang))}</a>"
    await target.reply_html(text, disable_web_page_preview=True)


def _strip_bot_mention(message: Message, username: str) -> str:
    text = message.text or ""
    for value in message.parse_entities([MessageEntityType.MENTION]).values():
        if value.lstrip("@").lower() == username.lower():
            text = text.replace(value, " ")
    return text.strip()


async def cmd_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask <question>; a bare /ask in reply to a member answers that member's message."""
    message = update.effective_message
    question = " ".join(context.args or [])
    target = message
    replied = message.reply_to_message
    if not question and replied is not None:
        question = replied.text or replied.caption or ""
        target = replied
    lang = user_lang(context, update.effective_user, question)
    if not question.strip():
        await message.reply_text(ui(context, "ask_usage", lang))
        return
    await reply_in_group(target, context, question, lang)


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


async def on_group_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A mention of the bot or a reply to the bot's own message; anything else is ignored."""
    message = update.effective_message
    bot = context.bot
    if await guard.screen(message, context):
        return
    replied = message.reply_to_message
    to_bot = replied is not None and replied.from_user is not None and replied.from_user.id == bot.id
    question = _strip_bot_mention(message, bot.username)
    mentioned = question != (message.text or "").strip()
    if not (to_bot or mentioned):
        return
    lang = user_lang(context, update.effective_user, question)
    if not question:
        await message.reply_text(ui(context, "ask_usage", lang))
        return
    await reply_in_group(message, context, question, lang, topic_of_bot_message(replied) if to_bot else None)

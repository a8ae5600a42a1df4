"""'Is this legit?' in private chat: /check, forwarded messages, and pasted ads routed to the checker."""

from __future__ import annotations

from telegram import Message, Update
from telegram.ext import ContextTypes

from ..utf8 import valid_text
from .common import person, send_reply, services, user_lang


def pasted_text(verdict_message: Message | None) -> str | None:
    """The text a verdict with the 'meant it as a question' button was about: the message it replies to."""
    pasted = getattr(verdict_message, "reply_to_message", None)  # None for a message too old to read
    if pasted is None:
        return None
    return valid_text(pasted.text or pasted.caption) or None


async def cmd_check(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/check <text>: the verdict on a message someone received."""
    message = update.effective_message
    text = valid_text(message.text).partition(" ")[2]
    if not text.strip() and message.reply_to_message is not None:
        text = valid_text(message.reply_to_message.text or message.reply_to_message.caption)
    user = update.effective_user
    await send_reply(message, context, services(context).conversation.check(person(user), text, user_lang(context, user, text)))


async def on_forwarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A forwarded message is something the user received: check it."""
    message = update.effective_message
    text = valid_text(message.text or message.caption)
    user = update.effective_user
    reply = services(context).conversation.check(person(user), text, user_lang(context, user, text), offer_question=True)
    await send_reply(message, context, reply)

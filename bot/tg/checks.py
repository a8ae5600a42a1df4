"""'Is this legit?' in private chat: /check, forwarded messages, and pasted ads routed to the checker."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from ..checker import Verdict
from ..knowledge import KnowledgeBase
from ..render import render_verdict_html
from ..utf8 import valid_text
from .common import CB_ASK_PASTED, callback, services, topic_rows, ui, user_lang

def verdict_html(verdict: Verdict, kb: KnowledgeBase, lang: str) -> tuple[str, list[str]]:
    """The verdict message for a checked text, and the topic ids to offer."""
    return render_verdict_html(kb, verdict, lang), list(verdict.topics)


async def reply_with_verdict(message: Message, context: ContextTypes.DEFAULT_TYPE, text: str, lang: str,
                             offer_question: bool = False, verdict: Verdict | None = None) -> None:
    """The verdict; with offer_question, as a reply to the pasted message, whose button reads that message again."""
    svc = services(context)
    body, topics = verdict_html(verdict or svc.checker.check_message(text), svc.kb, lang)
    rows = topic_rows(svc.kb, topics[:4], lang)
    if offer_question:
        rows.append([InlineKeyboardButton(ui(context, "check_as_question", lang), callback_data=callback(CB_ASK_PASTED))])
    await message.reply_html(body, reply_markup=InlineKeyboardMarkup(rows) if rows else None, do_quote=offer_question)


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
    lang = user_lang(context, update.effective_user, text)
    if not text.strip():
        await message.reply_text(ui(context, "check_usage", lang), do_quote=False)
        return
    await reply_with_verdict(message, context, text, lang)


async def on_forwarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A forwarded message is something the user received: check it."""
    message = update.effective_message
    text = valid_text(message.text or message.caption)
    lang = user_lang(context, update.effective_user, text)
    if not text.strip():
        await message.reply_text(ui(context, "check_usage", lang), do_quote=False)
        return
    await reply_with_verdict(message, context, text, lang, offer_question=True)

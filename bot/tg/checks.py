"""'Is this legit?' in private chat: /check, forwarded messages, and pasted ads routed to the checker."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from ..checker import Verdict

from .common import CB_ASK_PASTED, callback, services, topic_rows, ui, user_lang

LAST_PASTED = "last_pasted"


def verdict_html(verdict: Verdict, context: ContextTypes.DEFAULT_TYPE, lang: str) -> tuple[str, list[str]]:
    """The verdict message for a checked text, and the topic ids to offer."""
    lines = [html.escape(ui(context, f"check_{verdict.risk}", lang))]
    if verdict.context != "ad":
        lines.append(html.escape(ui(context, f"check_context_{verdict.context}", lang)))
    if verdict.flags:
        lines.append("")
        lines.append(f"<b>{html.escape(ui(context, 'check_flags', lang))}</b>")
        for flag in verdict.flags:
            trigger = html.escape(flag.trigger[:80])
            lines.append(f"• {html.escape(flag.label.get(lang))}: “<code>{trigger}</code>”")
    return "\n".join(lines), list(verdict.topics)


async def reply_with_verdict(message: Message, context: ContextTypes.DEFAULT_TYPE, text: str, lang: str,
                             offer_question: bool = False, verdict: Verdict | None = None) -> None:
    svc = services(context)
    body, topics = verdict_html(verdict or svc.checker.check_message(text), context, lang)
    rows = topic_rows(svc.kb, topics[:4], lang)
    if offer_question:
        context.user_data[LAST_PASTED] = text
        rows.append([InlineKeyboardButton(ui(context, "check_as_question", lang), callback_data=callback(CB_ASK_PASTED))])
    await message.reply_html(body, reply_markup=InlineKeyboardMarkup(rows) if rows else None, do_quote=False)


async def cmd_check(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/check <text>: the verdict on a message someone received."""
    message = update.effective_message
    text = message.text.partition(" ")[2] if message.text else ""
    if not text.strip() and message.reply_to_message is not None:
        text = message.reply_to_message.text or message.reply_to_message.caption or ""
    lang = user_lang(context, update.effective_user, text)
    if not text.strip():
        await message.reply_text(ui(context, "check_usage", lang), do_quote=False)
        return
    await reply_with_verdict(message, context, text, lang)


async def on_forwarded(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A forwarded message is something the user received: check it."""
    message = update.effective_message
    text = message.text or message.caption or ""
    lang = user_lang(context, update.effective_user, text)
    if not text.strip():
        await message.reply_text(ui(context, "check_usage", lang), do_quote=False)
        return
    await reply_with_verdict(message, context, text, lang, offer_question=True)

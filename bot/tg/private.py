"""Private chats: questions, /start with deep links, /help, /topics, /appeal, /report, /lang, non-text."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from .. import languages
from . import banned, checks
from .common import (
    CB_LANG,
    callback,
    effective_text,
    keyboard,
    match_text,
    send_card,
    send_html,
    services,
    themes_keyboard,
    topic_rows,
    ui,
    user_lang,
)

APPEAL_TOPIC = "ban-appeal"
REPORT_TOPICS = ("report-gambling", "report-porn-contraband", "report-fraud-general")


async def answer_question(message: Message, context: ContextTypes.DEFAULT_TYPE, text: str, lang: str) -> None:
    """Match a question and reply with a card, 'did you mean' buttons, or an honest no-answer."""
    svc = services(context)
    if not text.strip():
        await message.reply_text(ui(context, "empty_question", lang), do_quote=False)
        return
    match = match_text(context, text, svc.recent_topics.get(message.chat.id))
    if match.decision == "answer" and match.topic:
        await send_card(message, context, svc.kb.topics[match.topic], lang)
    elif match.decision == "suggest" and match.topic:
        rows = topic_rows(svc.kb, [match.topic] + [a.topic for a in match.alternatives], lang)
        await message.reply_text(ui(context, "did_you_mean", lang), reply_markup=InlineKeyboardMarkup(rows), do_quote=False)
    else:
        svc.store.record_unanswered(text, match.lang)
        body = f"{html.escape(ui(context, 'no_answer', lang))}\n\n{html.escape(ui(context, 'general_channels', lang))}"
        await send_html(message, body, keyboard(svc, ("themes", lang), lambda: themes_keyboard(svc.kb, lang)))


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text in a private chat: a step of /banned, a pasted ad to check, or a question."""
    text = effective_text(update)
    user = update.effective_user
    message = update.effective_message
    lang = user_lang(context, user, text)
    if await banned.take_pasted_notice(message, context, user.id, text, lang):
        return
    checker = services(context).checker
    verdict = checker.check_message(text)
    if checker.reads_like_a_message(text, verdict):
        await checks.reply_with_verdict(message, context, text, lang, offer_question=True, verdict=verdict)
        return
    await answer_question(message, context, text, lang)


async def cmd_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start, or /start <topic-id> from a deep link."""
    svc = services(context)
    lang = user_lang(context, update.effective_user)
    payload = context.args[0] if context.args else ""
    if payload in svc.kb.topics:
        await send_card(update.effective_message, context, svc.kb.topics[payload], lang)
        return
    await update.effective_message.reply_html(
        html.escape(ui(context, "welcome", lang)), reply_markup=themes_keyboard(svc.kb, lang), do_quote=False
    )


async def cmd_help(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/help: what the bot does and its commands."""
    lang = user_lang(context, update.effective_user)
    await update.effective_message.reply_html(html.escape(ui(context, "help", lang)), do_quote=False)


async def cmd_topics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/topics: browse topics by theme."""
    svc = services(context)
    lang = user_lang(context, update.effective_user)
    await update.effective_message.reply_text(
        ui(context, "topic_list", lang), reply_markup=themes_keyboard(svc.kb, lang), do_quote=False
    )


async def cmd_appeal(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/appeal: the ban-appeal card."""
    svc = services(context)
    await send_card(update.effective_message, context, svc.kb.topics[APPEAL_TOPIC], user_lang(context, update.effective_user))


async def cmd_report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/report: how to report gambling, pornography and contraband, and fraud."""
    svc = services(context)
    lang = user_lang(context, update.effective_user)
    topics = [svc.kb.topics[t] for t in REPORT_TOPICS if t in svc.kb.topics]
    lines = [f"<b>{html.escape(ui(context, 'report_intro', lang))}</b>"]
    for topic in topics:
        first = topic.official_paths[0]
        lines.append(
            f"\n<b>{html.escape(topic.title.get(lang))}</b>\n{html.escape(topic.summary.get(lang))}\n"
            f"• {html.escape(first.name.get(lang))}: {html.escape(first.how.get(lang))}"
        )
    rows = topic_rows(svc.kb, [t.id for t in topics], lang)
    await update.effective_message.reply_html(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(rows), do_quote=False, disable_web_page_preview=True
    )


async def cmd_lang(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/lang: choose Simplified or Traditional Chinese, English, or follow each question."""
    lang = user_lang(context, update.effective_user)
    rows = [
        [InlineKeyboardButton(label, callback_data=callback(CB_LANG, code)) for code, label in languages.menu()],
        [InlineKeyboardButton(ui(context, "lang_auto", lang), callback_data=callback(CB_LANG, "auto"))],
    ]
    await update.effective_message.reply_text(ui(context, "lang_choose", lang), reply_markup=InlineKeyboardMarkup(rows), do_quote=False)


async def on_non_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Stickers, photos, voice: a hint that the bot reads text."""
    lang = user_lang(context, update.effective_user)
    await update.effective_message.reply_text(ui(context, "text_only", lang), do_quote=False)

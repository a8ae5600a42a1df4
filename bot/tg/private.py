"""Private chats: questions, /start with deep links, /help, /topics, /appeal, /report, /lang, non-text."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update, User
from telegram.ext import ContextTypes

from .. import languages
from ..conversation import APPEAL_TOPIC, REPORT_TOPICS
from ..reading import PictureError
from .common import (
    CB_LANG,
    callback,
    effective_text,
    person,
    read_picture_of,
    send_reply,
    services,
    themes_keyboard,
    topic_rows,
    ui,
    user_lang,
)


async def answer_question(message: Message, context: ContextTypes.DEFAULT_TYPE, user: User | None, text: str,
                          lang: str) -> None:
    """Text read as a question (/ask, "I meant it as a question"): a card, choices, or an honest no-answer."""
    await send_reply(message, context, services(context).conversation.question(person(user), text, lang))


async def on_private_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Text in a private chat: whatever the conversation makes of it (a checklist answer, a pasted ad, a question)."""
    user = update.effective_user
    reply = services(context).conversation.receive(person(user), effective_text(update),
                                                   fallback_lang=user.language_code if user else None)
    await send_reply(update.effective_message, context, reply)


async def on_private_picture(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A photo or an image sent as a file: read on this machine, quoted back, then answered like its text."""
    message = update.effective_message
    user = update.effective_user
    try:
        reading = await read_picture_of(message, context, person(user))
    except PictureError as exc:
        await message.reply_text(ui(context, exc.key, user_lang(context, user)), do_quote=True)
        return
    reply = services(context).conversation.picture(person(user), reading,
                                                   fallback_lang=user.language_code if user else None)
    await send_reply(message, context, reply)


async def cmd_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/start, or /start <topic-id> from a deep link."""
    svc = services(context)
    user = update.effective_user
    lang = user_lang(context, user)
    payload = context.args[0] if context.args else ""
    if payload in svc.kb.topics:
        await send_reply(update.effective_message, context, svc.conversation.open(person(user), payload, lang))
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
    user = update.effective_user
    reply = services(context).conversation.open(person(user), APPEAL_TOPIC, user_lang(context, user))
    await send_reply(update.effective_message, context, reply)


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
    """Stickers, voice, video: a hint that the bot reads text and pictures."""
    lang = user_lang(context, update.effective_user)
    await update.effective_message.reply_text(ui(context, "text_only", lang), do_quote=False)

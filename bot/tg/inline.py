"""Inline mode: '@bot <query>' offers up to five topic cards; an empty query the most-used topics."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InlineQueryResultArticle, InputTextMessageContent, Update
from telegram.constants import ParseMode
from telegram.ext import ContextTypes

from ..utf8 import valid_text
from .common import group_card_html, services, share_link, ui, user_lang

MAX_RESULTS = 5


async def on_inline_query(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer an inline query with topic cards as articles."""
    svc = services(context)
    query = update.inline_query
    text = valid_text(query.query).strip()
    lang = user_lang(context, update.effective_user, text)
    if text:
        match = svc.matcher.match_question(text)
        ids = ([match.topic] if match.topic else []) + [a.topic for a in match.alternatives]
        if match.decision == "none":
            ids = []
    else:
        ids = svc.store.most_viewed(MAX_RESULTS)
        ids += [t for t in svc.kb.topics if t not in ids]
    results = []
    for topic_id in list(dict.fromkeys(ids))[:MAX_RESULTS]:
        topic = svc.kb.topics.get(topic_id)
        if topic is None:
            continue
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(ui(context, "read_more", lang), url=share_link(context, topic.id))]])
        results.append(
            InlineQueryResultArticle(
                id=topic.id,
                title=topic.title.get(lang),
                description=topic.summary.get(lang),
                input_message_content=InputTextMessageContent(
                    group_card_html(context, topic, lang), parse_mode=ParseMode.HTML, link_preview_options=None
                ),
                reply_markup=markup,
            )
        )
    # Personal: the language (and, for an empty query, the list) depends on the user.
    await query.answer(results, cache_time=60, is_personal=True)

"""Inline-keyboard buttons: topics, themes, the menu, feedback votes, language. Every query is answered."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from .. import languages
from . import banned, checks
from .common import (
    CB_ASK_PASTED,
    CB_BANNED,
    CB_FULL,
    CB_LANG,
    CB_MENU,
    CB_THEME,
    CB_TOPIC,
    CB_VOTE,
    person,
    send_card,
    send_reply,
    services,
    themes_keyboard,
    topics_keyboard,
    ui,
    user_lang,
)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Dispatch a button press by its callback-data prefix."""
    svc = services(context)
    query = update.callback_query
    lang = user_lang(context, update.effective_user)
    prefix, _, arg = (query.data or "").partition(":")
    message = query.message
    if prefix == CB_TOPIC and arg in svc.kb.topics and message is not None:
        await query.answer()
        await send_reply(message, context, svc.conversation.open(person(update.effective_user), arg, lang))
    elif prefix == CB_FULL and arg.partition(":")[0] in svc.kb.topics and message is not None:
        await query.answer()
        topic_id, _, card_lang = arg.partition(":")
        await send_card(message, context, svc.kb.topics[topic_id], card_lang if card_lang in languages.LANGUAGES else lang)
    elif prefix == CB_THEME and message is not None and any(t.id == arg for t in svc.kb.themes):
        await query.answer()
        # A new message rather than an edit: the menu may sit under a no-answer worth keeping.
        await message.reply_text(
            next(t.title.get(lang) for t in svc.kb.themes if t.id == arg),
            reply_markup=topics_keyboard(svc.kb, svc.kb.topics_in_theme(arg), lang),
            do_quote=False,
        )
    elif prefix == CB_MENU and message is not None:
        await query.answer()
        await message.reply_text(ui(context, "topic_list", lang), reply_markup=themes_keyboard(svc.kb, lang), do_quote=False)
    elif prefix == CB_VOTE:
        topic_id, _, vote = arg.rpartition(":")
        if vote in ("0", "1"):
            svc.conversation.vote(person(update.effective_user), topic_id, up=vote == "1")
        await query.answer(ui(context, "vote_thanks", lang))
    elif prefix == CB_LANG and (arg in languages.LANGUAGES or arg == "auto"):
        svc.conversation.set_language(person(update.effective_user), None if arg == "auto" else arg)
        await query.answer(ui(context, "lang_set", user_lang(context, update.effective_user)))
    elif prefix == CB_BANNED:
        await banned.on_banned_button(update, context, arg)
    elif prefix == CB_ASK_PASTED and checks.pasted_text(message) and not _pressed_before(svc, message):
        await query.answer()
        text = checks.pasted_text(message)
        user = update.effective_user
        await send_reply(message, context, svc.conversation.as_question(person(user), text, user_lang(context, user, text)))
    else:
        # Old buttons (a topic since removed, a message too old to edit) still get an answer.
        await query.answer(ui(context, "button_expired", lang))


def _pressed_before(svc, message) -> bool:
    """A second tap on the same 'meant it as a question' button is answered once, not twice."""
    key = ("asked", message.chat.id, message.message_id)
    if key in svc.chat_state:
        return True
    svc.chat_state.set(key, True)
    return False

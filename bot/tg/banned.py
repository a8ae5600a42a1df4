"""/banned in Telegram: the conversation's guided checklist (platform, then the notice's reason) as buttons.

The steps, the checklist and the state (kept in the store, so a restart does not
lose anyone halfway) belong to bot/conversation.py; this only translates.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ContextTypes

from ..conversation import Notice
from .common import person, send_reply, services, ui, user_lang


async def cmd_banned(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/banned: start the guided checklist."""
    user = update.effective_user
    reply = services(context).conversation.checklist_start(person(user), user_lang(context, user))
    await send_reply(update.effective_message, context, reply)


async def cmd_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel: leave the guided checklist."""
    user = update.effective_user
    reply = services(context).conversation.cancel(person(user), user_lang(context, user))
    await send_reply(update.effective_message, context, reply)


async def on_banned_button(update: Update, context: ContextTypes.DEFAULT_TYPE, arg: str) -> None:
    """Buttons of the flow: b:start, b:p:<platform>, b:n:<reason>."""
    query = update.callback_query
    user = update.effective_user
    lang = user_lang(context, user)
    talk = services(context).conversation
    step, _, value = arg.partition(":")
    if query.message is None:  # too old for Telegram to say where it was
        await query.answer(ui(context, "button_expired", lang))
        return
    if step == "start":
        reply = talk.checklist_start(person(user), lang)
    elif step == "p":
        reply = talk.checklist_platform(person(user), value, lang)
    elif step == "n":
        reply = talk.checklist_reason(person(user), value, lang)
    else:
        reply = Notice("flow_expired", lang)
    if isinstance(reply, Notice):
        await query.answer(ui(context, reply.key, lang))
        return
    await query.answer()
    await send_reply(query.message, context, reply)

"""The error handler: the traceback to the log (never the token), a short apology to the user."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import TimedOut
from telegram.ext import ContextTypes

from .common import services, user_lang

log = logging.getLogger(__name__)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log the exception and, where there is a chat, apologise."""
    error = context.error
    if isinstance(error, TimedOut):
        # The message that timed out may well have been delivered: no apology on top of it.
        log.warning("a request timed out while handling an update (it may have been delivered): %s", error)
        return
    log.error("error while handling an update", exc_info=error)
    if not isinstance(update, Update):
        return
    if update.callback_query is not None:
        try:
            await update.callback_query.answer()
        except Exception:  # noqa: BLE001 - already answered, or too old: nothing more to do
            pass
    if update.effective_message is None or update.effective_chat is None:
        return
    try:
        lang = user_lang(context, update.effective_user)
        await update.effective_message.reply_text(services(context).kb.text("apology", lang), do_quote=False)
    except Exception:  # noqa: BLE001 - an apology that fails must not raise again
        log.warning("could not send the apology", exc_info=True)

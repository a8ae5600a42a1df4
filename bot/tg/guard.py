"""Opt-in group guard: a short warning under high-risk recruitment ads, deletion only if asked."""

from __future__ import annotations

import html
import logging
import time

from telegram import Message, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from .common import services, share_link, ui, user_lang

log = logging.getLogger(__name__)

WARNING_INTERVAL = 60.0  # seconds: at most one warning per group in this time
MODES = ("on", "delete")
ADMIN_STATUSES = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


def _key(chat_id: int) -> str:
    return f"guard:{chat_id}"


async def _is_admin(context: ContextTypes.DEFAULT_TYPE, chat_id: int, user_id: int) -> bool:
    member = await context.bot.get_chat_member(chat_id, user_id)
    return member.status in ADMIN_STATUSES


async def _bot_can_delete(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> bool:
    member = await context.bot.get_chat_member(chat_id, context.bot.id)
    return member.status == ChatMemberStatus.OWNER or bool(getattr(member, "can_delete_messages", False))


async def cmd_guard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/guard on|off|delete|status, for group admins."""
    message = update.effective_message
    chat_id = update.effective_chat.id
    lang = user_lang(context, update.effective_user)
    store = services(context).store
    action = (context.args or ["status"])[0].lower()
    if action == "status":
        mode = store.get(_key(chat_id))
        await message.reply_text(ui(context, {"on": "guard_status_on", "delete": "guard_status_delete"}.get(mode, "guard_status_off"), lang))
        return
    if action not in ("on", "off", "delete"):
        await message.reply_text(ui(context, "guard_usage", lang))
        return
    if not await _is_admin(context, chat_id, update.effective_user.id):
        await message.reply_text(ui(context, "guard_admins_only", lang))
        return
    if action == "off":
        store.put(_key(chat_id), None)
        await message.reply_text(ui(context, "guard_off", lang))
    elif action == "on":
        store.put(_key(chat_id), "on")
        await message.reply_text(ui(context, "guard_on", lang))
    else:
        store.put(_key(chat_id), "delete")
        can = await _bot_can_delete(context, chat_id)
        await message.reply_text(ui(context, "guard_delete_on" if can else "guard_delete_no_right", lang))


async def screen(message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Check a group message when the guard is on; True when it was warned about."""
    svc = services(context)
    mode = svc.store.get(_key(message.chat_id))
    if mode not in MODES:
        return False
    text = message.text or message.caption or ""
    verdict = svc.checker.check_message(text)
    if verdict.risk != "high":
        return False
    last = context.bot_data.setdefault("guard_last_warning", {})
    now = time.monotonic()
    deleted = False
    if mode == "delete" and await _bot_can_delete(context, message.chat_id):
        try:
            deleted = await message.delete()
        except TelegramError:
            log.warning("guard could not delete a message in chat %s", message.chat_id)
    if now - last.get(message.chat_id, -WARNING_INTERVAL) < WARNING_INTERVAL:
        return True
    last[message.chat_id] = now
    lang = user_lang(context, message.from_user, text)
    topic = verdict.topics[0]
    title = svc.kb.topics[topic].title.get(lang)
    body = f"{html.escape(ui(context, 'guard_warning', lang))}\n<a href=\"{html.escape(share_link(context, topic), quote=True)}\">{html.escape(title)}</a>"
    if deleted:
        await message.get_bot().send_message(message.chat_id, body, parse_mode="HTML", disable_web_page_preview=True)
    else:
        await message.reply_html(body, disable_web_page_preview=True)
    return True

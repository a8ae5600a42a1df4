"""Opt-in group guard: a short warning under high-risk recruitment ads, deletion only if asked.

It reads text and captions (photos, videos, documents) and the text and QR codes of
pictures, new and edited, forwarded or not; admins' own messages are never flagged. Who is an admin and what the bot
itself may do are asked once and remembered (the bot's rights are updated when
Telegram reports a change).
"""

from __future__ import annotations

import asyncio
import html
import logging
import time

from telegram import ChatMember, Message, Update
from telegram.constants import ChatMemberStatus
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from ..reading import PictureError
from ..utf8 import valid_text
from .common import picture_of, read_picture_of, services, share_link, ui, user_lang

log = logging.getLogger(__name__)

WARNING_INTERVAL = 60.0  # seconds: at most one warning per group in this time
ADMINS_TTL = 600.0  # seconds a group's admin list is trusted
RIGHTS_TTL = 3600.0  # seconds the bot's own rights are trusted (Telegram reports changes sooner)
MODES = ("on", "delete")
ADMIN_STATUSES = (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)


def _key(chat_id: int) -> str:
    return f"guard:{chat_id}"


def _remembered(context: ContextTypes.DEFAULT_TYPE, key: tuple, ttl: float):
    entry = services(context).chat_state.get(key)
    if entry is None or time.monotonic() - entry[0] > ttl:
        return None
    return entry[1]


def _remember(context: ContextTypes.DEFAULT_TYPE, key: tuple, value) -> None:
    services(context).chat_state.set(key, (time.monotonic(), value))


def is_anonymous_admin(message: Message) -> bool:
    """A message an admin sent as the group itself ("remain anonymous")."""
    return message.sender_chat is not None and message.sender_chat.id == message.chat.id


async def _is_admin(context: ContextTypes.DEFAULT_TYPE, message: Message) -> bool:
    if is_anonymous_admin(message):
        return True
    if message.from_user is None:
        return False
    member = await context.bot.get_chat_member(message.chat.id, message.from_user.id)
    return member.status in ADMIN_STATUSES


async def _looked_up_once(context: ContextTypes.DEFAULT_TYPE, key: tuple, ttl: float, look_up):
    """A remembered answer, or one lookup shared by every handler that asks at the same time."""
    answer = _remembered(context, key, ttl)
    if answer is None:
        answer = asyncio.ensure_future(look_up())
        _remember(context, key, answer)
    try:
        return await asyncio.shield(answer)
    except Exception:
        services(context).chat_state.pop(key)  # ask again next time
        raise


async def admin_ids(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> frozenset[int]:
    async def look_up() -> frozenset[int]:
        return frozenset(m.user.id for m in await context.bot.get_chat_administrators(chat_id))

    return await _looked_up_once(context, ("admins", chat_id), ADMINS_TTL, look_up)


async def sent_by_admin(context: ContextTypes.DEFAULT_TYPE, message: Message) -> bool:
    """Admins, anonymous admins and the group's own linked channel are never flagged."""
    if message.sender_chat is not None:
        return is_anonymous_admin(message) or bool(message.is_automatic_forward)
    user = message.from_user
    return user is not None and user.id in await admin_ids(context, message.chat.id)


def _rights_of(member: ChatMember) -> bool:
    return member.status == ChatMemberStatus.OWNER or bool(getattr(member, "can_delete_messages", False))


async def bot_can_delete(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> bool:
    async def look_up() -> bool:
        return _rights_of(await context.bot.get_chat_member(chat_id, context.bot.id))

    return await _looked_up_once(context, ("rights", chat_id), RIGHTS_TTL, look_up)


async def on_my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The bot's rights in a chat changed: remember the new ones."""
    change = update.my_chat_member
    answer = asyncio.get_running_loop().create_future()
    answer.set_result(_rights_of(change.new_chat_member))
    _remember(context, ("rights", change.chat.id), answer)


async def cmd_guard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/guard on|off|delete|status, for group admins (anonymous admins included)."""
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
    if not await _is_admin(context, message):
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
        can = await bot_can_delete(context, chat_id)
        await message.reply_text(ui(context, "guard_delete_on" if can else "guard_delete_no_right", lang))


async def screen(message: Message, context: ContextTypes.DEFAULT_TYPE) -> bool:
    """Check a group message or caption when the guard is on; True when it was warned about."""
    svc = services(context)
    mode = svc.store.get(_key(message.chat_id))
    if mode not in MODES:
        return False
    text = valid_text(message.text or message.caption)
    codes: tuple = ()
    if picture_of(message) is not None:
        # An image ad, with or without a caption: its text and QR codes are screened like a text ad's.
        # Admins' pictures are not even read; a group gets a few read at a time.
        if await sent_by_admin(context, message):
            return False
        try:
            reading = await read_picture_of(message, context, f"group:{message.chat_id}")
        except (PictureError, TelegramError) as exc:
            log.info("guard could not read a picture in chat %s: %s", message.chat_id, getattr(exc, "key", exc))
            reading = None
        if reading is not None:
            text, codes = "\n".join(t for t in (text, reading.text) if t.strip()), reading.codes
    if not text.strip() and not codes:
        return False
    verdict, _ = svc.conversation.check_links(text, codes)
    if verdict.risk != "high" or await sent_by_admin(context, message):
        return False
    deleted = False
    if mode == "delete" and await bot_can_delete(context, message.chat_id):
        try:
            deleted = await message.delete()
        except TelegramError:
            log.warning("guard could not delete a message in chat %s", message.chat_id)
            svc.chat_state.pop(("rights", message.chat_id))  # ask again next time
    if _remembered(context, ("warned", message.chat_id), WARNING_INTERVAL) is not None:
        return True
    _remember(context, ("warned", message.chat_id), True)
    lang = user_lang(context, message.from_user, text)
    topic = verdict.topics[0]
    title = svc.kb.topics[topic].title.get(lang)
    body = f"{html.escape(ui(context, 'guard_warning', lang))}\n<a href=\"{html.escape(share_link(context, topic), quote=True)}\">{html.escape(title)}</a>"
    if deleted:
        await message.get_bot().send_message(message.chat_id, body, parse_mode="HTML", disable_web_page_preview=True)
    else:
        await message.reply_html(body, disable_web_page_preview=True)
    return True

"""Builds the python-telegram-bot Application: services, handlers, commands, polling or webhook."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from urllib.parse import urlparse

from telegram import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from telegram.error import BadRequest, InvalidToken, NetworkError

from ..config import Config, require_token
from ..errors import UserError
from .. import logs
from ..matcher import Matcher
from ..reload import LiveKnowledge
from ..store import Store, open_store
from ..utf8 import valid_text
from . import banned, buttons, checks, groups, guard, inline, private
from ..ratelimit import rate_limiter
from .common import GROUP_ANSWERS_PER_MINUTE, Services, services, ui, user_lang
from .delivery import run_until_signalled, sender_key
from .errors import on_error
from .outgoing import JsonBodyRequest, TelegramLimiter

log = logging.getLogger(__name__)

# (command, Chinese description, English description); private and group menus.
PRIVATE_COMMANDS = (
    ("start", "开始 / 话题菜单", "Start / topic menu"),
    ("topics", "按主题浏览", "Browse topics"),
    ("appeal", "账号被封怎么申诉", "How to appeal a ban"),
    ("banned", "被封了？一步步帮你处理", "Banned? Step-by-step checklist"),
    ("check", "这条消息靠谱吗？", "Is this message a scam?"),
    ("cancel", "退出当前步骤", "Stop the current steps"),
    ("report", "怎么举报赌博、色情、诈骗", "How to report gambling, porn, fraud"),
    ("lang", "切换语言", "Change language"),
    ("help", "使用说明", "Help"),
)
GROUP_COMMANDS = (
    ("ask", "提问（可回复某条消息使用）", "Ask (or reply to a message with /ask)"),
    ("topic", "发布某个话题卡片", "Post a topic card"),
    ("guard", "防骗提醒（管理员）", "Scam guard (admins)"),
    ("help", "使用说明", "Help"),
)
MEDIA = (
    filters.Sticker.ALL | filters.PHOTO | filters.VOICE | filters.VIDEO | filters.AUDIO | filters.Document.ALL
    | filters.VIDEO_NOTE | filters.ANIMATION | filters.LOCATION | filters.CONTACT
)


# Photos and pictures sent as files: read, in private chats and by the group guard.
PICTURES = filters.PHOTO | filters.Document.IMAGE


def file_url_for(base_url: str) -> str:
    """Bot API file URL beside a base URL: http://h/bot -> http://h/file/bot."""
    return base_url[: -len("bot")] + "file/bot" if base_url.endswith("/bot") else base_url.rstrip("/") + "/file/bot"


# Typing an inline query sends one per pause: four count as one message.
INLINE_COST = 0.25
# Chosen with bench/bench_cpu.py (CPU per update against a bare PTB echo bot, same
# loopback, burst of 1,200 updates, medians of 5): 2/2 1.59x, 4/4 1.63x, 4/8 1.62x,
# 8/8 2.02x. More concurrency only made httpcore's pool bookkeeping costlier, and
# the flood limits cap sending at 30 a second anyway; 4 keeps a slow request from
# holding up the rest.
CONCURRENT_UPDATES = 4
CONNECTION_POOL_SIZE = 4


class BotApplication(Application):
    """PTB's Application, minus a record of every chat and user ever seen.

    Without persistence PTB still adds each update's chat and user id to two sets
    that only a persistence flush empties: memory that grows with every new user.
    """

    def _mark_for_persistence_update(self, *, update: object | None = None, job: object | None = None) -> None:
        if self.persistence is not None:
            super()._mark_for_persistence_update(update=update, job=job)


def update_cost(update: Update, bot_id: int, username: str) -> float:
    """What an update costs its sender's rate limit; 0 for group chatter the bot does not answer."""
    if update.callback_query is not None:
        return 1.0
    if update.inline_query is not None:
        return INLINE_COST
    message = update.message or update.edited_message
    if message is None:
        return 0.0
    if message.chat.type == "private" or groups.addressed_to_bot(message, bot_id, username):
        return 1.0
    return 0.0


async def limit_check(limiter, key, cost: float = 1.0) -> str:
    """A limiter's verdict; a shared one's statement runs off the event loop."""
    if limiter.shared:
        return await asyncio.to_thread(limiter.check, key, cost)
    return limiter.check(key, cost)


async def rate_limit_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Before any handler: a sender past the limit gets one notice, then silence; so does a busy group.

    First of all, the update pins the knowledge bundle serving now: its handlers run in
    this task, so a reload landing meanwhile does not change the knowledge under them.
    """
    services(context).knowledge.pin()
    cost = update_cost(update, context.bot.id, context.bot.username)
    if not cost:
        return
    svc = services(context)
    verdict = await limit_check(svc.rate_limiter, sender_key(update), cost)
    message = update.message or update.edited_message
    if verdict == "ok":
        if message is None or message.chat.type == "private" or \
                await limit_check(svc.group_limiter, message.chat.id) == "ok":
            return
        raise ApplicationHandlerStop  # the group had its answers for this minute
    user = update.effective_user
    if update.callback_query is not None:
        await update.callback_query.answer(ui(context, "rate_limited", user_lang(context, user)) if verdict == "notify" else None)
    elif verdict == "notify" and message is not None:
        await message.reply_text(ui(context, "rate_limited", user_lang(context, user)), do_quote=message.chat.type != "private")
    raise ApplicationHandlerStop


async def cmd_private_ask(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/ask <question> in a private chat is the same as sending the question."""
    text = valid_text(" ".join(context.args or []))
    user = update.effective_user
    await private.answer_question(update.effective_message, context, user, text, user_lang(context, user, text))


async def cmd_private_topic(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/topic <id> in a private chat opens that card (like a deep link)."""
    context.args = context.args[:1] if context.args else []
    await private.cmd_start(update, context)


async def post_init(application: Application) -> None:
    """Register the command menus in Chinese and English."""
    bot = application.bot
    for scope, commands in ((BotCommandScopeAllPrivateChats(), PRIVATE_COMMANDS), (BotCommandScopeAllGroupChats(), GROUP_COMMANDS)):
        await bot.set_my_commands([BotCommand(c, en) for c, _, en in commands], scope=scope)
        await bot.set_my_commands([BotCommand(c, zh) for c, zh, _ in commands], scope=scope, language_code="zh")
    log.info("bot @%s ready", bot.username)


async def post_shutdown(application: Application) -> None:
    application.bot_data["services"].store.close()


def add_handlers(application: Application) -> None:
    private_chat = filters.ChatType.PRIVATE
    group_chat = filters.ChatType.GROUPS
    application.add_handler(TypeHandler(Update, rate_limit_gate), group=-1)
    application.add_handlers([
        CommandHandler("start", private.cmd_start, private_chat),
        CommandHandler("help", private.cmd_help),
        CommandHandler("topics", private.cmd_topics),
        CommandHandler("appeal", private.cmd_appeal),
        CommandHandler("report", private.cmd_report),
        CommandHandler("lang", private.cmd_lang),
        CommandHandler("check", checks.cmd_check, private_chat),
        CommandHandler("banned", banned.cmd_banned, private_chat),
        CommandHandler("cancel", banned.cmd_cancel, private_chat),
        CommandHandler("guard", guard.cmd_guard, group_chat),
        MessageHandler(private_chat & PICTURES, private.on_private_picture),
        MessageHandler(private_chat & filters.FORWARDED & (filters.TEXT | filters.CAPTION), checks.on_forwarded),
        CommandHandler("ask", groups.cmd_ask, group_chat),
        CommandHandler("ask", cmd_private_ask, private_chat),
        CommandHandler("topic", groups.cmd_topic, group_chat),
        CommandHandler("topic", cmd_private_topic, private_chat),
        MessageHandler(private_chat & (filters.TEXT | filters.CAPTION) & ~filters.COMMAND, private.on_private_text),
        MessageHandler(group_chat & (filters.TEXT | filters.CAPTION | PICTURES) & ~filters.COMMAND, groups.on_group_text),
        MessageHandler(private_chat & MEDIA, private.on_non_text),
        CallbackQueryHandler(buttons.on_button),
        InlineQueryHandler(inline.on_inline_query),
        ChatMemberHandler(guard.on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER),
    ])
    application.add_error_handler(on_error)


def build_application(config: Config, matcher: Matcher | None = None, store: Store | None = None,
                      request_timeout: float | None = None, knowledge: LiveKnowledge | None = None) -> Application:
    """The Application with every handler; services are built here unless given (tests share them).

    `knowledge`: the live knowledge bundle to serve (reloaded by its owner); else `matcher`'s, fixed;
    else the configured folder's, loaded now.
    """
    token = require_token(config)
    timeouts = {} if request_timeout is None else {"read_timeout": request_timeout, "write_timeout": request_timeout}
    builder = (
        ApplicationBuilder()
        .application_class(BotApplication)
        .token(token)
        .updater(None)  # updates come through delivery.py, confirmed only once handled
        .rate_limiter(TelegramLimiter())
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .concurrent_updates(CONCURRENT_UPDATES)
        .request(JsonBodyRequest(connection_pool_size=CONNECTION_POOL_SIZE, **timeouts))
        .get_updates_request(JsonBodyRequest(connection_pool_size=1, **timeouts))
    )
    base_url = config["telegram.base_url"]
    if base_url:
        builder = builder.base_url(base_url).base_file_url(file_url_for(base_url))
    application = builder.build()
    if knowledge is None:
        knowledge = (LiveKnowledge.fixed(matcher) if matcher is not None
                     else LiveKnowledge.load(config["knowledge.dir"] or None))
    store = store or open_store(config, voter_key(token))
    application.bot_data["services"] = Services(
        knowledge=knowledge,
        store=store,
        rate_limiter=rate_limiter(store, "tg", config["rate_limit.messages"], float(config["rate_limit.window_seconds"])),
        group_limiter=rate_limiter(store, "tg-group", GROUP_ANSWERS_PER_MINUTE, 60.0),
    )
    add_handlers(application)
    return application


def voter_key(token: str) -> bytes:
    """Key of the hash that stands for a voter in the database: derived from the token, which is not stored."""
    return hashlib.sha256(b"votes:" + token.encode()).digest()


class _QuietNetworkErrors(logging.Filter):
    """A network or token error's traceback says nothing its message does not; keep logs readable."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (NetworkError, InvalidToken)) and not isinstance(exc, BadRequest):
            record.exc_info = None
            record.exc_text = None
        return True


def setup_logging(level: str, token: str, *secrets: str) -> None:
    """The shared set-up (bot/logs.py), with network errors' tracebacks left out."""
    logs.setup_logging(level, (token, *secrets), filters=(_QuietNetworkErrors(),))


def run(config: Config) -> None:
    """Run the bot until SIGINT or SIGTERM; updates by polling, or by webhook with a secret."""
    token = require_token(config)
    setup_logging(config["logging.level"], token, config["telegram.webhook.secret_token"],
                  *logs.storage_secrets(config))
    webhook = None
    if config["telegram.mode"] == "webhook":
        if not config["telegram.webhook.url"]:
            raise UserError("telegram.mode is webhook but telegram.webhook.url is empty (see config.example.yaml)")
        if not config["telegram.webhook.secret_token"]:
            raise UserError(
                "telegram.mode is webhook but telegram.webhook.secret_token (or TELEGRAM_WEBHOOK_SECRET) is empty: "
                "without it anyone who finds the URL can post forged updates"
            )
        url = config["telegram.webhook.url"]
        webhook = {
            "listen": config["telegram.webhook.listen"],
            "port": config["telegram.webhook.port"],
            "url_path": urlparse(url).path.strip("/"),
            "webhook_url": url,
            "secret_token": config["telegram.webhook.secret_token"],
        }
    # Loaded here, before Telegram is contacted: a broken knowledge base is one line and exit code 2.
    knowledge = LiveKnowledge.load(config["knowledge.dir"] or None)
    run_until_signalled(build_application(config, knowledge=knowledge), webhook,
                        beside=lambda: knowledge.running(config["knowledge.watch_seconds"]))

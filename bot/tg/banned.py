"""/banned: a guided checklist for a banned account (platform, then the notice's reason).

The state lives in SQLite, so a restart of the bot does not lose a user halfway.
"""

from __future__ import annotations

import html
import json
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.ext import ContextTypes

from .common import CB_BANNED, callback, services, topic_rows, ui, user_lang

FLOW_TIMEOUT = 15 * 60  # seconds a half-finished flow waits for its next step
PLATFORMS = ("wechat", "qq", "other")
REASONS = ("fraud", "gambling", "porn", "helping", "unknown")
# The topic that explains each reason a ban notice gives.
REASON_TOPIC = {
    "fraud": "regional-fraud-ban",
    "gambling": "gambling-consequences",
    "porn": "report-porn-contraband",
    "helping": "unseal-helper-job",
    "unknown": "ban-types-duration",
}
# A pasted notice is classified by the matcher: the topic it lands on says the reason.
TOPIC_REASON = {
    "regional-fraud-ban": "fraud",
    "report-fraud-general": "fraud",
    "pig-butchering-scam": "fraud",
    "gambling-consequences": "gambling",
    "report-gambling": "gambling",
    "report-porn-contraband": "porn",
    "unseal-helper-job": "helping",
    "scan-code-stranger": "helping",
    "buy-sell-accounts": "helping",
    "paid-unseal-service": "helping",
    "sell-sim-card": "helping",
}


def _key(user_id: int) -> str:
    return f"flow:banned:{user_id}"


def load_state(context: ContextTypes.DEFAULT_TYPE, user_id: int) -> dict | None:
    """The user's flow state, or None when there is none or it timed out."""
    store = services(context).store
    raw = store.get(_key(user_id))
    if raw is None:
        return None
    try:
        state = json.loads(raw)
    except ValueError:
        state = {}
    if not isinstance(state, dict) or time.time() - float(state.get("at", 0)) > FLOW_TIMEOUT:
        store.put(_key(user_id), None)
        return None
    return state


def save_state(context: ContextTypes.DEFAULT_TYPE, user_id: int, state: dict | None) -> None:
    value = None if state is None else json.dumps({**state, "at": time.time()})
    services(context).store.put(_key(user_id), value)


def platform_keyboard(context: ContextTypes.DEFAULT_TYPE, lang: str) -> InlineKeyboardMarkup:
    labels = {"wechat": "微信 WeChat", "qq": "QQ", "other": ui(context, "banned_other_platform", lang)}
    return InlineKeyboardMarkup([[InlineKeyboardButton(labels[p], callback_data=callback(CB_BANNED, "p", p)) for p in PLATFORMS]])


def reason_keyboard(context: ContextTypes.DEFAULT_TYPE, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(ui(context, f"banned_notice_{r}", lang), callback_data=callback(CB_BANNED, "n", r))] for r in REASONS]
    )


async def start_flow(message: Message, context: ContextTypes.DEFAULT_TYPE, user_id: int, lang: str) -> None:
    save_state(context, user_id, {"step": "platform"})
    await message.reply_text(ui(context, "banned_ask_platform", lang), reply_markup=platform_keyboard(context, lang), do_quote=False)


async def cmd_banned(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/banned: start the guided checklist."""
    user = update.effective_user
    await start_flow(update.effective_message, context, user.id, user_lang(context, user))


async def cmd_cancel(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/cancel: leave the guided checklist."""
    user = update.effective_user
    lang = user_lang(context, user)
    had_flow = load_state(context, user.id) is not None
    save_state(context, user.id, None)
    await update.effective_message.reply_text(ui(context, "flow_cancelled" if had_flow else "flow_nothing_to_cancel", lang), do_quote=False)


def classify_notice(context: ContextTypes.DEFAULT_TYPE, text: str) -> str:
    """The reason a pasted ban notice gives, as one of REASONS."""
    match = services(context).matcher.match_question(text)
    return TOPIC_REASON.get(match.topic or "", "unknown") if match.decision != "none" else "unknown"


def checklist_html(context: ContextTypes.DEFAULT_TYPE, platform: str, reason: str, lang: str) -> tuple[str, list[str]]:
    """The personal checklist and the topic ids it links to."""
    kb = services(context).kb
    appeal = kb.topics["regional-fraud-ban" if reason == "fraud" else "ban-appeal"]
    steps = [
        ("banned_step_appeal", appeal),
        ("banned_step_money", kb.topics["banned-funds-withdrawal"]),
        ("banned_step_data", kb.topics["banned-data-recovery"]),
        ("banned_step_dont", kb.topics["paid-unseal-service"]),
    ]
    reason_topic = kb.topics[REASON_TOPIC[reason]]
    if reason_topic.id != appeal.id:
        steps.append(("banned_step_reason", reason_topic))
    e = html.escape
    parts = [f"<b>{e(ui(context, 'banned_checklist', lang))}</b>"]
    for key, topic in steps:
        path = topic.official_paths[0]
        parts.append(
            f"<b>{e(ui(context, key, lang))}</b>\n{e(topic.summary.get(lang))}\n"
            f"• {e(path.name.get(lang))}: {e(path.how.get(lang))}"
        )
    if platform == "other":
        parts.append(f"<i>{e(ui(context, 'banned_other_note', lang))}</i>")
    return "\n\n".join(parts), list(dict.fromkeys(t.id for _, t in steps))


async def finish(message: Message, context: ContextTypes.DEFAULT_TYPE, user_id: int, state: dict, reason: str, lang: str) -> None:
    kb = services(context).kb
    body, topic_ids = checklist_html(context, state.get("platform", "wechat"), reason, lang)
    rows = topic_rows(kb, topic_ids, lang)
    save_state(context, user_id, None)
    await message.reply_html(body, reply_markup=InlineKeyboardMarkup(rows), do_quote=False, disable_web_page_preview=True)


async def on_banned_button(update: Update, context: ContextTypes.DEFAULT_TYPE, arg: str) -> None:
    """Buttons of the flow: b:start, b:p:<platform>, b:n:<reason>."""
    query = update.callback_query
    user = update.effective_user
    lang = user_lang(context, user)
    step, _, value = arg.partition(":")
    message = query.message
    if step == "start" and message is not None:
        await query.answer()
        await start_flow(message, context, user.id, lang)
        return
    state = load_state(context, user.id)
    if state is None or message is None:
        await query.answer(ui(context, "flow_expired", lang))
        return
    if step == "p" and value in PLATFORMS:
        await query.answer()
        save_state(context, user.id, {"step": "notice", "platform": value})
        await message.reply_text(ui(context, "banned_ask_notice", lang), reply_markup=reason_keyboard(context, lang), do_quote=False)
    elif step == "n" and value in REASONS and state.get("step") == "notice":
        await query.answer()
        await finish(message, context, user.id, state, value, lang)
    else:
        await query.answer(ui(context, "flow_expired", lang))


async def take_pasted_notice(message: Message, context: ContextTypes.DEFAULT_TYPE, user_id: int, text: str, lang: str) -> bool:
    """If the user is at the notice step, classify their text and finish; True when it did."""
    state = load_state(context, user_id)
    if state is None or state.get("step") != "notice":
        return False
    await finish(message, context, user_id, state, classify_notice(context, text), lang)
    return True

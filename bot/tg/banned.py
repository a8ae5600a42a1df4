"""/banned: a guided checklist for a banned account (platform, then the notice's reason).

The checklist shows the chosen platform's official paths (each path names its
platform in the knowledge base) and nothing about reporting other people. The
state lives in SQLite, so a restart of the bot does not lose a user halfway.
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
# The `platform` of the official paths each choice shows: "other" gets only the
# paths that suit every platform (never a WeChat-only menu).
PATH_PLATFORM = {"wechat": "wechat", "qq": "qq", "other": "any"}
REASONS = ("fraud", "gambling", "porn", "helping", "unknown")
# The checklist's steps: heading, topic, and whether the step lists the platform's paths.
# Every reason goes through the same appeal: a "suspected fraud" ban is an ordinary
# ban, and the regional anti-fraud card is only a pointer under the reason.
STEPS = (
    ("banned_step_appeal", "ban-appeal", True),
    ("banned_step_money", "banned-funds-withdrawal", True),
    ("banned_step_data", "banned-data-recovery", True),
    ("banned_step_dont", "paid-unseal-service", False),
)
# The topic a reason's step links to (its text is ui.yaml's banned_reason_<reason>).
# None of them is a reporting card: a banned user is not told how to report others.
REASON_TOPIC = {
    "fraud": "regional-fraud-ban",
    "gambling": "gambling-consequences",
    "porn": "ban-types-duration",
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
    question = ui(context, "banned_ask_platform", lang) + ui(context, "banned_cancel_hint", lang)
    await message.reply_text(question, reply_markup=platform_keyboard(context, lang), do_quote=False)


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
    wanted = PATH_PLATFORM.get(platform, "any")
    e = html.escape
    parts = [f"<b>{e(ui(context, 'banned_checklist', lang))}</b>"]
    shown: set[str] = set()  # a path listed under one step is not repeated under the next
    for key, topic_id, with_paths in STEPS:
        topic = kb.topics[topic_id]
        lines = [f"<b>{e(ui(context, key, lang))}</b>", e(topic.summary.get(lang))]
        paths = [p for p in topic.official_paths if with_paths and p.suits(wanted) and p.name.zh not in shown]
        shown.update(p.name.zh for p in paths)
        lines += [f"• {e(p.name.get(lang))}: {e(p.how.get(lang))}" for p in paths]
        if key == "banned_step_appeal" and not paths:
            lines.append(f"<i>{e(ui(context, 'banned_other_note', lang))}</i>")
        parts.append("\n".join(lines))
    reason_key = f"banned_reason_{reason}"
    parts.append(f"<b>{e(ui(context, 'banned_step_reason', lang))}</b>\n{e(ui(context, reason_key, lang))}")
    topic_ids = [topic_id for _, topic_id, _ in STEPS] + [REASON_TOPIC[reason]]
    return "\n\n".join(parts), list(dict.fromkeys(topic_ids))


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

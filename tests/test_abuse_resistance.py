"""What one user, a busy group or a slow Telegram can do to the bot: counted, ordered, screened, answered once."""

from __future__ import annotations

import sqlite3
import threading
import time

from bot.tg.delivery import ALLOWED_UPDATES


BOT = "@SafetyTestBot"
ADS = ("高价收购手机卡，一张200元，日结，加V: abc123", "出售实名微信号，批量注册，一条龙，联系我")


def mention(text: str) -> tuple[str, list[dict]]:
    return f"{BOT} {text}", [{"type": "mention", "offset": 0, "length": len(BOT)}]


def sends(fake, chat_id=None):
    return [c for c in fake.calls if c.method == "sendMessage" and (chat_id is None or c.params["chat_id"] == chat_id)]


def settle(fake, seconds: float = 0.7) -> None:
    """Wait until the bot has been quiet for `seconds` (so that 'no more replies' means something)."""
    count = -1
    while count != len(fake.calls):
        count = len(fake.calls)
        time.sleep(seconds)


def test_a_message_and_fourteen_edits_count_against_the_limit(bot_runner, kb):
    fake, _ = bot_runner
    original = fake.private_message(7001, "今天天气怎么样")["message"]
    for i in range(14):
        fake.edited_message(original, f"今天天气怎么样 {i}")
    fake.wait_for("sendMessage", count=9, timeout=15)
    settle(fake)
    texts = [c.params["text"] for c in sends(fake, 7001)]
    assert len(texts) == 9 and texts.count(kb.text("rate_limited", "zh")) == 1


def test_sixteen_group_mentions_from_one_member_count_against_the_limit(bot_runner, kb):
    fake, _ = bot_runner
    for _ in range(16):
        text, entities = mention("微信被封了怎么申诉")
        fake.group_message(-100701, 7002, text, entities=entities)
    fake.wait_for("sendMessage", count=9, timeout=15)
    settle(fake)
    texts = [c.params["text"] for c in sends(fake, -100701)]
    assert len(texts) == 9 and texts.count(kb.text("rate_limited", "zh")) == 1


def test_replies_to_the_bot_in_a_group_count_too(bot_runner):
    fake, _ = bot_runner
    text, entities = mention("微信被封了怎么申诉")
    fake.group_message(-100702, 7003, text, entities=entities)
    fake.wait_for("sendMessage", timeout=10)
    [bot_message] = fake.bot_messages(-100702)
    for _ in range(11):
        fake.group_message(-100702, 7003, "那里面的零钱呢？", reply_to=bot_message)
    fake.wait_for("sendMessage", count=9, timeout=15)
    settle(fake)
    assert len(sends(fake, -100702)) == 9


def test_button_presses_and_inline_queries_count_too(bot_runner, kb):
    fake, _ = bot_runner
    for _ in range(12):
        fake.callback_query(7004, "v:ban-appeal:1")
    answers = fake.wait_for("answerCallbackQuery", count=12, timeout=15)
    texts = [a.params.get("text") for a in answers]
    assert texts.count(kb.text("vote_thanks", "en")) == 8 and texts.count(kb.text("rate_limited", "en")) == 1
    # Typing an inline query sends one per pause: each costs a quarter of a message.
    for i in range(40):
        fake.inline_query(7005, "收手机卡"[: 1 + i % 4])
    fake.wait_for("answerInlineQuery", count=32, timeout=15)
    settle(fake)
    assert len(fake.calls_for("answerInlineQuery")) == 32


def test_one_users_updates_are_handled_in_order(bot_runner):
    fake, _ = bot_runner
    fake.inject("sendMessage", delay=1.0, times=1)  # the first answer is slow to send
    fake.private_message(7006, "微信被封了怎么申诉")
    fake.private_message(7006, "什么是杀猪盘")
    first, second = fake.wait_for("sendMessage", count=2, timeout=15)
    assert "?start=ban-appeal" in first.params["text"] and "?start=pig-butchering-scam" in second.params["text"]


def test_meant_it_as_a_question_answers_the_paste_it_is_under_once(bot_runner):
    fake, _ = bot_runner
    fake.private_message(7009, ADS[0])
    fake.wait_for("sendMessage", timeout=10)
    fake.private_message(7009, ADS[1])
    fake.wait_for("sendMessage", count=2, timeout=10)
    verdict_message, _ = fake.bot_messages(7009)  # the older verdict, under the first paste
    assert verdict_message["reply_to_message"]["text"] == ADS[0]
    for _ in range(2):  # a double tap
        fake.callback_query(7009, "aq", message=verdict_message)
    fake.wait_for("answerCallbackQuery", count=2, timeout=10)
    settle(fake)
    answers = sends(fake, 7009)[2:]
    assert len(answers) == 1 and "?start=sell-sim-card" in answers[0].params["text"]


def test_the_bot_subscribes_only_to_the_updates_it_handles(bot_runner):
    fake, _ = bot_runner
    [poll] = fake.wait_for("getUpdates", timeout=10)[:1]
    assert sorted(poll.params["allowed_updates"]) == sorted(ALLOWED_UPDATES)
    fake.push_update({"business_message": {"message_id": 1, "date": int(time.time()), "chat": {"id": 7010, "type": "private"},
                                           "from": {"id": 7010, "is_bot": False, "first_name": "B"}, "text": "hi",
                                           "business_connection_id": "x"}})
    fake.wait_for("getUpdates", count=3, timeout=10)
    assert not sends(fake) and any("business_message" in u for u in fake.dropped_updates)


def test_the_guard_screens_photo_captions(bot_runner):
    fake, runner = bot_runner
    runner.store.put("guard:-100720", "on")
    fake.photo_message(7011, ADS[0], chat_id=-100720)
    [warning] = fake.wait_for("sendMessage", timeout=10)
    assert warning.params["chat_id"] == -100720 and "?start=" in warning.params["text"]


def test_the_guard_screens_forwarded_posts_but_not_the_groups_own_channel(bot_runner):
    fake, runner = bot_runner
    runner.store.put("guard:-100724", "on")
    runner.store.put("guard:-100725", "on")
    fake.linked_channel_post(-100724, -100999, ADS[0])  # the group's own channel: its admins' words
    origin = {"type": "channel", "chat": {"id": -100998, "type": "channel", "title": "Ads"}, "message_id": 5,
              "date": int(time.time())}
    fake.group_message(-100725, 7022, ADS[1], forward_origin=origin)
    [warning] = fake.wait_for("sendMessage", timeout=10)
    settle(fake)
    assert warning.params["chat_id"] == -100725 and len(sends(fake)) == 1


def test_the_guard_takes_an_anonymous_admins_command_and_never_flags_admins(bot_runner, kb):
    fake, runner = bot_runner
    fake.anonymous_admin_message(-100721, "/guard on")
    [reply] = fake.wait_for("sendMessage", timeout=10)
    assert reply.params["text"] == kb.text("guard_on", "en") and runner.store.get("guard:-100721") == "on"
    fake.set_member_status(-100721, 7012, "administrator")
    fake.group_message(-100721, 7012, ADS[0])
    fake.anonymous_admin_message(-100721, ADS[1])
    settle(fake)
    assert len(sends(fake, -100721)) == 1


def test_the_guard_asks_for_its_own_rights_once(bot_runner):
    fake, runner = bot_runner
    runner.store.put("guard:-100722", "delete")
    for user in (7013, 7014, 7015):
        fake.group_message(-100722, user, ADS[user % 2])
    fake.wait_for("deleteMessage", count=3, timeout=10)
    own = [c for c in fake.calls_for("getChatMember") if int(c["user_id"]) == fake.bot_id]
    assert len(own) == 1


def test_the_guard_follows_the_rights_telegram_reports(bot_runner):
    fake, runner = bot_runner
    runner.store.put("guard:-100723", "delete")
    fake.group_message(-100723, 7020, ADS[0])
    fake.wait_for("deleteMessage", timeout=10)
    fake.bot_rights_changed(-100723, "administrator", can_delete_messages=False)
    fake.group_message(-100723, 7021, ADS[1])
    settle(fake)
    # No second delete, not even one Telegram refuses: the bot knows it lost the right.
    assert len(fake.calls_for("deleteMessage")) == 1 and not fake.rejections
    assert len([c for c in fake.calls_for("getChatMember") if int(c["user_id"]) == fake.bot_id]) == 1


def test_a_locked_database_does_not_hold_up_answers(bot_runner):
    fake, runner = bot_runner
    holder = sqlite3.connect(runner.store.path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # a curator's long write, a backup...
    release = threading.Timer(2.0, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        asked = time.monotonic()
        fake.private_message(7016, "今天天气怎么样")  # unanswered: stored
        [answer] = fake.wait_for("sendMessage", timeout=10)
        assert answer.at - asked < 1.0
    finally:
        release.join()
        holder.close()
    assert runner.store.top_unanswered() == [("今天天气怎么样", 1)]


def test_lone_surrogates_in_telegram_text_get_a_normal_answer(bot_runner, kb):
    fake, runner = bot_runner
    fake.private_message(7017, "微信被封了\ud800怎么申诉")
    fake.private_message(7018, "今天\udcff天气怎么样")
    fake.inline_query(7019, "收手机卡\ud83d")
    fake.wait_for("sendMessage", count=2, timeout=10)
    [inline] = fake.wait_for("answerInlineQuery", timeout=10)
    assert not fake.rejections and inline.params["results"]
    card, no_answer = sends(fake, 7017) + sends(fake, 7018)
    assert "?start=ban-appeal" in card.params["text"] and no_answer.params["text"].startswith("<b>" + kb.text("no_answer_first", "zh"))
    [(stored, _)] = runner.store.top_unanswered()
    assert stored == "今天\ufffd天气怎么样"


def test_limiter_memory_follows_active_senders_not_all_senders():
    from bot.ratelimit import RateLimiter

    now = [0.0]
    limiter = RateLimiter(8, 30.0, clock=lambda: now[0])
    for user in range(200_000):  # 200,000 one-time users over about 1.4 hours
        now[0] += 0.025
        assert limiter.check(user) == "ok"
    assert len(limiter) <= 30.0 / 0.025 * 2 + 1

"""The bot process killed mid-backlog (SIGKILL, the out-of-memory killer) loses no update, and stays responsive."""

from __future__ import annotations

import signal
import time
from collections import Counter

from .test_bot_process import start_bot

QUESTIONS = ["微信被封了怎么申诉", "有人收手机卡，一张给200，能卖吗", "how do I report a gambling group", "什么是杀猪盘",
             "今天天气怎么样", "陌生人让我扫码帮他注册", "/start", "QQ被凍結了怎麼辦"]


def answered_chats(fake) -> Counter:
    """How many updates of each chat got an answer: a chat's first reply to each of its messages."""
    replies = Counter()
    for call in fake.calls:
        if call.method == "sendMessage":
            replies[call.params["chat_id"]] += 1
    return replies


def test_sigkill_during_a_backlog_loses_no_update(fake_api, tmp_path):
    (tmp_path / "config.yaml").write_text("rate_limit:\n  messages: 1000\nlogging:\n  level: WARNING\n", encoding="utf-8")
    users = [20_000 + i for i in range(300)]
    proc = start_bot(fake_api, tmp_path)
    try:
        fake_api.wait_for("getUpdates", timeout=30)
        for i, user in enumerate(users):
            fake_api.private_message(user, QUESTIONS[i % len(QUESTIONS)])
        fake_api.wait_for("sendMessage", count=40, timeout=60)
    finally:
        proc.kill()  # SIGKILL: no clean-up, no last confirmation
        proc.wait(10)
    before = answered_chats(fake_api)
    assert len(before) < len(users), "the backlog was already answered: the test proves nothing"
    restarted = start_bot(fake_api, tmp_path)
    try:
        fake_api.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == users[-1], timeout=90)
        deadline = time.monotonic() + 60
        while set(users) - set(answered_chats(fake_api)) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        restarted.send_signal(signal.SIGTERM)
        _, err = restarted.communicate(timeout=30)
    unanswered = set(users) - set(answered_chats(fake_api))
    assert not unanswered, f"{len(unanswered)} of {len(users)} users never answered"
    assert restarted.returncode == 0, err.decode()[-2000:]
    # SIGKILL can cut the one request the killed process was sending: that body arrives unparsable.
    cut = [r for r in fake_api.rejections if "can't parse request body" in r.description]
    assert len(cut) <= 1 and len(fake_api.rejections) == len(cut), fake_api.rejections


def test_sigterm_confirms_what_was_handled_and_nothing_is_answered_twice(fake_api, tmp_path):
    (tmp_path / "config.yaml").write_text("rate_limit:\n  messages: 1000\n", encoding="utf-8")
    proc = start_bot(fake_api, tmp_path)
    try:
        fake_api.wait_for("getUpdates", timeout=30)
        for user in range(30_000, 30_040):
            fake_api.private_message(user, "今天天气怎么样")
        fake_api.wait_for("sendMessage", count=40, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    again = start_bot(fake_api, tmp_path)
    try:
        polls = len(fake_api.calls_for("getUpdates"))
        fake_api.wait_for("getUpdates", count=polls + 2, timeout=30)
    finally:
        again.send_signal(signal.SIGTERM)
        again.communicate(timeout=30)
    assert set(answered_chats(fake_api).values()) == {1}


def test_six_4096_digit_messages_do_not_delay_another_users_answer(fake_api, tmp_path):
    proc = start_bot(fake_api, tmp_path)
    try:
        fake_api.wait_for("getUpdates", timeout=30)
        for _ in range(6):
            fake_api.private_message(31_001, "1" * 4096)
        asked = time.monotonic()
        fake_api.private_message(31_002, "微信被封了怎么申诉")
        [answer] = fake_api.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == 31_002, timeout=10)
        assert answer.at - asked < 2.0
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_an_update_cut_short_by_a_stop_is_not_confirmed(fake_api, matcher, tmp_path, monkeypatch):
    from bot.tg import delivery

    from .tg_harness import BotRunner

    monkeypatch.setattr(delivery, "SHUTDOWN_GRACE", 0.5)
    first = BotRunner(fake_api, matcher, tmp_path / "db.sqlite3").start()
    fake_api.inject("sendMessage", delay=3.0, times=1)  # Telegram is slow to answer this one
    fake_api.private_message(32_001, "微信被封了怎么申诉")
    time.sleep(0.5)
    first.stop()  # gives up on the update after 0.5 s
    second = BotRunner(fake_api, matcher, tmp_path / "db.sqlite3").start()
    try:
        # The slow reply arrives anyway, and the update, never confirmed, is answered again.
        fake_api.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == 32_001, count=2, timeout=15)
    finally:
        second.stop()

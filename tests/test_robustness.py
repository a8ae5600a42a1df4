"""Bursts, flood limits, server errors, rate limits and bugs: no reply lost, nothing leaked."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.tg.app import setup_logging
from bot.tg.retry import RetryingLimiter

from .tg_harness import BotRunner

QUESTIONS = ["微信被封了怎么申诉", "有人收手机卡，一张给200", "how do I report a gambling group", "什么是杀猪盘", "今天天气怎么样"]


def test_burst_of_1000_updates_from_200_users_each_answered_once(bot_runner):
    fake, _ = bot_runner
    for i in range(1000):
        fake.private_message(10_000 + i % 200, QUESTIONS[i % len(QUESTIONS)])
    fake.wait_for("sendMessage", count=1000, timeout=120)
    per_chat = Counter(c.params["chat_id"] for c in fake.calls if c.method == "sendMessage")
    assert len(per_chat) == 200 and set(per_chat.values()) == {5}
    assert not fake.rejections


def test_flood_limit_429_is_waited_out_and_the_reply_arrives(bot_runner):
    fake, _ = bot_runner
    fake.inject("sendMessage", 429, retry_after=1, times=1)
    fake.private_message(5001, "微信被封了怎么申诉")
    [call] = fake.wait_for("sendMessage", timeout=10)
    assert "?start=ban-appeal" in call.params["text"]
    assert [f.status for f in fake.faults] == [429]


def test_server_errors_are_retried_with_backoff(bot_runner):
    fake, _ = bot_runner
    fake.inject("sendMessage", 500, times=2)
    fake.inject("answerCallbackQuery", 502, times=1)
    fake.private_message(5002, "有人收手机卡，一张给200")
    fake.callback_query(5002, "v:sell-sim-card:1")
    fake.wait_for("sendMessage", timeout=10)
    fake.wait_for("answerCallbackQuery", timeout=10)
    assert sorted(f.status for f in fake.faults) == [500, 500, 502]


def test_rate_limit_sends_one_notice_then_silence(fake_api, matcher, tmp_path):
    runner = BotRunner(fake_api, matcher, tmp_path / "db.sqlite3", **{"rate_limit.messages": 3}).start()
    try:
        for _ in range(7):
            fake_api.private_message(5003, "微信被封了怎么申诉")
        fake_api.wait_for("sendMessage", count=4)
        import time

        time.sleep(0.5)
        texts = [c.params["text"] for c in fake_api.calls if c.method == "sendMessage"]
        assert len(texts) == 4 and sum("稍等" in t for t in texts) == 1
        fake_api.private_message(5004, "微信被封了怎么申诉")  # another user is not affected
        fake_api.wait_for("sendMessage", count=5)
    finally:
        runner.stop()


def test_a_bug_is_logged_and_the_user_gets_an_apology(bot_runner, monkeypatch, caplog):
    fake, runner = bot_runner
    matcher = runner.application.bot_data["services"].matcher

    def broken(text):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(matcher, "match_question", broken)
    with caplog.at_level(logging.ERROR):
        fake.private_message(5005, "微信被封了怎么申诉")
        [call] = fake.wait_for("sendMessage")
    assert "抱歉" in call.params["text"]
    assert "simulated bug" in caplog.text
    assert fake.token not in caplog.text


def test_token_is_redacted_from_every_log_line(capsys):
    token = "987654:SECRET-token-value"
    root = logging.getLogger()
    before = list(root.handlers)
    for handler in before:
        root.removeHandler(handler)
    try:
        setup_logging("INFO", token)
        logging.getLogger("telegram.ext").warning("POST https://api.telegram.org/bot%s/getMe failed", token)
        logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot%s/getUpdates", token)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in before:
            root.addHandler(handler)
    err = capsys.readouterr().err
    assert "SECRET" not in err and "bot<token>/getMe" in err
    assert "getUpdates" not in err  # httpx request lines are not logged at INFO


def run(coro):
    return asyncio.run(coro)


def test_retrying_limiter_retries_timeouts_and_network_errors_but_not_bad_requests():
    sleeps = []

    async def sleep(seconds):
        sleeps.append(seconds)

    limiter = RetryingLimiter(attempts=4, base_delay=0.5, sleep=sleep)
    outcomes = [TimedOut(), NetworkError("Bad Gateway"), RetryAfter(3), "ok"]

    async def flaky():
        item = outcomes.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    assert run(limiter.process_request(flaky, (), {}, "sendMessage", {}, None)) == "ok"
    assert sleeps == [0.5, 1.0, 3.0]

    async def bad():
        raise BadRequest("Message is too long")

    with pytest.raises(BadRequest):
        run(limiter.process_request(bad, (), {}, "sendMessage", {}, None))
    assert sleeps == [0.5, 1.0, 3.0]


def test_retrying_limiter_gives_up_after_its_attempts():
    async def sleep(seconds):
        pass

    async def down():
        raise NetworkError("Internal Server Error (500)")

    with pytest.raises(NetworkError):
        run(RetryingLimiter(attempts=3, sleep=sleep).process_request(down, (), {}, "sendMessage", {}, None))

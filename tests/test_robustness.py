"""Bursts, flood limits, server errors, time-outs and bugs: no reply sent twice, nothing leaked."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter

import httpx
import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.tg.app import setup_logging
from bot.tg.outgoing import TelegramLimiter

from .tg_harness import BotRunner

QUESTIONS = ["微信被封了怎么申诉", "有人收手机卡，一张给200", "how do I report a gambling group", "什么是杀猪盘", "今天天气怎么样"]


def sends(fake, chat_id=None):
    return [c for c in fake.calls if c.method == "sendMessage" and (chat_id is None or c.params["chat_id"] == chat_id)]


def test_burst_from_100_users_each_answered_once_and_paced_under_telegrams_limit(bot_runner):
    fake, _ = bot_runner
    for i in range(300):
        fake.private_message(10_000 + i % 100, QUESTIONS[i % len(QUESTIONS)])
    # Each of the 100 users gets an answer to each of their 3 questions (a card may take 2 messages).
    fake.wait_for(lambda c: c.method == "sendMessage", count=300, timeout=120)
    time.sleep(0.5)
    calls = sends(fake)
    per_chat = Counter(c.params["chat_id"] for c in calls)
    assert len(per_chat) == 100 and min(per_chat.values()) >= 3
    assert not fake.rejections
    # AIORateLimiter: a burst of 30, then 30 a second; never 60 in one second.
    times = sorted(c.at for c in calls)
    assert max(sum(1 for t in times if start <= t < start + 1.0) for start in times) <= 61
    assert times[-1] - times[0] >= (len(times) - 31) / 30 - 0.5


def test_flood_limit_429_is_waited_out_in_full_and_the_reply_arrives(bot_runner):
    fake, _ = bot_runner
    fake.inject("sendMessage", 429, retry_after=2, times=1)
    fake.private_message(5001, "微信被封了怎么申诉")
    [call] = fake.wait_for("sendMessage", timeout=15)
    assert "?start=ban-appeal" in call.params["text"]
    assert [f.status for f in fake.faults] == [429]
    started = next(c.at for c in fake.calls if c.method == "getUpdates")
    assert call.at - started >= 2.0


def test_a_long_retry_after_is_not_capped():
    slept = []

    async def main():
        real_sleep = asyncio.sleep

        async def record(seconds):
            slept.append(seconds)
            await real_sleep(0)

        outcomes = [RetryAfter(45), "sent"]

        async def send():
            item = outcomes.pop(0)
            if isinstance(item, Exception):
                raise item
            return item

        import telegram.ext._aioratelimiter as aio

        aio.asyncio.sleep, saved = record, aio.asyncio.sleep
        try:
            return await TelegramLimiter().process_request(send, (), {}, "sendMessage", {"chat_id": 1}, None)
        finally:
            aio.asyncio.sleep = saved

    assert asyncio.run(main()) == "sent"
    assert slept and slept[0] >= 45


def test_a_server_error_on_a_send_is_not_resent_the_user_gets_the_apology(bot_runner):
    fake, _ = bot_runner
    fake.inject("sendMessage", 500, times=1)
    fake.private_message(5002, "微信被封了怎么申诉")
    [apology] = fake.wait_for("sendMessage", timeout=10)
    time.sleep(1.0)
    assert [f.status for f in fake.faults] == [500]
    assert len(sends(fake)) == 1 and "?start=" not in apology.params["text"] and "抱歉" in apology.params["text"]


def test_a_timed_out_send_is_not_resent_so_the_reply_arrives_once(fake_api, matcher, tmp_path):
    runner = BotRunner(fake_api, matcher, tmp_path / "db.sqlite3", request_timeout=1.0).start()
    try:
        # Telegram gets the message, but answers after the bot stopped waiting.
        fake_api.inject("sendMessage", delay=2.0, times=1)
        fake_api.private_message(5006, "微信被封了怎么申诉")
        fake_api.wait_for("sendMessage", timeout=10)
        time.sleep(2.5)
        [card] = sends(fake_api)
        assert "?start=ban-appeal" in card.params["text"]
    finally:
        runner.stop()


def test_a_server_error_on_a_harmless_call_is_retried(bot_runner, kb):
    fake, _ = bot_runner
    fake.set_member_status(-1001, 77, "administrator")
    fake.inject("getChatMember", 502, times=1)
    fake.group_message(-1001, 77, "/guard on")
    [reply] = fake.wait_for("sendMessage", timeout=10)
    assert reply.params["text"] == kb.text("guard_on", "zh")
    assert [f.status for f in fake.faults] == [502]
    assert len(fake.calls_for("getChatMember")) == 1


def test_requests_that_never_left_are_retried_others_are_not():
    slept = []

    async def sleep(seconds):
        slept.append(seconds)

    def refused():
        try:
            raise httpx.ConnectError("Connection refused")
        except httpx.ConnectError as err:
            raise NetworkError("httpx.ConnectError: Connection refused") from err

    attempts = []

    async def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            refused()
        return "sent"

    async def main():
        limiter = TelegramLimiter(sleep=sleep)
        assert await limiter.process_request(flaky, (), {}, "sendMessage", {"chat_id": 1}, None) == "sent"
        assert slept == [0.5, 1.0] and len(attempts) == 3
        for error in (TimedOut(), NetworkError("Bad Gateway"), BadRequest("Message is too long")):
            tries = []

            async def failing(error=error):
                tries.append(1)
                raise error

            with pytest.raises(type(error)):
                await limiter.process_request(failing, (), {}, "sendMessage", {"chat_id": 1}, None)
            assert len(tries) == 1, f"{error!r} was retried"

    asyncio.run(main())


def test_rate_limit_sends_one_notice_then_silence(fake_api, matcher, tmp_path):
    runner = BotRunner(fake_api, matcher, tmp_path / "db.sqlite3", **{"rate_limit.messages": 3}).start()
    try:
        for _ in range(7):
            fake_api.private_message(5003, "微信被封了怎么申诉")
        fake_api.wait_for("sendMessage", count=4)
        time.sleep(0.5)
        texts = [c.params["text"] for c in sends(fake_api)]
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


def test_the_database_password_is_never_logged(capsys):
    """storage.url's password, in a URL or on its own (a driver's message), is redacted from every log line."""
    from bot.config import load_config
    from bot.web.server import setup_logging as web_logging

    url = "postgresql://bot:Pa55-word-xyz@db.internal:5432/bot"
    config = load_config(None, environ={"STORAGE_URL": url})
    root = logging.getLogger()
    before = list(root.handlers)
    for handler in before:
        root.removeHandler(handler)
    try:
        web_logging(config)
        logging.getLogger("bot.store").error("could not connect to %s", url)
        logging.getLogger("psycopg").warning("auth with Pa55-word-xyz refused")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in before:
            root.addHandler(handler)
    err = capsys.readouterr().err
    assert "Pa55-word-xyz" not in err and err.count("<token>") == 2

"""Moderators share https://t.me/<bot>?start=<topic-id>: the link opens that card."""

from __future__ import annotations

import html

import pytest

from .test_knowledge_content import REQUIRED_TOPICS


@pytest.mark.parametrize("topic_id", ["ban-appeal", "sell-sim-card", "pig-butchering-scam"])
def test_start_with_topic_id_opens_the_card(bot_runner, topic_id):
    fake, runner = bot_runner
    first = runner.application.bot_data["services"].kb.topics[topic_id].first.zh
    fake.private_message(2001, f"/start {topic_id}")
    fake.wait_for(lambda c: c.method == "sendMessage" and f"?start={topic_id}" in c.params["text"])
    opening = next(c for c in fake.calls if c.method == "sendMessage").params["text"]
    assert opening.startswith(f"<b>{html.escape(first)}</b>")
    assert not fake.rejections


def test_unknown_payload_falls_back_to_the_welcome(bot_runner):
    fake, _ = bot_runner
    fake.private_message(2002, "/start no-such-topic")
    [call] = fake.wait_for("sendMessage")
    assert "账号安全助手" in call.params["text"]
    assert "th:banned" in str(call.params["reply_markup"])


def test_plain_start_shows_the_welcome_and_menu(bot_runner):
    fake, _ = bot_runner
    fake.private_message(2003, "/start", language_code="en")
    [call] = fake.wait_for("sendMessage")
    assert "account-safety helper" in call.params["text"]


def test_every_public_topic_id_works_as_a_deep_link_payload(kb):
    # Telegram accepts start payloads of up to 64 characters of A-Z, a-z, 0-9, _ and -.
    import re

    for topic_id in REQUIRED_TOPICS:
        assert topic_id in kb.topics and re.fullmatch(r"[A-Za-z0-9_-]{1,64}", topic_id)

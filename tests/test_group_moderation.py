"""In groups the bot answers only when asked: /ask, /topic, a mention, or a reply to its own message."""

from __future__ import annotations

import time

GROUP = -1001234567890


def replies(fake):
    return [c.params for c in fake.calls if c.method == "sendMessage"]


def reply_target(params) -> int | None:
    ref = params.get("reply_parameters")
    if isinstance(ref, str):
        import json

        ref = json.loads(ref)
    return ref.get("message_id") if ref else params.get("reply_to_message_id")


def test_ordinary_chatter_is_never_answered(bot_runner):
    fake, _ = bot_runner
    for text in ["大家好", "我的微信被封了怎么办", "有人收手机卡吗", "今晚吃什么"]:
        fake.group_message(GROUP, 3001, text)
    fake.group_message(GROUP, 3001, "/ask 微信被封了怎么申诉")
    fake.wait_for("sendMessage")
    time.sleep(0.3)
    assert len(replies(fake)) == 1


def test_ask_command_replies_with_a_short_card_and_private_link(bot_runner):
    fake, _ = bot_runner
    update = fake.group_message(GROUP, 3002, "/ask 有人高价收购手机卡，一张200，能卖吗")
    [call] = fake.wait_for("sendMessage")
    params = call.params
    assert params["chat_id"] == GROUP and reply_target(params) == update["message"]["message_id"]
    assert "?start=sell-sim-card" in params["text"]
    assert len(params["text"]) < 1500  # group cards are short
    assert not fake.rejections


def test_ask_with_bot_username_suffix(bot_runner):
    fake, _ = bot_runner
    fake.group_message(GROUP, 3003, "/ask@SafetyTestBot how do I report a gambling group")
    [call] = fake.wait_for("sendMessage")
    assert "?start=report-gambling" in call.params["text"]


def test_moderator_bare_ask_in_reply_answers_the_members_message(bot_runner):
    fake, _ = bot_runner
    member = fake.group_message(GROUP, 3004, "有人让我帮忙辅助解封微信，一次给30块，能做吗")
    fake.group_message(GROUP, 3005, "/ask", reply_to=member["message"])
    [call] = fake.wait_for("sendMessage")
    assert reply_target(call.params) == member["message"]["message_id"]
    assert "?start=unseal-helper-job" in call.params["text"]


def test_topic_command_in_reply_posts_that_card_to_the_member(bot_runner):
    fake, _ = bot_runner
    member = fake.group_message(GROUP, 3006, "谁能帮我解封，我给钱")
    fake.group_message(GROUP, 3007, "/topic paid-unseal-service", reply_to=member["message"])
    [call] = fake.wait_for("sendMessage")
    assert reply_target(call.params) == member["message"]["message_id"]
    assert "?start=paid-unseal-service" in call.params["text"]


def test_topic_command_with_unknown_id_lists_ids(bot_runner):
    fake, _ = bot_runner
    fake.group_message(GROUP, 3008, "/topic nope")
    [call] = fake.wait_for("sendMessage")
    assert "ban-appeal" in call.params["text"]


def test_mention_is_answered(bot_runner):
    fake, _ = bot_runner
    text = "@SafetyTestBot 陌生人让我扫码帮他注册微信，安全吗"
    fake.group_message(GROUP, 3009, text, entities=[{"type": "mention", "offset": 0, "length": 14}])
    [call] = fake.wait_for("sendMessage")
    assert "?start=scan-code-stranger" in call.params["text"]


def test_reply_to_the_bots_own_message_is_answered(bot_runner):
    fake, _ = bot_runner
    fake.group_message(GROUP, 3010, "/ask 微信被封了怎么申诉")
    fake.wait_for("sendMessage")
    bot_message = fake._last_bot_message(GROUP)
    assert bot_message and bot_message["from"]["id"] == fake.bot_id
    fake.group_message(GROUP, 3010, "那里面的零钱怎么取出来", reply_to=bot_message)  # a follow-up: "in it" = the banned account
    calls = fake.wait_for("sendMessage", count=2)
    assert "?start=banned-funds-withdrawal" in calls[-1].params["text"]


def test_bare_ask_without_reply_explains_usage(bot_runner):
    fake, _ = bot_runner
    fake.group_message(GROUP, 3011, "/ask")
    [call] = fake.wait_for("sendMessage")
    assert "/ask" in call.params["text"]

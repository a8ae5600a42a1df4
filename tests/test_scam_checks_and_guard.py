"""Issue 4 in Telegram: forwarded ads, /check, the /banned checklist across a restart, the group guard."""

from __future__ import annotations

import json
import time

from .tg_harness import BotRunner

GROUP = -1009876543210


def buttons(params) -> list[str]:
    markup = params.get("reply_markup")
    markup = json.loads(markup) if isinstance(markup, str) else markup or {}
    return [b.get("callback_data") or b.get("url") for row in markup.get("inline_keyboard", []) for b in row]


def test_forwarded_ad_gets_a_verdict_with_trigger_words_and_topic_buttons(bot_runner):
    fake, _ = bot_runner
    origin = {"type": "hidden_user", "sender_user_name": "Recruiter", "date": int(time.time())}
    fake.private_message(7001, "【兼职】帮忙辅助解封微信，一单30元，日结，有意私聊", forward_origin=origin)
    [call] = fake.wait_for("sendMessage")
    text = call.params["text"]
    assert "高风险" in text and "<code>辅助解封</code>" in text
    assert "t:unseal-helper-job" in buttons(call.params) and "aq" in buttons(call.params)
    # The next step: what to do now and where to report it.
    assert "<b>下一步</b>" in text and "腾讯110" in text
    assert not fake.rejections


def test_a_traditional_ad_gets_its_verdict_in_traditional(bot_runner):
    fake, _ = bot_runner
    origin = {"type": "hidden_user", "sender_user_name": "Recruiter", "date": int(time.time())}
    fake.private_message(7011, "【兼職】幫忙輔助解封微信，一單30元，日結，有意私聊", forward_origin=origin)
    [call] = fake.wait_for("sendMessage")
    text = call.params["text"]
    assert "高風險" in text and "下一步" in text and "騰訊110" in text
    assert "风险" not in text


def test_ask_as_a_question_instead(bot_runner):
    fake, _ = bot_runner
    origin = {"type": "hidden_user", "sender_user_name": "X", "date": int(time.time())}
    fake.private_message(7002, "高价收购手机卡，一张200，当天结算，联系V：abc123", forward_origin=origin)
    fake.wait_for("sendMessage")
    fake.callback_query(7002, "aq")
    calls = fake.wait_for("sendMessage", count=2)
    assert "?start=sell-sim-card" in calls[-1].params["text"]
    fake.wait_for("answerCallbackQuery")


def test_check_command_and_a_warning_that_is_not_an_ad(bot_runner):
    fake, _ = bot_runner
    fake.private_message(7003, "/check 专业解封微信 QQ，不成功不收费，先付定金")
    fake.private_message(7004, "/check 提醒大家：不要帮陌生人扫码辅助注册，会被封号")
    fake.private_message(7005, "/check")
    calls = fake.wait_for("sendMessage", count=3)
    by_chat = {c.params["chat_id"]: c.params["text"] for c in calls}
    assert "高风险" in by_chat[7003] and "<code>" in by_chat[7003]
    assert "提醒" in by_chat[7004] and "高风险" not in by_chat[7004]
    assert "/check" in by_chat[7005]


def test_pasted_ad_is_routed_to_the_checker_but_a_question_is_not(bot_runner):
    fake, _ = bot_runner
    fake.private_message(7006, "收微信老号，实名满一年的，价格好说，加我详谈")
    fake.private_message(7007, "有人让我帮他辅助解封，一次30块，能做吗？")
    calls = fake.wait_for("sendMessage", count=2)
    by_chat = {c.params["chat_id"]: c.params["text"] for c in calls}
    assert "高风险" in by_chat[7006]
    assert "?start=unseal-helper-job" in by_chat[7007]


def test_banned_flow_survives_a_restart_and_classifies_a_pasted_notice(fake_api, matcher, tmp_path):
    db = tmp_path / "bot.sqlite3"
    runner = BotRunner(fake_api, matcher, db).start()
    try:
        fake_api.private_message(7010, "/banned")
        [ask] = fake_api.wait_for("sendMessage")
        assert buttons(ask.params) == ["b:p:wechat", "b:p:qq", "b:p:other"]
        fake_api.callback_query(7010, "b:p:wechat")
        calls = fake_api.wait_for("sendMessage", count=2)
        assert "b:n:fraud" in buttons(calls[-1].params)
    finally:
        runner.stop()
    runner = BotRunner(fake_api, matcher, db).start()  # the bot restarts halfway through the flow
    try:
        fake_api.private_message(7010, "该微信号因涉及欺诈，国务院打击治理电信网络新型违法犯罪工作部际联席会议办公室通报封停")
        calls = fake_api.wait_for("sendMessage", count=3)
        checklist = calls[-1].params
        ids = buttons(checklist)
        # The appeal comes first for every reason; the regional card is the last pointer.
        assert ids[0] == "t:ban-appeal" and ids[-1] == "t:regional-fraud-ban"
        assert {"t:banned-funds-withdrawal", "t:banned-data-recovery", "t:paid-unseal-service"} <= set(ids)
        assert "1️⃣" in checklist["text"] and "4️⃣" in checklist["text"]
        # The flow is over: the next message is an ordinary question again.
        fake_api.private_message(7010, "微信被封了里面的零钱怎么取出来")
        calls = fake_api.wait_for("sendMessage", count=4)
        assert "?start=banned-funds-withdrawal" in calls[-1].params["text"]
        assert not fake_api.rejections
    finally:
        runner.stop()


def test_banned_flow_with_buttons_other_platform_and_cancel(bot_runner):
    fake, _ = bot_runner
    fake.private_message(7011, "/start ban-appeal")
    [card] = fake.wait_for("sendMessage")
    assert "b:start" in buttons(card.params)
    fake.callback_query(7011, "b:start")
    fake.wait_for("sendMessage", count=2)
    fake.callback_query(7011, "b:p:other")
    fake.wait_for("sendMessage", count=3)
    fake.callback_query(7011, "b:n:gambling")
    calls = fake.wait_for("sendMessage", count=4)
    assert "t:gambling-consequences" in buttons(calls[-1].params)
    assert "WeChat" in calls[-1].params["text"] or "微信" in calls[-1].params["text"]
    fake.private_message(7011, "/cancel")
    calls = fake.wait_for("sendMessage", count=5)
    assert "没有进行中" in calls[-1].params["text"]
    fake.callback_query(7011, "b:n:fraud")  # a stale button after the flow ended
    answers = fake.wait_for("answerCallbackQuery", count=4)
    assert answers[-1].params.get("text")


def test_banned_flow_cancel_midway(bot_runner):
    fake, _ = bot_runner
    fake.private_message(7012, "/banned")
    fake.wait_for("sendMessage")
    fake.private_message(7012, "/cancel")
    calls = fake.wait_for("sendMessage", count=2)
    assert "已退出" in calls[-1].params["text"]


def test_guard_needs_an_admin_then_warns_once_a_minute(bot_runner):
    fake, _ = bot_runner
    fake.set_member_status(GROUP, 8001, "member")
    fake.set_member_status(GROUP, 8002, "administrator")
    fake.group_message(GROUP, 8001, "/guard on")
    [refused] = fake.wait_for("sendMessage")
    assert "管理员" in refused.params["text"]
    fake.group_message(GROUP, 8003, "高价收购手机卡，一张200，当天结算，联系V：abc123")
    time.sleep(0.5)
    assert len(fake.calls_for("sendMessage")) == 1  # guard is off: ads are not answered
    fake.group_message(GROUP, 8002, "/guard on")
    fake.wait_for("sendMessage", count=2)
    ad = fake.group_message(GROUP, 8003, "【兼职】帮忙辅助解封微信，一单30元，日结，有意私聊")
    fake.group_message(GROUP, 8004, "收微信老号，实名满一年的，价格好说，加我详谈")
    fake.group_message(GROUP, 8005, "今晚八点群里开会，大家准时参加")
    fake.wait_for("sendMessage", count=3)
    time.sleep(0.5)
    warnings = fake.calls_for("sendMessage")[2:]
    assert len(warnings) == 1  # at most one warning per group per minute
    ref = warnings[0]["reply_parameters"]
    ref = json.loads(ref) if isinstance(ref, str) else ref
    assert ref["message_id"] == ad["message"]["message_id"]
    assert "?start=unseal-helper-job" in warnings[0]["text"]
    assert not fake.calls_for("deleteMessage")  # nothing is deleted unless asked
    assert not fake.rejections


def test_guard_delete_mode_deletes_when_the_bot_has_the_right(bot_runner):
    fake, _ = bot_runner
    fake.set_member_status(GROUP, 8101, "creator")
    fake.group_message(GROUP, 8101, "/guard delete")
    [confirm] = fake.wait_for("sendMessage")
    assert "删除" in confirm.params["text"]
    fake.group_message(GROUP, 8102, "百家乐 真人娱乐 首充送100% 稳赢技巧群 进群私聊")
    fake.wait_for("deleteMessage")
    fake.wait_for("sendMessage", count=2)
    assert not fake.rejections


def test_guard_status_and_off(bot_runner):
    fake, _ = bot_runner
    fake.set_member_status(GROUP, 8201, "administrator")
    fake.group_message(GROUP, 8201, "/guard on")
    fake.group_message(GROUP, 8202, "/guard status")
    fake.wait_for("sendMessage", count=2)
    fake.group_message(GROUP, 8201, "/guard off")
    calls = fake.wait_for("sendMessage", count=3)
    texts = [c.params["text"] for c in calls]
    assert any("开启" in t for t in texts) and "关闭" in texts[-1]


def test_banned_flow_times_out(bot_runner):
    from bot.conversation import FLOW_TIMEOUT

    fake, runner = bot_runner
    fake.private_message(7013, "/banned")
    fake.wait_for("sendMessage")
    fake.callback_query(7013, "b:p:qq")
    fake.wait_for("sendMessage", count=2)
    stale = json.loads(runner.store.get("flow:banned:7013"))
    stale["at"] = time.time() - FLOW_TIMEOUT - 1
    runner.store.put("flow:banned:7013", json.dumps(stale))
    fake.private_message(7013, "QQ被冻结了怎么申诉")  # after the timeout this is an ordinary question
    calls = fake.wait_for("sendMessage", count=3)
    assert "?start=ban-appeal" in calls[-1].params["text"]
    fake.callback_query(7013, "b:n:gambling")  # the old buttons say the steps expired
    answers = fake.wait_for("answerCallbackQuery", count=2)
    assert "超时" in answers[-1].params["text"] or "timed out" in answers[-1].params["text"]

"""The checker's learned signal: new wording caught, said plainly, with a next step in the reader's language."""

from __future__ import annotations

import dataclasses
import io
import json

import pytest

from bot.__main__ import main
from bot.checker import MessageChecker
from bot.classifier import model_key
from bot.knowledge import LabelledMessage
from bot.render import render_verdict_html, render_verdict_text


def test_an_ad_without_red_flag_words_is_caught_by_the_classifier_and_says_so(checker, kb):
    # New recruitment wording: no red-flag pattern fires, the classifier still reads a helper job.
    text = "姐妹们赚零花钱，帮朋友的号做个好友辅助，1分钟给38红包"
    flags_only = MessageChecker(kb, checker.normaliser, train=False).check_message(text)
    verdict = checker.check_message(text)
    assert flags_only.risk == "low" or flags_only.flags
    assert verdict.risk != "low"
    assert verdict.learned is not None and verdict.learned.topic == "unseal-helper-job"
    if verdict.learned_only:
        text_out = render_verdict_text(kb, verdict, "zh")
        assert "整条消息读起来很像这类" in text_out and kb.topics["unseal-helper-job"].title.zh in text_out


@pytest.mark.parametrize("text", [
    "辅 助 注 册 微 信，一 次 50 元，日 结",  # spaced characters
    "帮人辅💰助💰验💰证，一单30，秒结",  # emoji between characters
    "加威信领任务：好友辅助解封，单价45",  # homophone of 微信
    "ＶＸ辅助解封，一单４０元，当天结",  # full-width letters and digits
    "高价收卡\n移动联通电信都要\n一张200当天结",  # line breaks
    "Part time: help verify new WeChat accounts, 50 RMB each, paid instantly, DM me",  # English
    "菠菜平台 首充送50% 稳赢带单 私聊",  # 菠菜 = gambling
    "有空卡吗 借我接个码 给你50",  # "SIM for a minute"
])
def test_evasions_are_caught(checker, text):
    assert checker.check_message(text).risk != "low", text


@pytest.mark.parametrize("text", [
    "提醒大家：有人冒充微信团队在路边扫码送礼，千万别扫，扫了号会被封",
    "法院判了：一男子出售手机卡给诈骗团伙，以帮信罪获刑一年",
    "群规：禁止发二维码、禁止收卡广告，违者踢出",
    "有人叫我帮忙辅助验证，说给红包，这是骗子吗？",
    "今晚7点小区门口扫码领取团购的菜，记得带袋子",
])
def test_warnings_news_rules_and_questions_stay_low(checker, text):
    assert checker.check_message(text).risk == "low", text


@pytest.mark.parametrize("lang, advice_word, channel_word", [
    ("zh", "不要", "投诉"),
    ("zh-Hant", "不要", "投訴"),
    ("en", "Don't", "report"),
])
def test_every_risky_verdict_has_a_next_step_in_the_readers_language(checker, kb, lang, advice_word, channel_word):
    verdict = checker.check_message("高价收购微信号，实名满一年的，一个300，加我详谈")
    assert verdict.risk == "high" and verdict.next_step is not None
    step = verdict.as_json(lang)["next_step"]
    assert advice_word in step["advice"] and step["report"]
    assert any(channel_word.lower() in (c["name"] + c["how"]).lower() for c in step["report"])
    html_body = render_verdict_html(kb, verdict, lang)
    assert kb.text("check_next", lang) in html_body
    if lang == "zh-Hant":
        assert "举报" not in html_body and "投诉" not in html_body


def test_a_low_verdict_still_says_what_to_do(checker):
    verdict = checker.check_message("明天下午三点开会，记得带电脑")
    assert verdict.risk == "low"
    assert "96110" in verdict.as_json("zh")["next_step"]["advice"]
    assert verdict.as_json("en")["next_step"]["report"] == []


def test_check_message_json_carries_next_step_and_learned_fields():
    out = io.StringIO()
    assert main(["check-message", "--json", "--lang", "zh-Hant", "專業解封微信，不成功不收費，先付定金"], out) == 0
    obj = json.loads(out.getvalue())
    assert obj["risk"] == "high" and obj["lang"] == "zh-Hant"
    assert obj["next_step"]["advice"] and obj["next_step"]["report"]
    assert set(obj["learned"]) == {"probability", "topic", "only"}


def test_the_classifier_is_retrained_when_the_messages_change(kb, checker, tmp_path):
    first = MessageChecker(kb, checker.normaliser, model_cache=tmp_path)
    assert len(list(tmp_path.glob("messages-*.npz"))) == 1
    grown = dataclasses.replace(kb, messages=kb.messages + (LabelledMessage("收老号，一个八百，微信详聊", "buy-sell-accounts"),))
    second = MessageChecker(grown, checker.normaliser, model_cache=tmp_path)
    files = list(tmp_path.glob("messages-*.npz"))
    # Both kept (the cache keeps the last few, bot.classifier.KEEP_MODELS): a curator's draft
    # and the knowledge base serving each have theirs without retraining.
    assert len(files) == 2
    assert second.model is not None and first.model is not None
    assert second.model.index != first.model.index or not (second.model.coef == first.model.coef).all()


def test_the_model_key_follows_the_data_and_nothing_else():
    samples = [("收号", ["收号"]), ("你好", ["你好"])]
    assert model_key(samples, ["a", "-"], 10.0) == model_key(list(samples), ["a", "-"], 10.0)
    assert model_key(samples, ["a", "-"], 10.0) != model_key(samples, ["-", "a"], 10.0)
    assert model_key(samples, ["a", "-"], 10.0) != model_key(samples, ["a", "-"], 3.0)


@pytest.mark.parametrize("text, context", [
    ("法院判了：一男子出售手机卡给诈骗团伙，以帮信罪被判处有期徒刑一年，并处罚金", "news"),
    ("警方通报：捣毁一个跑分团伙，抓获嫌疑人12名，有人联系V: abc123 收卡", "news"),
    ("群规：禁止发二维码、收卡广告、代解封，违者踢出", "rules"),
    ("Group rules: no QR codes, no SIM card ads. Offenders will be removed from the group.", "rules"),
])
def test_news_reports_and_rules_posts_are_not_ads(checker, text, context):
    verdict = checker.check_message(text)
    assert verdict.risk == "low" and verdict.context == context


def test_a_fake_police_notice_is_not_read_as_news(checker):
    verdict = checker.check_message("我是市公安局民警，你涉嫌洗钱已被立案，请联系办案民警配合调查，把钱转到安全账户")
    assert verdict.risk == "high" and verdict.context == "ad"

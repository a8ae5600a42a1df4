"""'Is this legit?': pasted ads, DMs and notices get a risk verdict with the words that gave them away."""

from __future__ import annotations

import io
import json
import re
import sys

import pytest
import yaml

from bot.__main__ import main
from bot.knowledge import KnowledgeError, load_knowledge

from .conftest import DATA


def rates(checker, path):
    cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    risky = [c for c in cases if c["risky"]]
    benign = [c for c in cases if not c["risky"]]
    caught = sum(checker.check_message(c["text"]).risk != "low" for c in risky)
    flagged = [c["text"] for c in benign if checker.check_message(c["text"]).risk != "low"]
    missed = [c["text"] for c in risky if checker.check_message(c["text"]).risk == "low"]
    return caught / len(risky), len(flagged) / len(benign), missed, flagged


BENCH_DATA = DATA.parent.parent / "bench" / "data"


@pytest.mark.parametrize("path", [
    DATA / "scam-dev.yaml",
    DATA / "scam-validation.yaml",
    BENCH_DATA / "scam-holdout.yaml",
    BENCH_DATA / "scam-holdout-2.yaml",
    BENCH_DATA / "scam-holdout-3.yaml",
    BENCH_DATA / "scam-holdout-4.yaml",
], ids=lambda p: p.name)
def test_scam_quality_gate(checker, path):
    caught, false_alarms, missed, flagged = rates(checker, path)
    assert caught >= 0.95, missed
    assert false_alarms <= 0.05, flagged


def test_flags_name_their_trigger_words_and_topic(checker):
    verdict = checker.check_message("高价收购手机卡，移动联通电信都要，一张200，当天结算，联系V：abc123")
    assert verdict.risk == "high"
    card = next(f for f in verdict.flags if f.id == "card-trade")
    assert card.topic == "sell-sim-card" and "手机卡" in card.trigger
    assert card.label.zh and card.label.en
    assert verdict.topics[0] == "sell-sim-card"


def test_traditional_chinese_trigger_is_quoted_as_written(checker):
    verdict = checker.check_message("專業解封微信，不成功不收費")
    assert verdict.risk == "high"
    assert any("專業解封" in f.trigger for f in verdict.flags)


def test_english_ad(checker):
    verdict = checker.check_message("Easy money! Rent out your SIM card, 300 RMB each, paid daily, DM me")
    assert verdict.risk == "high" and "sell-sim-card" in verdict.topics


@pytest.mark.parametrize("text", [
    "提醒大家：不要帮陌生人扫码辅助注册，会被封号",
    "群公告：禁止在群内发广告、赌博链接，违者踢出",
    "PSA: never give your verification code to anyone, even 'WeChat support'",
    "有人让我帮他辅助解封，一次30块，这靠谱吗？",
])
def test_warnings_and_questions_that_quote_scam_words_are_low(checker, text):
    verdict = checker.check_message(text)
    assert verdict.risk == "low"
    assert not verdict.flags or verdict.context in ("warning", "question", "rules", "news")


def test_a_warning_that_also_asks_to_be_contacted_is_still_an_ad(checker):
    verdict = checker.check_message("注意！正规辅助解封，一单50，日结，加我私聊")
    assert verdict.context == "ad" and verdict.risk == "high"



@pytest.mark.parametrize("text, context", [
    # A fake officer's script names a crime and an anti-fraud centre: that is no warning.
    ("这里是某市公安分局反诈中心，你名下的银行卡涉嫌一起洗钱案件，请把余额转入安全账户配合核查", "ad"),
    ("Officer Lin here. Your bank account has been linked to a money laundering case, move the funds to the safe account today", "ad"),
    # ...while a warning that quotes such a script still is one.
    ("提醒爸妈：骗子会说你涉嫌洗钱，让你把钱转到安全账户，千万别信", "warning"),
    # A platform's announcement about other people's accounts is news; a "notice" with a link is not.
    ("腾讯发布公告：对出租出借微信号的用户，将视情节采取限制功能、封号等措施", "news"),
    ("公告：对违规账号将采取封号处理，请在24小时内点击 http://wx-check.top 完成认证", "ad"),
    # A group notice that invites to a betting round is an ad; one that forbids ads is a rules post.
    ("群公告：今晚9点开奖接龙，先充值再抢包，中奖翻三倍", "ad"),
    ("群公告：本群严禁发收卡、跑分广告，违者直接移出", "rules"),
])
def test_context_of_notices_scripts_and_announcements(checker, text, context):
    verdict = checker.check_message(text)
    assert verdict.context == context
    assert (verdict.risk != "low") == (context == "ad")

@pytest.mark.parametrize("text", ["", "😀😀", "\x00\x1b[0m", "<b>hi</b>", "a" * 100_000])
def test_hostile_input_is_low_and_never_raises(checker, text):
    assert checker.check_message(text).risk == "low"


def test_routing_tells_pasted_ads_from_questions(checker):
    assert checker.reads_like_a_message("帮忙辅助解封微信，一单30元，日结，有意私聊")
    assert not checker.reads_like_a_message("有人让我帮忙辅助解封，能做吗？")
    assert not checker.reads_like_a_message("微信被封了怎么申诉")


def test_cli_json_batch_with_escaped_line_breaks(monkeypatch):
    lines = ["收微信老号，价格好说", "提醒大家：\\n不要帮陌生人扫码辅助注册", "", "\udcff"]
    stdin = io.TextIOWrapper(io.BytesIO("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)
    out = io.StringIO()
    assert main(["check-message", "--json", "-"], out) == 0
    objs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [o["risk"] for o in objs] == ["high", "low", "low", "low"]
    assert objs[0]["flags"][0]["trigger"] == "收微信老号" and objs[0]["flags"][0]["topic"] == "buy-sell-accounts"


def test_cli_readable_output():
    out = io.StringIO()
    assert main(["check-message", "专业解封微信 QQ，不成功不收费，先付定金"], out) == 0
    assert "高风险" in out.getvalue() and "paid-unseal-service" in out.getvalue()
    assert "专业解封" in out.getvalue()  # the trigger words are quoted


def test_broken_red_flag_regex_is_reported_with_file_and_flag(kb_copy):
    path = kb_copy / "red_flags.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["flags"][0]["patterns"].append("([unclosed")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(kb_copy)
    [problem] = info.value.problems
    assert "red_flags.yaml" in problem and "scan-verify-for-others" in problem and "regular expression" in problem


def test_only_the_command_line_reads_backslash_n_as_a_line_break(checker):
    # A Telegram message that contains a literal backslash-n is checked as written.
    assert "\\n" in checker.normalise("路径 C:\\new\\notes")


def test_the_next_step_says_never_give_a_code_once(checker):
    for topic in checker.kb.topics.values():
        advice = checker.next_step("high", [topic.id]).advice
        assert advice.zh.count("验证码") == 1, (topic.id, advice.zh)
        assert len(re.findall(r"\b(verification|sms) codes?\b", advice.en.lower())) == 1, (topic.id, advice.en)

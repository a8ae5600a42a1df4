"""The answer first: each person's own situation decides the first lines they read (issue 15).

The readers the issue names, in Simplified, Traditional (Taiwan, via OpenCC) and English:
each gets the topic that explains their case and the first lines written for *their*
situation, never the general card's "don't do it" when they already did.
"""

from __future__ import annotations

import json

import opencc
import pytest

from bot.render import match_first

from .test_cli import run_cli

TAIWAN = opencc.OpenCC("s2twp")

# (question in Simplified, the same in English, topic, situation)
READERS = [
    ("我儿子上大学，有人花200块收他的手机卡，他已经卖了一张，现在怎么办",
     "my son sold his sim card to a guy at university for 200 yuan, what should we do now",
     "sell-sim-card", "family"),
    ("我妈扫了个码领鸡蛋，还输了验证码，现在号登不上了",
     "my mom scanned a code for free eggs and typed in a verification code, now she can't log in",
     "scan-code-stranger", "family"),
    ("我帮别人辅助注册过几次，现在自己的号被限制了，能解吗",
     "I helped strangers verify their registration a few times and now my own wechat is restricted, can it be lifted",
     "unseal-helper-job", "banned-self"),
    ("我的QQ被冻结了，好友说可以帮我辅助解封，可以吗？",
     "my qq is frozen and a good friend says he can help verify my unsealing, is that ok?",
     "ban-appeal", "friend-verify"),
    ("解封页面让我找好友辅助验证，我能找同事帮忙吗",
     "the unseal page asks for a friend to help verify, can my coworker do it",
     "ban-appeal", "friend-verify"),
    ("我的QQ号被盗了怎么找回", "my qq account was stolen, how do I get it back", "account-stolen", None),
    ("我朋友的微信被盗了，正在用他的号找人借钱",
     "my friend's wechat was hacked and someone is using it to borrow money from everyone",
     "account-stolen", "family"),
]

STORY = ("我的微信昨天突然被封了，我一直很正常地用，朋友圈也就发发孩子的照片。今天在网上找解决办法，"
         "看到好多人说能解封。有人说花300块能帮忙解封，可以相信吗？")
STORY_EN = ("my wechat got banned yesterday for no reason. I searched online and lots of people say they can unban it. "
            "someone says he can unseal it for 300 yuan. can I trust him?")


def scripts(simplified: str, english: str):
    return [(simplified, "zh"), (TAIWAN.convert(simplified), "zh-Hant"), (english, "en")]


@pytest.mark.parametrize("simplified, english, topic, situation", READERS)
def test_each_reader_gets_the_first_lines_of_their_own_situation(matcher, simplified, english, topic, situation):
    kb = matcher.kb
    for question, lang in scripts(simplified, english):
        match = matcher.match_question(question)
        assert (match.topic, match.situation) == (topic, situation), (question, match)
        assert match.lang == lang
        first = match_first(kb, match, lang)
        expected = kb.topics[topic].first_lines(situation).get(lang)
        assert expected in first, (question, first)


def test_someone_who_already_sold_is_not_told_not_to_sell(matcher):
    kb = matcher.kb
    general = kb.topics["sell-sim-card"].first
    for question, lang in scripts(READERS[0][0], READERS[0][1]):
        first = match_first(kb, matcher.match_question(question), lang)
        assert first != general.get(lang) and not first.startswith(general.get(lang)[:4])


def test_friend_verification_is_never_answered_as_a_paid_helper_job(matcher):
    """The platform's own step, asked about by the banned person, is not the 'don't take this job' card."""
    for simplified, english, *_ in READERS[3:5]:
        for question, _ in scripts(simplified, english):
            assert matcher.match_question(question).topic != "unseal-helper-job", question


def test_a_long_story_with_one_question_is_answered_not_turned_into_choices(matcher):
    kb = matcher.kb
    for question, lang in scripts(STORY, STORY_EN):
        match = matcher.match_question(question)
        assert match.decision == "answer" and match.topic == "paid-unseal-service", (question, match)
        assert match_first(kb, match, lang) == kb.topics["paid-unseal-service"].first.get(lang)


@pytest.mark.parametrize("simplified, english, fallback", [
    ("抖音账号被封了怎么申诉", "my douyin account got banned, how do I appeal", "other-platform-ban"),
    ("淘宝号被冻结了怎么解", "my taobao account is frozen how to unfreeze", "other-platform-ban"),
    ("工资卡突然被冻结了，去哪里问", "my salary bank card was suddenly frozen, who do i ask", "payment-frozen"),
])
def test_other_platforms_and_frozen_bank_cards_get_an_honest_fallback(matcher, simplified, english, fallback):
    kb = matcher.kb
    for question, lang in scripts(simplified, english):
        match = matcher.match_question(question)
        assert match.decision == "none" and match.topic is None and match.fallback == fallback, (question, match)
        assert match_first(kb, match, lang) == kb.fallbacks.get(fallback).first.get(lang)


def test_a_wechat_question_mentioning_a_bank_card_keeps_its_card(matcher):
    match = matcher.match_question("冻结的号里的余额能转到银行卡吗")
    assert match.topic == "banned-funds-withdrawal" and match.fallback is None


def test_every_topic_and_situation_has_first_lines_of_at_most_two_phone_lines(kb):
    for topic in kb.topics.values():
        for first in [topic.first, *(s.first for s in topic.situations)]:
            assert 0 < len(first.zh) <= 90 and 0 < len(first.en) <= 240, (topic.id, first)
            assert "\n" not in first.zh and "\n" not in first.en


def test_ask_json_has_situation_and_first_for_every_decision(monkeypatch, matcher):
    vague = next(q for q in ["封号", "解封", "钱", "账号出问题了", "被封了"] if matcher.match_question(q).decision == "suggest")
    questions = [READERS[0][0], vague, "今天天气怎么样", "抖音账号被封了怎么申诉"]
    code, out = run_cli(["ask", "--json", "-"], ("\n".join(questions) + "\n").encode(), monkeypatch)
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert {r["decision"] for r in rows} == {"answer", "suggest", "none"}
    for row in rows:
        assert {"situation", "first"} <= set(row) and row["first"].strip()
        if row["decision"] == "none":
            assert row["situation"] is None and row["topic"] is None
    assert rows[0]["situation"] == "family"

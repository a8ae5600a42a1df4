"""The conversation every channel shares: follow-ups, pasted ads, choices, the /banned checklist, languages."""

from __future__ import annotations

import io

import pytest

from bot.__main__ import build_parser, cmd_chat
from bot.conversation import Card, Checked, Checklist, ChecklistQuestion, Choices, Conversation, NoAnswer, Notice
from bot.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "conversation.sqlite3")
    yield store
    store.close()


@pytest.fixture
def talk(matcher, checker, store):
    return Conversation(matcher, checker, store)


def test_a_follow_up_is_read_with_the_last_card_in_mind(talk):
    first = talk.receive("u1", "我的微信号被封了怎么申诉")
    assert isinstance(first, Card) and first.topic.id == "ban-appeal"
    follow = talk.receive("u1", "那聊天记录呢？")
    assert isinstance(follow, Card) and follow.topic.id == "banned-data-recovery"
    # Another person asking the same thing out of the blue gets no card.
    assert not isinstance(talk.receive("u2", "那聊天记录呢？"), Card)
    assert isinstance(talk.receive("u1", "谢谢"), NoAnswer)


def test_a_pasted_ad_gets_a_verdict_and_a_question_does_not(talk):
    ad = talk.receive("u3", "收微信老号，实名满一年的，价格好说，加我详谈")
    assert isinstance(ad, Checked) and ad.verdict.risk == "high" and ad.offer_question
    question = talk.receive("u3", "有人让我帮他辅助解封，一次30块，能做吗？")
    assert isinstance(question, Card) and question.topic.id == "unseal-helper-job"


def test_numbers_pick_from_the_last_choices(talk, matcher):
    reply = talk.receive("u4", "封号")
    if isinstance(reply, Choices):
        second = reply.topics[1].id
        picked = talk.receive("u4", "2")
        assert isinstance(picked, Card) and picked.topic.id == second
    # Without choices on offer, a number is just a (meaningless) question.
    assert not isinstance(talk.receive("u5", "2"), Card)


def test_the_banned_checklist_by_numbers_and_by_a_pasted_notice(talk):
    ask = talk.checklist_start("u6")
    assert isinstance(ask, ChecklistQuestion) and ask.step == "platform"
    reasons = talk.receive("u6", "2")  # QQ
    assert isinstance(reasons, ChecklistQuestion) and reasons.step == "notice"
    done = talk.receive("u6", "该微信号因涉及赌博被限制登录")
    assert isinstance(done, Checklist) and done.platform == "qq" and done.reason == "gambling"
    assert all(p.suits("qq") for item in done.items for p in item.paths)
    # The flow is over: the next text is an ordinary question again.
    assert not isinstance(talk.receive("u6", "1"), (Checklist, ChecklistQuestion))


def test_a_checklist_survives_a_restart_and_cancel_ends_it(matcher, checker, tmp_path):
    path = tmp_path / "restart.sqlite3"
    first = Store(path)
    Conversation(matcher, checker, first).checklist_start("u7")
    Conversation(matcher, checker, first).checklist_platform("u7", "wechat")
    first.close()
    second = Store(path)
    try:
        talk = Conversation(matcher, checker, second)
        assert talk.checklist_state("u7")["step"] == "notice"
        assert talk.cancel("u7") == Notice("flow_cancelled", "zh")
        assert talk.cancel("u7") == Notice("flow_nothing_to_cancel", "zh")
        assert talk.checklist_reason("u7", "fraud") == Notice("flow_expired", "zh")
    finally:
        second.close()


def test_language_follows_the_message_unless_chosen(talk):
    assert talk.receive("u8", "我的微信帳號被限制登入，要怎麼申請解封？").lang == "zh-Hant"
    assert talk.receive("u8", "my wechat got banned").lang == "en"
    talk.set_language("u8", "zh-Hant")
    assert talk.receive("u8", "my wechat got banned").lang == "zh-Hant"
    talk.set_language("u8", None)
    assert talk.receive("u8", "微信被封了").lang == "zh"


def test_one_vote_per_person_and_card(talk, store):
    assert talk.vote("u9", "ban-appeal", up=True)
    assert talk.vote("u9", "ban-appeal", up=False)
    assert not talk.vote("u9", "no-such-topic", up=True)
    assert store.votes_by_topic()["ban-appeal"] == (0, 1)


def test_the_terminal_chat_is_the_same_conversation():
    lines = iter([
        "我的微信号被封了怎么申诉", "那聊天记录呢？",
        "收微信老号，实名满一年的，价格好说，加我详谈",
        "/banned", "1", "5",
        "quit",
    ])
    out = io.StringIO()
    assert cmd_chat(build_parser().parse_args(["chat"]), out, read=lambda _prompt: next(lines)) == 0
    text = out.getvalue()
    assert "【账号被封或被误封" in text and "聊天记录" in text
    assert "高风险" in text and "下一步" in text
    assert "被封的是哪个平台" in text and "你的处理清单" in text


def test_a_bare_number_answers_in_the_language_of_the_question_it_answers(talk):
    talk.checklist_start("u10", lang="en")
    reasons = talk.receive("u10", "1")
    assert isinstance(reasons, ChecklistQuestion) and reasons.lang == "en"
    assert isinstance(talk.receive("u10", "5"), Checklist) and talk.receive("u10", "hello").lang == "en"
    menu = talk.offer("u11", ["ban-appeal", "sell-sim-card"], "zh-Hant")
    assert [t.id for t in menu.topics] == ["ban-appeal", "sell-sim-card"]
    picked = talk.receive("u11", "2")
    assert isinstance(picked, Card) and picked.topic.id == "sell-sim-card" and picked.lang == "zh-Hant"


def test_a_pasted_ban_notice_is_a_question_about_the_account_but_a_phishing_notice_is_checked(talk):
    notice = talk.receive("u12", "你的账号因涉嫌参与赌博违规，已被限制登录")
    assert not isinstance(notice, Checked)
    phishing = talk.receive("u12", "您的微信账号存在异常已被限制，请点击链接 http://wx-safe.xyz 验证身份")
    assert isinstance(phishing, Checked) and phishing.verdict.risk == "high"


@pytest.mark.parametrize("question", [
    "长期封号和永久封号有啥不一样", "投诉赌博要选哪个选项", "参与网赌微信会有什么处罚",
    "how to file an appeal for a frozen qq account", "怎么买火车票 lily.wang88@qq.com",
])
def test_questions_that_name_scam_words_are_questions(talk, question):
    assert not isinstance(talk.receive("u13", question), Checked)


@pytest.mark.parametrize("ad", [
    "收电话卡 一张200 日结 加V: lily_88", "高价收购微信号，详情看 http://wx-buy.example.top",
])
def test_pasted_ads_with_a_contact_or_a_link_are_checked(talk, ad):
    assert isinstance(talk.receive("u14", ad), Checked)


@pytest.mark.parametrize("notice, reason", [
    ("你的账号因涉嫌参与赌博违规，已被限制登录", "gambling"),
    ("该微信号涉嫌诈骗，已被限制登录", "fraud"),
    ("该账号因发布色情低俗信息被封", "porn"),
    ("该帐号因协助他人解封被限制", "helping"),
    ("账号异常已被限制登录", "unknown"),
])
def test_a_pasted_ban_notice_gives_its_reason(talk, notice, reason):
    assert talk.read_notice(notice).reason == reason

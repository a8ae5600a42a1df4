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


# Readers written for these tests from bench/data/situations-spec.md (none is a phrasing of the
# knowledge base): who asks and at what stage, said with role, stage and outcome words.
SITUATED = [
    ("我妈被网恋对象骗了八万，怎么办", "pig-butchering-scam", "family"),
    ("my grandmother got talked into an investment app by an online boyfriend and already put money in",
     "pig-butchering-scam", "family"),
    ("我被网恋对象骗了五万块，还能追回吗", "pig-butchering-scam", "lost-money"),
    ("網戀對象叫我投資虛擬貨幣，是不是殺豬盤", "pig-butchering-scam", None),
    ("我妹帮陌生人辅助解封赚了几百块，会不会出事", "unseal-helper-job", "family"),
    ("我帮陌生人做过辅助验证，现在自己的微信被封了", "unseal-helper-job", "banned-self"),
    ("我老公的QQ被盗了，盗号的在用他的号到处借钱", "account-stolen", "family"),
    ("my sister's wechat was hacked and someone is asking her friends for money", "account-stolen", "family"),
    ("上周我把QQ号卖给了收号的，现在有点怕", "buy-sell-accounts", "already-did"),
    ("I bought a wechat account for 800 yuan and the seller took it back", "buy-sell-accounts", "lost-money"),
    ("我爸在网上被人拉进赌博群，已经输了好几万，怎么劝他", "gambling-consequences", "family"),
    ("网赌输了三万，平台不给提现，能报警吗", "gambling-consequences", "lost-money"),
    ("I paid a guy 500 yuan to unban my wechat and he ghosted me", "paid-unseal-service", "lost-money"),
    ("my wechat appeal got rejected again, what else can I try", "ban-appeal", "appeal-rejected"),
    ("我帳號申訴被拒絕了，還有別的官方管道嗎", "ban-appeal", "appeal-rejected"),
    ("解封要好友辅助验证，我该找谁", "ban-appeal", "friend-verify"),
    ("我是群管理员，有人在群里卖黄色视频，我该怎么做", "report-porn-contraband", "moderator"),
    ("as a class teacher how do I warn students about selling their SIM cards", "sell-sim-card", "moderator"),
    ("I sold my SIM card to a guy last week, what do I do now", "sell-sim-card", "already-did"),
    ("我已經把電話卡賣給別人了，現在怎麼辦", "sell-sim-card", "already-did"),
    ("我個仔將張電話卡賣咗俾人，點算", "sell-sim-card", "family"),
    ("someone wants to buy my SIM card for 200 yuan, should I", "sell-sim-card", None),
    ("掃咗陌生人嘅二維碼，而家我個微信俾人封咗", "scan-code-stranger", "banned-self"),
    ("我岳母扫了个码领鸡蛋，现在微信登不上了", "scan-code-stranger", "family"),
    ("我姑姑把手机卡卖给了收卡的人，现在怎么办", "sell-sim-card", "family"),
    ("I already clicked the link and installed the app, what now", "suspicious-links-apps", "already-did"),
    ("我俾咗五百蚊人哋話幫我解封，佢而家block咗我", "paid-unseal-service", "lost-money"),
    ("I've been betting online for months, will my wechat be banned", "gambling-consequences", "already-did"),
    ("my dad scanned a qr code for free eggs and now can't log in", "scan-code-stranger", "family"),
    ("我幫人輔助驗證之後，自己個微信俾人限制咗", "unseal-helper-job", "banned-self"),
    ("我是老師，想提醒學生不要出租門號", "sell-sim-card", "moderator"),
]


@pytest.mark.parametrize("question, topic, situation", SITUATED)
def test_role_stage_and_outcome_words_decide_the_reader(matcher, question, topic, situation):
    assert question not in matcher.kb.topics[topic].all_questions
    match = matcher.match_question(question)
    assert (match.topic, match.situation) == (topic, situation), (question, match)


def test_stage_words_are_read_before_synonyms_fold_them_away(matcher):
    """"sold" is folded into "sell" and 被骗了 into 诈骗 for the topic model; the situation model still sees them."""
    for question, folded, cue in [("I sold my SIM card to a stranger", "sell", "§done"),
                                  ("我被骗了五千块", "诈骗", "§money-gone")]:
        norm, syllables = matcher.read_question(question)
        assert folded in norm
        cues = matcher._cues.find(matcher._written[1])
        words = matcher._situation_sample("sell-sim-card", (norm, [], syllables), cues)[1]
        assert cue in words and f"{cue}@sell-sim-card" in words, words
        # The folded text alone has lost the stage.
        if cue == "§done":
            assert cue[1:] not in matcher._cues.find(norm)


def test_a_topic_never_opens_with_a_situation_it_does_not_have(matcher):
    """scan-code-stranger has no group-owner reader: a community worker gets its general lines, not a relative's."""
    match = matcher.match_question("我是社区网格员，想给老人讲讲别扫陌生人的码")
    assert (match.topic, match.situation) == ("scan-code-stranger", None)
    for question, topic, _ in SITUATED:
        found = matcher.match_question(question)
        allowed = {s.id for s in matcher.kb.topics[found.topic].situations} if found.topic else set()
        assert found.situation is None or found.situation in allowed


def test_the_general_reader_keeps_its_lines_unless_a_situation_outweighs_it_by_the_margin(matcher):
    from dataclasses import replace

    from bot.matcher import Matcher

    def situation(margin: float, question: str) -> str | None:
        other = Matcher(matcher.kb, matcher.normaliser, replace(matcher.settings, situation_margin=margin),
                        model_cache=matcher.normaliser.cache_dir)
        return other.match_question(question).situation

    assert situation(0.0, SITUATED[0][0]) == "family"
    assert situation(50.0, SITUATED[0][0]) is None  # no situation is that sure: the general lines
    assert situation(-50.0, "有人收手机卡，一张给两百，能卖吗") is not None  # any situation beats the general reader


@pytest.mark.parametrize("cues, complaint", [
    ({"kin": ["我妈", "My Mom"]}, "lower case"),
    ({"kin": ["my little sister"]}, "one or two words"),
    ({"kin": ["mom's"]}, "one or two words"),
    ({"kin": "我妈"}, "non-empty list"),
    (["kin"], "mapping"),
])
def test_a_broken_cue_list_is_named(kb_copy, cues, complaint):
    import yaml

    from bot.knowledge import KnowledgeError, load_knowledge

    path = kb_copy / "situations.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["cues"] = cues
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(kb_copy)
    assert any("cues" in p and complaint in p for p in info.value.problems), info.value.problems


def test_cues_are_found_as_words_in_the_text_as_written():
    from bot.cues import CueFinder

    finder = CueFinder({"kin": ("我妈", "mom", "son"), "done": ("已经", "卖给", "sold"), "peers": ("好友",),
                        "friend-step": ("好友辅助",)})
    assert finder.find("我妈已经把卡卖给别人了") == ["kin", "done"]
    assert finder.find("好友辅助验证") == ["peers", "friend-step"]  # a longer word does not hide a shorter one
    assert finder.find("my mom's friend sold it") == ["kin", "done"]
    assert finder.find("my grandson sold nothing; momentum") == ["done"]  # ASCII words only whole
    two = CueFinder({"my-people": ("my son", "我儿子")})
    assert two.find("my son's card") == ["my-people"] and two.find("my grandson, son") == []
    assert finder.find("没有线索") == []


def test_the_cues_of_the_phrasings_are_cached_and_follow_the_lexicon(tmp_path):
    from bot.cues import CueFinder

    calls = []

    def written(text):
        calls.append(text)
        return text

    texts = ["我妈已经卖了", "没事"]
    assert CueFinder({"kin": ("我妈",)}).find_many(texts, written, tmp_path, "k") == [["kin"], []]
    assert CueFinder({"kin": ("我妈",)}).find_many(texts, written, tmp_path, "k") == [["kin"], []]
    assert len(calls) == 2  # the second time from the cache
    assert CueFinder({"done": ("已经",)}).find_many(texts, written, tmp_path, "k") == [["done"], []]
    assert len(calls) == 4 and len(list(tmp_path.glob("cues-*.json"))) == 1

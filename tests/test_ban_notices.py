"""/banned never accuses: a reason counts only if the pasted notice states it, and the term it states is read back.

Over every reason, every platform and a set of pasted notices (Simplified,
Traditional, English): no checklist step, reply or verdict claims a reason its
input does not state, and QQ and other platforms get no WeChat-only text.
"""

from __future__ import annotations

import re

import pytest
import yaml
from starlette.testclient import TestClient

from bot.conversation import PLATFORMS, REASONS, Card, Checklist, Conversation
from bot.knowledge import NOTICE_REASONS, KnowledgeError, load_knowledge
from bot.store import Store
from bot.web.app import WebSettings, build_app

# (pasted notice, the reason it states or "unknown", the words of its term or None)
NOTICES = [
    ("您的QQ账号因涉嫌违规操作，已被冻结，解冻时间2025-12-20", "unknown", "解冻时间2025-12-20"),
    ("您的QQ帳號因涉嫌違規操作，已被凍結，解凍時間2025-12-20", "unknown", "解凍時間2025-12-20"),
    ("Your QQ account has been frozen due to suspicious activity. Unfreeze time: 2025-12-20", "unknown",
     "Unfreeze time: 2025-12-20"),
    ("你的微信号因涉嫌参与赌博违规，已被限制登录", "gambling", None),
    ("該微信號因涉嫌賭博，已被限制登錄，解封時間：2025年12月30日", "gambling", "解封時間：2025年12月30日"),
    ("Your account has been permanently banned for gambling.", "gambling", "permanently banned"),
    ("该微信号涉嫌诈骗，已被限制登录", "fraud", None),
    ("该微信号因涉及欺诈，国务院打击治理电信网络新型违法犯罪工作部际联席会议办公室通报封停。", "fraud", None),
    ("該帳號涉嫌詐騙，已被封停", "fraud", None),
    ("This account has been blocked for suspected fraud.", "fraud", None),
    ("该账号因发布色情低俗信息被封禁7天", "porn", "封禁7天"),
    ("你的帳號因傳播色情內容，已被永久封禁", "porn", "永久封禁"),
    ("Your account was suspended for 7 days for spreading pornographic content.", "porn", "suspended for 7 days"),
    ("该帐号因协助他人解封被限制", "helping", None),
    ("你的賬號因批量註冊被封", "helping", None),
    ("你的帳號因批次註冊異常，已被限制登入", "helping", None),
    ("Your account has been restricted for assisting others to register accounts.", "helping", None),
    ("你的帐号因违反《微信个人账号使用规范》，已被永久封禁", "unknown", "永久封禁"),
    ("此QQ号码存在异常行为，已被冻结", "unknown", None),
    ("你的微信账号被限制登录，限制时间至2026年1月5日", "unknown", "限制时间至2026年1月5日"),
    ("你的微信号被限制登录，可以邀请好友辅助验证解封", "unknown", None),
    ("你的账号已被冻结。温馨提示：谨防诈骗，官方解封不收费", "unknown", None),
    ("你的微信号被限制登录。请勿参与任何形式的赌博，谨防上当", "unknown", None),
    ("你的微信因使用外挂被封三天", "unknown", "封三天"),
    ("Your WeChat account has been restricted for violating the WeChat Acceptable Use Policy.", "unknown", None),
    ("Your account is restricted. Ask a friend to help verify your account to unblock it.", "unknown", None),
]
LANG_OF = {"zh": "zh", "zh-Hant": "zh-Hant", "en": "en"}

# What a text says when it names a reason (any script, any language). A step that
# names a reason its input does not state accuses the person.
CLAIMS = {
    "fraud": re.compile(r"诈骗|詐騙|欺诈|欺詐|\bfraud", re.I),
    "gambling": re.compile(r"赌|賭|gambl|\bbet(s|ting)?\b", re.I),
    "porn": re.compile(r"色情|低俗|违禁品|違禁品|porn|prohibited goods", re.I),
    "helping": re.compile(r"辅助|輔助|协助|協助|他人|批量注册|批量註冊|批次註冊|替任何人|verif|registration|register|"
                          r"help(ing)? others|for others", re.I),
}
# Cards a reply may not open for a notice that does not state their reason.
REASON_TOPICS = {
    "gambling-consequences": "gambling", "report-gambling": "gambling",
    "unseal-helper-job": "helping", "scan-code-stranger": "helping",
    "report-porn-contraband": "porn",
    "regional-fraud-ban": "fraud", "report-fraud-general": "fraud", "pig-butchering-scam": "fraud",
}
# WeChat-only text: a QQ or other-platform user is never told these as their platform's rules.
WECHAT_ONLY = ("微信按违规轻重阶梯式处罚", "WeChat's penalties are tiered", "微信的赌博治理公告说", "微信2022年3月的公告说",
               "《微信个人账号使用规范》把", "WeChat's gambling announcement says", "WeChat's March 2022 announcement says",
               "WeChat's account rules make")


@pytest.fixture
def talk(matcher, checker, tmp_path):
    store = Store(tmp_path / "notices.sqlite3")
    yield Conversation(matcher, checker, store)
    store.close()


def lang_of(text: str) -> str:
    return "en" if not re.search(r"[\u4e00-\u9fff]", text) else ("zh-Hant" if re.search(r"帳|號|凍|賭|詐|傳|註|賬", text) else "zh")


def pasted_checklist(talk, user: str, platform: str, notice: str) -> Checklist:
    lang = lang_of(notice)
    talk.checklist_start(user, lang)
    talk.checklist_platform(user, platform, lang)
    done = talk.receive(user, notice)
    assert isinstance(done, Checklist), done
    return done


def test_the_reading_examples_of_ban_notices_yaml_hold(kb, talk):
    notices = kb.ban_notices
    assert set(notices.reasons) == set(NOTICE_REASONS)
    for reason, patterns in notices.reasons.items():
        assert len(patterns.states) >= 2 and len(patterns.silent) >= 2, reason
        for text in patterns.states:
            reading = talk.read_notice(text)
            assert reading.reason == reason and reading.reason_words, (reason, text, reading)
        for text in patterns.silent:
            assert talk.read_notice(text).reason != reason, (reason, text)
    assert len(notices.term.states) >= 2 and len(notices.term.silent) >= 2
    for text in notices.term.states:
        assert talk.read_notice(text).term, text
    for text in notices.term.silent:
        assert talk.read_notice(text).term is None, text


@pytest.mark.parametrize("notice, reason, term", NOTICES)
def test_a_notice_gives_only_the_reason_it_states_and_its_term(talk, notice, reason, term):
    reading = talk.read_notice(notice)
    assert reading.reason == reason, reading
    assert reading.term == term, reading
    if reason != "unknown":
        assert reading.reason_words in notice and CLAIMS[reason].search(reading.reason_words)


def test_the_notices_are_varied_enough():
    assert len(NOTICES) >= 20
    langs = [lang_of(n) for n, _, _ in NOTICES]
    assert all(langs.count(code) >= 5 for code in LANG_OF), langs
    assert {r for _, r, _ in NOTICES} == set(REASONS)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("notice, reason, term", NOTICES)
def test_a_pasted_notice_on_every_platform_claims_nothing_it_does_not_state(talk, kb, platform, notice, reason, term):
    done = pasted_checklist(talk, f"n-{platform}", platform, notice)
    assert done.reason == reason and done.notice is not None
    step = done.reason_text
    for other, claim in CLAIMS.items():
        if other != reason:
            assert not claim.search(step), (other, step)
    if reason == "unknown":
        assert kb.text("banned_notice_states_no_reason", done.lang) in step
    else:
        assert f"“{done.notice.reason_words}”" in step or f'"{done.notice.reason_words}"' in step
    if term:
        assert term in step  # the notice's own words, as written
    if platform != "wechat":
        attributed = re.search(r"这是微信的规则|這是微信的規則|that is WeChat's rule", step)
        assert attributed or not [w for w in WECHAT_ONLY if w in step], step
    assert REASON_TOPICS.get(done.reason_topic.id) in (None, reason)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("lang", ["zh", "zh-Hant", "en"])
def test_a_chosen_reason_step_speaks_of_that_reason_only(talk, platform, reason, lang):
    done = talk.checklist(platform, reason, lang)
    for other, claim in CLAIMS.items():
        if other != reason:
            assert not claim.search(done.reason_text), (other, done.reason_text)
    # A WeChat rule told to a QQ or other-platform user is said to be WeChat's.
    attributed = re.search(r"这是微信的规则|這是微信的規則|that is WeChat's rule", done.reason_text)
    if platform != "wechat":
        assert attributed or not [w for w in WECHAT_ONLY if w in done.reason_text], done.reason_text
    if platform != "wechat" and reason != "fraud":
        # The platform's own notice decides; where the rule quoted is WeChat's, the step says so.
        assert re.search(r"这个平台|這個平[台臺]|this platform", done.reason_text), done.reason_text
        if reason != "unknown":
            assert attributed, done.reason_text


@pytest.mark.parametrize("notice, lang, term, words", [
    ("您的QQ账号因涉嫌违规操作，已被冻结，解冻时间2025-12-20", "zh", "解冻时间2025-12-20", "没有写明具体原因"),
    ("您的QQ帳號因涉嫌違規操作，已被凍結，解凍時間2025-12-20", "zh-Hant", "解凍時間2025-12-20", "沒有寫明具體原因"),
    ("Your QQ account has been frozen for a suspected violation. Unfreeze time: 2025-12-20", "en",
     "Unfreeze time: 2025-12-20", "states no specific reason"),
])
def test_the_qq_notice_of_issue_15_is_not_read_as_helping_others(talk, notice, lang, term, words):
    done = pasted_checklist(talk, "issue15", "qq", notice)
    assert done.reason == "unknown" and done.lang == lang
    assert words in done.reason_text and term in done.reason_text
    everything = "\n".join([done.reason_text, *(i.heading for i in done.items)])
    for accusation in ("别再替任何人验证", "別再替任何人驗證", "Verify for no one", "辅助注册", "輔助註冊", "微信按违规轻重阶梯式处罚",
                       "微信按違規輕重階梯式處罰", "WeChat's penalties are tiered"):
        assert accusation not in everything
    assert done.reason_topic.id == "ban-types-duration"


@pytest.mark.parametrize("notice, reason, term", NOTICES)
def test_no_reply_or_verdict_claims_a_reason_the_notice_does_not_state(talk, notice, reason, term):
    reply = talk.receive("outside-the-flow", notice)
    if isinstance(reply, Card):
        assert REASON_TOPICS.get(reply.topic.id) in (None, reason), reply.topic.id
    verdict = talk.check("forwarded", notice).verdict
    assert verdict.risk == "low", verdict
    claimed = {REASON_TOPICS.get(f.topic) for f in verdict.flags} | {REASON_TOPICS.get(t) for t in verdict.topics}
    assert claimed <= {None, reason}, (claimed, verdict)
    assert not verdict.learned_only


def test_a_fake_notice_that_asks_for_money_or_a_contact_is_still_an_ad(checker):
    for text in ("你好，我是游戏客服，您的游戏账号涉嫌违规交易已被冻结，需缴纳2000保证金才能解冻",
                 "【微信支付客服】您的帳戶因涉嫌洗錢已被限制，請聯繫專屬客服處理，否則將凍結名下所有資金",
                 "Your WeChat account has been suspended. Verify now at wechat-verify-center.com or it will be deleted"):
        verdict = checker.check_message(text)
        assert verdict.context == "ad" and verdict.risk != "low", (text, verdict)


@pytest.mark.parametrize("accept, notice, says", [
    ("zh-CN", "您的QQ账号因涉嫌违规操作，已被冻结，解冻时间2025-12-20", "解冻时间2025-12-20"),
    ("zh-TW", "您的QQ帳號因涉嫌違規操作，已被凍結，解凍時間2025-12-20", "解凍時間2025-12-20"),
    ("en-US", "Your QQ account has been frozen due to suspicious activity. Unfreeze time: 2025-12-20",
     "Unfreeze time: 2025-12-20"),
])
def test_the_web_checklist_reads_the_notice_back(matcher, checker, tmp_path, accept, notice, says):
    store = Store(tmp_path / "web.sqlite3")
    app = build_app(Conversation(matcher, checker, store), WebSettings())
    with TestClient(app, base_url="http://127.0.0.1", headers={"accept-language": accept}) as client:
        page = client.post("/banned", data={"platform": "qq", "notice": notice}).text
    store.close()
    assert says in page
    assert not re.search(r"别再替任何人验证|別再替任何人驗證|辅助注册|輔助註冊|微信按违规|微信按違規|WeChat's penalties", page)


def test_ban_notices_yaml_problems_name_the_file_and_reason(kb_copy):
    path = kb_copy / "ban_notices.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["reasons"]["spam"] = data["reasons"].pop("porn")
    data["term"]["patterns"].append("(a+)+$")
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(kb_copy)
    problems = info.value.problems
    assert all("ban_notices.yaml" in p for p in problems), problems
    assert any("reasons.spam" in p and "unknown reason" in p for p in problems)
    assert any("reasons.porn" in p and "missing" in p for p in problems)
    assert any("term" in p and "patterns" in p for p in problems)

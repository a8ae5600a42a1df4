"""Verdicts that fit the message: every pasted message gets one, its next step follows the flags and the medium.

A harmless message pasted on any channel gets a low verdict with what to watch
for, not the no-answer; an online job ad is not told about street stalls; no
flag label contradicts the words it quotes; an overseas "high pay" job ad warns
of scam compounds abroad. Simplified, Traditional and English throughout.
"""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from bot.conversation import Checked, Conversation, NoAnswer
from bot.knowledge import ANY_MEDIUM
from bot.render import render_verdict_html, render_verdict_text
from bot.store import Store
from bot.web.app import WebSettings, build_app

from .fake_bot_api import parse_html

HARMLESS = [
    ("明天晚上七点老地方吃火锅，记得带上小王，AA制", "zh"),
    ("明天晚上七點老地方吃火鍋，記得帶上小王，AA制", "zh-Hant"),
    ("Hotpot tomorrow at 7pm at the usual place, remember to bring Xiao Wang, we split the bill", "en"),
    ("【物业通知】本周六上午9点至12点停水，请提前储水", "zh"),
    ("週六上午十點在人民公園集合，帶好水和帽子", "zh-Hant"),
]
# Words to the bot, not messages passed on: they keep the honest no-answer.
TO_THE_BOT = ["谢谢", "今天天气怎么样", "想换个好记点的微信号，在哪改", "我想学做菜", "充電寶能帶上飛機嗎，多大容量可以",
              "部電話凍結咗唔郁，點重啟", "recommend a good sci-fi movie", "can foreigners use alipay",
              "帮我订一张明天去上海的火车票，联系电话13812345678"]


@pytest.fixture
def talk(matcher, checker, tmp_path):
    store = Store(tmp_path / "verdicts.sqlite3")
    yield Conversation(matcher, checker, store)
    store.close()


# -- a pasted message always gets a verdict --------------------------------------------


@pytest.mark.parametrize("text, lang", HARMLESS)
def test_a_harmless_pasted_message_gets_a_low_verdict_with_what_to_watch_for(talk, kb, text, lang):
    reply = talk.receive("paster", text)
    assert isinstance(reply, Checked), reply
    assert reply.verdict.risk == "low" and reply.lang == lang and reply.offer_question
    shown = render_verdict_text(kb, reply.verdict, lang)
    assert kb.text("check_low", lang) in shown and kb.text("check_next_low", lang) in shown
    assert kb.text("no_answer", lang) not in shown


@pytest.mark.parametrize("text", TO_THE_BOT)
def test_words_to_the_bot_keep_the_no_answer(talk, text):
    assert isinstance(talk.receive("asker", text), NoAnswer)


def test_the_harmless_message_gets_its_verdict_on_the_web_page(matcher, checker, tmp_path, kb):
    store = Store(tmp_path / "web.sqlite3")
    app = build_app(Conversation(matcher, checker, store), WebSettings())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        for text, lang in HARMLESS[:3]:
            page = client.post("/", data={"q": text}, headers={"accept-language": lang}).text
            assert 'class="verdict risk-low"' in page, text
            assert kb.text("no_answer", lang) not in page
    store.close()


def test_the_harmless_message_gets_its_verdict_on_telegram(bot_runner, kb):
    fake, _ = bot_runner
    for user, (text, lang) in enumerate(HARMLESS[:3], 8800):
        fake.private_message(user, text)
        [call] = fake.wait_for(lambda c, u=user: c.method == "sendMessage" and c.params["chat_id"] == u)
        visible, _ = parse_html(call.params["text"])
        assert visible.startswith(kb.text("check_low", lang)) and kb.text("check_next_low", lang) in visible


def test_the_harmless_message_gets_its_verdict_on_wechat(conversation_for_wechat, kb):
    from .test_wechat import WeChatServer, serve

    with serve(conversation_for_wechat) as client:
        server = WeChatServer(client)
        for i, (text, lang) in enumerate(HARMLESS[:3]):
            content = server.text(f"oPaster{i}", text)
            assert content.startswith(kb.text("check_low", lang)), content


@pytest.fixture
def conversation_for_wechat(matcher, checker, tmp_path):
    store = Store(tmp_path / "wechat.sqlite3")
    yield Conversation(matcher, checker, store)
    store.close()


# -- the next step follows the flags and the medium -------------------------------------


ONLINE_JOB_ADS = [
    ("【招聘】在家兼职，微信扫码辅助注册新号，一单30元，日结，加V：abc123", "zh"),
    ("【招聘】在家兼職，微信掃碼輔助註冊新號，一單30元，日結，加V：abc123", "zh-Hant"),
    ("Hiring: part-time job from home, scan QR codes to help register new WeChat accounts, 30 RMB per task, paid daily",
     "en"),
]


@pytest.mark.parametrize("text, lang", ONLINE_JOB_ADS)
def test_an_online_job_ad_is_not_told_about_street_stalls(checker, kb, text, lang):
    verdict = checker.check_message(text)
    assert verdict.risk == "high" and verdict.medium == "online"
    assert verdict.flags[0].id == "scan-verify-for-others"
    advice = verdict.next_step.advice.get(lang)
    assert not re.search(r"路边|路邊|摊位|攤位|roadside|stall", advice), advice
    flag = next(f for f in kb.red_flags.flags if f.id == "scan-verify-for-others")
    assert advice.startswith(flag.next_step["online"].get(lang))


@pytest.mark.parametrize("text, lang, medium, words", [
    ("商场门口做活动，扫码就送充电宝，帮微信新号辅助验证", "zh", "stall", "路边扫码推广"),
    ("商場門口做活動，掃碼就送充電寶，幫微信新號輔助驗證", "zh-Hant", "stall", "路邊掃碼推廣"),
    ("Free gift at the mall booth: scan this code with your WeChat to help a new account register", "en", "stall",
     "roadside code-scanning"),
    ("亲，帮我扫个码辅助验证一下，我刚注册的号", "zh", "dm", "当面确认"),
    ("親，幫我掃個碼輔助驗證一下，我剛註冊的號", "zh-Hant", "dm", "當面確認"),
    ("Hey, it's me, please scan this code to verify my new WeChat account", "en", "dm", "in person"),
    ("您好，您的包裹因地址不详被退回，详情请按1转人工查询", "zh", "call", "挂断"),
    ("您好，您的包裹因地址不詳被退回，詳情請按1轉人工查詢", "zh-Hant", "call", "結束通話"),  # 挂断 in Taiwan wording
    ("Your parcel is on hold at customs. Press 2 to speak to an officer", "en", "call", "Hang up"),
])
def test_the_next_step_speaks_to_the_medium(checker, text, lang, medium, words):
    verdict = checker.check_message(text)
    assert verdict.risk != "low" and verdict.medium == medium, verdict
    assert words in verdict.next_step.advice.get(lang)


def test_every_flag_has_a_next_step_for_every_medium_that_says_codes_and_110_once(checker, kb):
    media = [ANY_MEDIUM, *(m for m, _ in kb.red_flags.media)]
    for flag in kb.red_flags.flags:
        assert ANY_MEDIUM in flag.next_step, flag.id
        hit = [h for h in checker.check_message(flag.fires_on[0]).flags if h.id == flag.id]
        for medium in media:
            advice = checker.next_step("high", [flag.topic], hit, medium).advice
            assert advice.zh.count("验证码") == 1 and advice.zh.count("110") == 1, (flag.id, medium, advice.zh)
            assert len(re.findall(r"\b(verification|sms) codes?\b", advice.en.lower())) == 1, (flag.id, advice.en)
            assert advice.en.count("110") == 1, (flag.id, medium, advice.en)
            assert not re.search(r"[\u4e00-\u9fff]", advice.en.replace("110", "")), advice.en


# -- no flag label contradicts the words it quotes --------------------------------------


NEGATED = [
    ("每天动动手指帮人点解封，一天轻松三五百，不收任何费用", "paid-unsealing"),
    ("每天動動手指幫人點解封，一天輕鬆三五百，不收任何費用", "paid-unsealing"),
    ("Professional unsealing, no fees at all", "paid-unsealing"),
    ("我们不会索要你的验证码和密码", "code-or-id-request"),
    ("我們不會索要你的驗證碼和密碼", "code-or-id-request"),
    ("We never ask for your verification code", "code-or-id-request"),
    ("本群不收手机卡，也不收银行卡", "card-trade"),
    ("本群不收手機卡，也不收銀行卡", "card-trade"),
    ("We do not rent SIM cards", "card-trade"),
    ("我们不买卖账号", "account-trade"),
    ("我們不買賣帳號", "account-trade"),
    ("We don't buy or sell accounts", "account-trade"),
    ("不用扫码，也不用辅助验证", "scan-verify-for-others"),
    ("No deposit or fee needed, paid daily", "fee-first"),
    ("We will never ask you to share your screen", "screen-or-app-control"),
]
NEGATION = re.compile(r"不收|不會|不会|不用|不买|不買|无需|無需|任何|\bno\b|never|don.?t|do not", re.I)


@pytest.mark.parametrize("text, flag_id", NEGATED)
def test_a_negation_does_not_fire_the_flag_it_negates(checker, text, flag_id):
    verdict = checker.check_message(text)
    assert flag_id not in [h.id for h in verdict.flags], verdict.flags
    assert not [h for h in verdict.flags if NEGATION.search(h.trigger)], verdict.flags


@pytest.mark.parametrize("text, flag_id, trigger", [
    ("不收手机卡，只收银行卡，一张300", "card-trade", "收银行卡"),
    ("不收手機卡，只收銀行卡，一張300", "card-trade", "收銀行卡"),
    ("We don't buy accounts, we rent SIM cards, 300 RMB per month", "card-trade", "rent SIM cards"),
])
def test_after_a_negated_match_the_flag_still_finds_the_offer(checker, text, flag_id, trigger):
    hit = next((h for h in checker.check_message(text).flags if h.id == flag_id), None)
    assert hit is not None and hit.trigger == trigger


def test_the_unsealing_label_claims_no_fee():
    from bot.knowledge import load_knowledge

    flag = next(f for f in load_knowledge().red_flags.flags if f.id == "paid-unsealing")
    assert "付费" not in flag.label.zh and "paid" not in flag.label.en.lower()


# -- overseas job ads ----------------------------------------------------------------------


@pytest.mark.parametrize("text, lang, words", [
    ("高薪客服，东南亚包机票，月入过万", "zh", "诈骗窝点"),
    ("緬甸高薪客服，包吃住包機票，月入過萬", "zh-Hant", "詐騙窩點"),
    ("Customer service job in Cambodia, salary 3000 USD, free flights and housing", "en", "scam compounds abroad"),
])
def test_an_overseas_job_ad_warns_of_scam_compounds_not_of_unfreeze_fees(checker, kb, text, lang, words):
    verdict = checker.check_message(text)
    assert verdict.risk == "high" and verdict.flags[0].id == "overseas-job"
    advice = verdict.next_step.advice.get(lang)
    assert words in advice and re.search(r"缅甸|緬甸|Myanmar", advice)
    assert not re.search(r"解冻|解凍|提现|提現|unfreeze|withdraw", advice), advice
    label = verdict.flags[0].label.get(lang)
    assert re.search(r"诈骗团伙|詐騙團[伙夥]|詐騙集團|fraud gangs", label), label
    shown = parse_html(render_verdict_html(kb, verdict, lang))[0]
    assert words in shown


# -- a platform's own notice is not an ad --------------------------------------------------


@pytest.mark.parametrize("text, lang", [
    ("你的微信号因涉嫌参与赌博违规，已被限制登录", "zh"),
    ("你的微信號因涉嫌參與賭博違規，已被限制登錄", "zh-Hant"),
    ("Your account has been permanently banned for gambling.", "en"),
])
def test_a_forwarded_own_ban_notice_is_low_and_points_to_the_appeal(talk, kb, text, lang):
    reply = talk.check("forwarder", text, offer_question=True)
    verdict = reply.verdict
    assert verdict.context == "notice" and verdict.risk == "low" and not verdict.flags
    assert verdict.topics == ("ban-appeal",)
    shown = render_verdict_text(kb, verdict, lang)
    assert kb.text("check_context_notice", lang) in shown and kb.text("check_next_notice", lang) in shown


# A flag needs its essential part: a link alone asks no one to log in, verify or fill anything in;
# an event's entry fee is no pay-first job. The red flags alone must stay silent on these.
@pytest.mark.parametrize("text", [
    "访问 https://www.12306.cn/index/ 购票",
    "訪問 https://www.12306.cn/index/ 購票",
    "Visit https://www.damai.cn/ for the festival tickets",
    "打开 https://mp.weixin.qq.com/s/openday 查看校园开放日的安排",
    "5公里亲子跑报名费30元，含号码布和完赛奖牌，扫码填写报名表",
])
def test_a_link_or_an_entry_fee_alone_raises_no_red_flag(checker, text):
    verdict = checker.check_message(text)
    assert verdict.flags == (), verdict.flags


# ...while the request itself still does, after a link as before one, in every language.
@pytest.mark.parametrize("text, flag_id", [
    ("您的话费积分即将清零，请尽快点击 http://jf-1oo86.top 兑换现金礼品", "phishing-link"),
    ("您的話費積分即將清零，請盡快點擊 http://jf-1oo86.top 兌換現金禮品", "phishing-link"),
    ("请点击链接完成身份核验解除风险：http://weixin-anquan.help/verify", "phishing-link"),
    ("【12123】您有一条交通违法记录未处理，请点击 hx-12123.top 查询处理", "phishing-link"),
    ("【中国邮政】您的包裹地址不详，请于今日内访问 chinapost-cx.top 补充地址", "phishing-link"),
    ("Your account is locked. Go to http://wx-help.top to verify your identity", "phishing-link"),
    ("在吗，急事，借我3000，转到这个卡上，我现在不方便语音", "urgent-transfer"),
    ("在嗎，急事，借我3000，轉到這個卡上，我現在不方便語音", "urgent-transfer"),
    ("进口助兴水，无色无味，放饮料里就行，隐私发货", "contraband"),
    ("進口助興水，無色無味，放飲料裡就行，隱私發貨", "contraband"),
    ("Love potion drops, no prescription needed, discreet delivery", "contraband"),
])
def test_the_request_itself_still_raises_its_flag(checker, text, flag_id):
    verdict = checker.check_message(text)
    assert flag_id in [f.id for f in verdict.flags] and verdict.risk == "high", verdict


def test_a_heading_that_says_reminder_does_not_make_phishing_a_warning(checker):
    phishing = checker.check_message("积分兑换提醒\n【积分兑换】您的积分即将清零，请尽快点击 http://jf-1oo86.top 兑换礼品")
    assert phishing.context == "ad" and phishing.risk == "high"
    warning = checker.check_message("提醒大家：有人冒充客服发链接 http://jf-1oo86.top 让人兑换积分，千万别点")
    assert warning.risk == "low"


@pytest.mark.parametrize("text", [
    "在吗？我这边出了点事急用钱，你先转我2000到这个卡上，明天一早就还你，千万别跟我妈说",
    "在嗎？我這邊出了點事急用錢，你先轉我2000到這個卡上，明天一早就還你，千萬別跟我媽說",
])
def test_asking_to_keep_a_transfer_secret_is_no_warning(checker, text):
    """"Don't tell mum" is the scammer's secrecy, not a warning to the reader."""
    verdict = checker.check_message(text)
    assert verdict.context == "ad" and verdict.risk == "high", verdict
    assert checker.check_message("千万别信，这是骗子发的").risk == "low"

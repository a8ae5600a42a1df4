"""The WeChat Official Account endpoint, spoken to as WeChat's servers do: signed (and encrypted) XML built with wechatpy."""

from __future__ import annotations

import base64
import dataclasses
import itertools
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest
import xmltodict
from starlette.testclient import TestClient
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from bot.config import Config, load_config
from bot.conversation import Conversation
from bot.errors import UserError
from bot.knowledge import Localized
from bot.languages import converter
from bot.render import fit_utf8, render_card_short_text, utf8_len
from bot.store import Store
from bot.web.app import WebSettings, build_app
from bot.web.wechat import MAX_REPLY_BYTES, WeChatChannel, wechat_endpoint

from .conftest import ROOT

TOKEN = "t0ken-of-the-account"
APP_ID = "wx5823bf96d3bd56c7"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters, as the console shows it
ACCOUNT = "gh_3d0b5e0a1f2c"
PUBLIC = "https://help.example.org"
_counter = itertools.count(1)


def settings(**values) -> Config:
    config = load_config(None, environ={})
    return Config({**config.values, "wechat.token": TOKEN, **values}, "test")


def signature(*parts: str) -> str:
    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(sender: str, msg_type: str, msg_id: int | None = None, created: int | None = None, **fields) -> str:
    """A message or event as WeChat posts it."""
    created = created or int(time.time())
    body = "".join(f"<{name}>{cdata(value)}</{name}>" for name, value in fields.items())
    msg_id_xml = f"<MsgId>{msg_id}</MsgId>" if msg_id is not None else ""
    return (f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName><FromUserName>{cdata(sender)}</FromUserName>"
            f"<CreateTime>{created}</CreateTime><MsgType>{cdata(msg_type)}</MsgType>{body}{msg_id_xml}</xml>")


class WeChatServer:
    """WeChat's side of the account: signs every request and, in the encrypted mode, encrypts the body."""

    def __init__(self, client: TestClient, token: str = TOKEN, crypto: WeChatCrypto | None = None) -> None:
        self.client = client
        self.token = token
        self.crypto = crypto

    def params(self, **extra: str) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), str(next(_counter) * 7919)
        return {"signature": signature(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce, **extra}

    def verify(self, echostr: str = "echo-5734"):
        return self.client.get("/wechat", params=self.params(echostr=echostr))

    def post(self, xml: str | bytes, plain_beside: str | None = None, **extra: str):
        """POST a body; encrypted, it carries only Encrypt, or (compatible mode) `plain_beside`'s fields too."""
        params = self.params(openid="o-any", **extra)
        if self.crypto is not None:
            envelope = xmltodict.parse(self.crypto.encrypt_message(xml, params["nonce"], params["timestamp"]))["xml"]
            params.update(encrypt_type="aes", msg_signature=envelope["MsgSignature"])
            encrypt = f"<Encrypt>{cdata(envelope['Encrypt'])}</Encrypt>"
            xml = (plain_beside.replace("</xml>", encrypt + "</xml>") if plain_beside
                   else f"<xml><ToUserName>{cdata(ACCOUNT)}</ToUserName>{encrypt}</xml>")
        return self.client.post("/wechat?" + urllib.parse.urlencode(params), content=xml,
                                headers={"Content-Type": "text/xml"})

    def reply(self, response) -> dict:
        """The passive reply's fields, checked to be a text reply from the account."""
        assert response.status_code == 200, response.text
        xml = response.text
        if self.crypto is not None:
            envelope = xmltodict.parse(xml)["xml"]
            xml = self.crypto.decrypt_message(xml, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
        fields = xmltodict.parse(xml)["xml"]
        assert fields["MsgType"] == "text" and fields["FromUserName"] == ACCOUNT
        assert utf8_len(fields["Content"]) <= MAX_REPLY_BYTES
        return fields

    def text(self, sender: str, content: str, msg_id: int | None = None) -> str:
        """Send a text message; the reply's content."""
        msg_id = msg_id or next(_counter) + 6_000_000_000_000_000_000
        fields = self.reply(self.post(message_xml(sender, "text", msg_id, Content=content)))
        assert fields["ToUserName"] == sender
        return fields["Content"]


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "wechat.sqlite3")
    yield store
    store.close()


@pytest.fixture
def conversation(matcher, checker, store):
    return Conversation(matcher, checker, store)


def serve(conversation, **config) -> TestClient:
    endpoint = wechat_endpoint(conversation, settings(**config), PUBLIC)
    return TestClient(build_app(conversation, WebSettings(public_url=PUBLIC), wechat=endpoint),
                      base_url="http://127.0.0.1")


@pytest.fixture
def wechat(conversation):
    with serve(conversation) as client:
        yield WeChatServer(client)


# -- signatures --------------------------------------------------------------------------------


def test_server_verification_echoes_echostr_only_with_a_good_signature(wechat):
    good = wechat.verify("4921837465")
    assert good.status_code == 200 and good.text == "4921837465"
    assert good.headers["content-type"].startswith("text/plain")
    params = wechat.params(echostr="4921837465")
    bad = wechat.client.get("/wechat", params={**params, "signature": "0" * 40})
    assert bad.status_code == 400 and "4921837465" not in bad.text
    other_token = WeChatServer(wechat.client, token="another-token").verify()
    assert other_token.status_code == 400
    assert wechat.client.get("/wechat", params={"echostr": "1"}).status_code == 400
    # A signature is no use with another timestamp (a replayed URL with a new time).
    assert wechat.client.get("/wechat", params={**params, "timestamp": str(int(params["timestamp"]) + 1)}).status_code == 400


def test_an_unsigned_or_wrongly_signed_post_is_refused_and_not_read(wechat, store):
    xml = message_xml("oUser0001", "text", 101, Content="今天天气怎么样")
    assert wechat.client.post("/wechat", content=xml).status_code == 400
    assert WeChatServer(wechat.client, token="guess").post(xml).status_code == 400
    params = wechat.params()
    forged = wechat.client.post("/wechat?" + urllib.parse.urlencode({**params, "nonce": params["nonce"] + "1"}),
                                content=xml)
    assert forged.status_code == 400
    store.flush()
    assert store.top_unanswered() == []


def signed_query(timestamp: int | str, nonce: str, token: str = TOKEN, **extra: str) -> str:
    return urllib.parse.urlencode({"signature": signature(token, str(timestamp), nonce), "timestamp": str(timestamp),
                                   "nonce": nonce, **extra})


def test_a_signed_url_is_good_once_and_only_near_its_time(wechat, store, kb):
    """A captured request cannot be replayed, nor used to post another message from anyone."""
    now = int(time.time())
    xml = message_xml("oUser0101", "text", 7_700_001, Content="今天天气怎么样")
    query = signed_query(now, "replay-1")
    first = wechat.client.post("/wechat?" + query, content=xml)
    assert wechat.reply(first)["Content"].startswith(kb.text("no_answer_first", "zh"))
    # The same URL with another body: another follower, another message (the plain mode's body is not signed).
    for sender in ("oForged01", "oForged02", "oForged03"):
        forged = wechat.client.post("/wechat?" + query, content=message_xml(sender, "text", 7_700_002,
                                                                            Content="我家的猫不吃饭怎么办"))
        assert forged.status_code == 400
    # The same request again (a resend, or a replay) is answered as before, and is no new step.
    assert wechat.client.post("/wechat?" + query, content=xml).text == first.text
    # Signed long ago (2001), or too far from now either way: refused before anything is read.
    for when in (978_307_200, now - 310, now + 310):
        stale = wechat.client.post("/wechat?" + signed_query(when, f"stale-{when}"),
                                   content=message_xml("oUser0102", "text", 7_700_003, Content="我家的猫不吃饭怎么办"))
        assert stale.status_code == 400, when
    assert wechat.client.get("/wechat?" + signed_query(978_307_200, "old-echo", echostr="55")).status_code == 400
    near = wechat.client.post("/wechat?" + signed_query(now - 290, "near-1"),
                              content=message_xml("oUser0103", "text", 7_700_004, Content="今天天气怎么样"))
    assert near.status_code == 200
    store.flush()
    assert store.top_unanswered() == [("今天天气怎么样", 2)]  # the first message and the near one, nothing else


def test_every_refusal_is_the_same_400_and_names_no_exception(conversation):
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    other_app = WeChatCrypto(TOKEN, AES_KEY, "wx0000000000000000")
    with serve(conversation, **{"wechat.app_id": APP_ID, "wechat.encoding_aes_key": AES_KEY}) as client:
        server = WeChatServer(client, crypto=crypto)
        message = message_xml("oUser0104", "text", 7_800_001, Content="微信被封了怎么申诉")
        refusals = {
            "bad signature": client.post("/wechat?" + urllib.parse.urlencode(
                {**server.params(), "signature": "0" * 40}), content=message),
            "stale": client.post("/wechat?" + signed_query(978_307_200, "n1", encrypt_type="aes"), content=message),
            "plain in encrypted mode": WeChatServer(client).post(message),
            "bad msg_signature": client.post("/wechat?" + urllib.parse.urlencode(
                server.params(encrypt_type="aes", msg_signature="0" * 40)),
                content=f"<xml><Encrypt>{cdata('AAAA')}</Encrypt></xml>"),
        }
        for name, body in (("not base64", "%%%%"), ("not our key", "bm90IGFlcw=="),
                           ("another AppID", xmltodict.parse(other_app.encrypt_message(message, "n", "1"))["xml"]["Encrypt"])):
            params = server.params(encrypt_type="aes")
            params["msg_signature"] = signature(TOKEN, params["timestamp"], params["nonce"], body)
            refusals[name] = client.post("/wechat?" + urllib.parse.urlencode(params),
                                         content=f"<xml><Encrypt>{cdata(body)}</Encrypt></xml>")
        params = server.params(encrypt_type="aes")
        envelope = xmltodict.parse(crypto.encrypt_message("<xml><a>", params["nonce"], params["timestamp"]))["xml"]
        params["msg_signature"] = envelope["MsgSignature"]
        refusals["not XML inside"] = client.post("/wechat?" + urllib.parse.urlencode(params),
                                                 content=f"<xml><Encrypt>{cdata(envelope['Encrypt'])}</Encrypt></xml>")
        answers = {name: (r.status_code, r.text) for name, r in refusals.items()}
        assert set(answers.values()) == {(400, "invalid request")}, answers
        # The same message, sent as WeChat sends it, is answered.
        assert f"{PUBLIC}/t/ban-appeal" in server.reply(server.post(message))["Content"]


# -- what followers get ------------------------------------------------------------------------


def test_a_question_gets_the_short_card_and_a_link_to_the_full_card(wechat, kb):
    started = time.perf_counter()
    content = wechat.text("oUser0002", "我的微信号被封了，怎么申诉？")
    elapsed = time.perf_counter() - started
    topic = kb.topics["ban-appeal"]
    # The direct answer comes first, then the card's title and channels.
    assert content.startswith(topic.first.zh + "\n\n【" + topic.title.zh + "】")
    qq_path = next(p for p in topic.official_paths if p.platform == "qq")  # a QQ reader is not left with WeChat menus only
    assert topic.official_paths[0].name.zh in content and qq_path.name.zh in content
    assert f"{PUBLIC}/t/ban-appeal" in content
    assert "被封清单" in content  # the card offers the checklist by its WeChat word
    assert topic.answer.zh.strip() not in content  # the short form, not the whole card
    assert elapsed < 1.0
    # The link is the page the same app serves.
    assert wechat.client.get("/t/ban-appeal").status_code == 200


def test_traditional_chinese_is_answered_in_traditional(wechat, kb):
    content = wechat.text("oUser0003", "我的微信帳號被封了，怎麼申訴？")
    title = kb.topics["ban-appeal"].title.get("zh-Hant")
    assert f"\n【{title}】" in content and "申訴" in content
    assert converter("t2s").convert(content) != content
    assert "申诉" not in content and "账号" not in content


def test_english_is_answered_in_english(wechat, kb):
    content = wechat.text("oUser0004", "My WeChat account was banned, how do I appeal?")
    assert f"\n【{kb.topics['ban-appeal'].title.en}】" in content
    assert f"Full answer: {PUBLIC}/t/ban-appeal" in content


def test_a_pasted_ad_gets_a_verdict_with_its_red_flags_and_next_step(wechat, kb):
    content = wechat.text("oUser0005", "高价收购手机卡，一张200，当天结算，联系V：abc123")
    assert content.startswith(kb.text("check_high", "zh"))
    assert kb.text("check_flags", "zh") in content and "“" in content
    assert f"{kb.text('check_next', 'zh')}: " in content
    assert "110" in content and f"{PUBLIC}/t/sell-sim-card" in content
    harmless = wechat.text("oUser0005", "/check 明天下午三点开会，记得带电脑")
    assert harmless.startswith(kb.text("check_low", "zh"))


# Questions the matcher is unsure about: it offers "did you mean" choices.
UNSURE = ("扣扣被冻结了 咋解风", "解封要找好友辅助验证，可我好友都不在身边咋整", "发现一个QQ群专门卖违禁品", "解封", "钱", "解封号",
          "封号", "账号出问题了")


def test_numbered_choices_then_a_number_opens_that_card(wechat, conversation, kb):
    from bot.conversation import Choices

    unsure = [q for q in UNSURE if isinstance(conversation.receive("wx:probe", q), Choices)]
    assert unsure, "no question of UNSURE gets choices any more: pick one that does"
    content = wechat.text("oUser0006", unsure[0])
    lines = content.splitlines()
    # The likeliest topic's first lines first, then the numbered choices.
    assert lines[0].startswith(kb.text("first_suggest", "zh").split("{")[0]) and lines[-1] == kb.text("reply_with_number", "zh")
    options = lines[lines.index(kb.text("did_you_mean", "zh")) + 1:-1]
    assert len(options) >= 2 and all(line.startswith(f"{i}. ") for i, line in enumerate(options, 1))
    second_title = options[1][3:]
    picked = wechat.text("oUser0006", "2")
    assert f"\n【{second_title}】" in picked
    # Another follower's "2" picks nothing.
    assert not wechat.text("oUser0007", "2").startswith("【")


def test_every_banned_checklist_fits_a_reply_with_its_reason(conversation, kb):
    # The reason step is the part written for this reader: no platform, reason or script may lose it to the cut.
    from bot.conversation import PLATFORMS, REASONS
    from bot.render import render_checklist_short_text

    for lang, platform, reason in itertools.product(("zh", "zh-Hant", "zh-HK", "en"), PLATFORMS, REASONS):
        checklist = conversation.checklist(platform, reason, lang)
        text = render_checklist_short_text(kb, checklist, PUBLIC, MAX_REPLY_BYTES)
        assert checklist.reason_text in text and "\n…\n" not in text, (lang, platform, reason)


def test_the_banned_checklist_by_numbers_and_its_cancel_word(wechat, kb):
    ask = wechat.text("oUser0008", "被封清单")
    assert ask.splitlines()[0] == kb.text("banned_ask_platform", "zh") + kb.text("banned_cancel_hint", "zh")
    assert "1. 微信 WeChat" in ask and "2. QQ" in ask
    reasons = wechat.text("oUser0008", "1")
    assert reasons.splitlines()[0] == kb.text("banned_ask_notice", "zh")
    assert f"2. {kb.text('banned_notice_gambling', 'zh')}" in reasons
    done = wechat.text("oUser0008", "2")
    assert done.startswith(kb.text("banned_first", "zh") + "\n【")
    for key in ("banned_step_appeal", "banned_step_money", "banned_step_reason", "banned_reason_gambling"):
        assert kb.text(key, "zh") in done, key
    assert "weixin110.qq.com" in done and f"{PUBLIC}/t/ban-appeal" in done
    # Started again with /banned, stopped with the cancel word: a number is then no answer to it.
    assert wechat.text("oUser0008", "/banned").splitlines()[0].startswith(kb.text("banned_ask_platform", "zh"))
    assert wechat.text("oUser0008", "取消") == kb.text("flow_cancelled", "zh")
    assert kb.text("banned_ask_notice", "zh") not in wechat.text("oUser0008", "1")
    assert wechat.text("oUser0008", "取消") == kb.text("flow_nothing_to_cancel", "zh")
    # The words work in the script the hints were written in.
    traditional = wechat.text("oUser0009", "被封清單")
    assert traditional.splitlines()[0].startswith(kb.text("banned_ask_platform", "zh-Hant"))


def test_the_menu_says_how_to_ask_and_lists_every_topic(wechat, kb):
    for word, lang in (("菜单", "zh"), ("menu", "en"), ("選單", "zh-Hant"), ("?", "zh")):
        content = wechat.text("oUser0010", word)
        assert "{" not in content, content
        for topic in kb.topics.values():
            assert topic.title.get(lang) in content, (word, topic.id)
    # A number then opens that topic, in the menu's language; a title asked back opens its card too.
    number = list(kb.topics).index("sell-sim-card") + 1
    wechat.text("oUser0010", "menu")
    assert f"\n【{kb.topics['sell-sim-card'].title.en}】" in wechat.text("oUser0010", str(number))
    title = kb.topics["ban-appeal"].title.zh
    assert f"\n【{title}】" in wechat.text("oUser0010", title)


def test_something_the_bot_does_not_know_gets_the_honest_no_answer_with_110(wechat, kb):
    content = wechat.text("oUser0011", "今天天气怎么样")
    assert content.startswith(kb.text("no_answer_first", "zh"))
    assert "110" in content and "96110" in content and "菜单" in content


def test_subscribing_gets_the_welcome_and_unsubscribing_gets_success(wechat):
    reply = wechat.reply(wechat.post(message_xml("oUser0012", "event", Event="subscribe")))
    welcome = reply["Content"]
    assert reply["ToUserName"] == "oUser0012"
    assert "账号安全助手" in welcome and "被封清单" in welcome and "菜单" in welcome
    assert not re.search(r"/[a-z]", welcome) and "{" not in welcome  # no Telegram commands, no unfilled words
    gone = wechat.post(message_xml("oUser0012", "event", Event="unsubscribe"))
    assert gone.status_code == 200 and gone.text == "success"


def test_a_voice_message_is_answered_by_its_recognition(wechat, kb):
    heard = wechat.reply(wechat.post(message_xml("oUser0013", "voice", 9001, MediaId="m1", Format="amr",
                                                 Recognition="微信被封了里面的零钱怎么取出来")))
    assert f"\n【{kb.topics['banned-funds-withdrawal'].title.zh}】" in heard["Content"]
    silent = wechat.reply(wechat.post(message_xml("oUser0013", "voice", 9002, MediaId="m2", Format="amr",
                                                  Recognition="")))
    assert silent["Content"] == kb.text("wechat_voice_empty", "zh")


@pytest.mark.parametrize("msg_type, fields", [
    ("link", {"Title": "收手机卡", "Description": "日结", "Url": "http://x.example"}),
    ("location", {"Location_X": "23.1", "Location_Y": "113.3", "Scale": "20", "Label": "广州"}),
    ("event", {"Event": "CLICK", "EventKey": "menu_1"}),
])
def test_anything_but_text_voice_and_pictures_gets_the_hint_that_the_account_reads_text(wechat, kb, msg_type, fields):
    msg_id = 9100 + len(msg_type) if msg_type != "event" else None
    reply = wechat.reply(wechat.post(message_xml("oUser0014", msg_type, msg_id, **fields)))
    assert reply["Content"] == kb.text("wechat_hint", "zh").replace("{menu}", "菜单")


def test_notifications_no_one_sent_get_no_reply(wechat):
    for event in ("TEMPLATESENDJOBFINISH", "LOCATION", "VIEW"):
        response = wechat.post(message_xml("oUser0015", "event", Event=event))
        assert response.status_code == 200 and response.text == "success"


def test_a_resent_message_gets_the_same_reply_without_a_second_conversation_step(wechat, conversation, store,
                                                                                     monkeypatch):
    steps = []
    receive = conversation.receive
    monkeypatch.setattr(conversation, "receive", lambda *a, **k: steps.append(a) or receive(*a, **k))
    xml = message_xml("oUser0016", "text", 7_000_001, Content="我家的猫不吃饭怎么办")
    first = wechat.post(xml)
    resends = [wechat.post(xml) for _ in range(3)]  # WeChat resends after 5 s, three times
    assert all(r.text == first.text for r in resends)  # the same XML, CreateTime included
    assert len(steps) == 1
    store.flush()
    assert store.top_unanswered() == [("我家的猫不吃饭怎么办", 1)]
    # The same words in a new message are a new step.
    wechat.post(message_xml("oUser0016", "text", 7_000_002, Content="我家的猫不吃饭怎么办"))
    assert len(steps) == 2
    # Events have no MsgId: a resent subscribe (same sender and CreateTime) is one event.
    event = message_xml("oUser0016", "event", created=1_700_000_000, Event="subscribe")
    assert wechat.post(event).text == wechat.post(event).text


def test_a_crash_while_answering_is_logged_and_answered_success(wechat, conversation, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("bug under test")

    monkeypatch.setattr(conversation, "receive", broken)
    with caplog.at_level(logging.ERROR, logger="bot.web.wechat"):
        response = wechat.post(message_xml("oUser0017", "text", 7_100_001, Content="微信被封了怎么办"))
    assert response.status_code == 200 and response.text == "success"
    assert any(r.exc_info and "bug under test" in str(r.exc_info[1]) for r in caplog.records)


def test_one_follower_sending_too_fast_is_paused(wechat, kb):
    replies = [wechat.post(message_xml("oUser0018", "text", 7_200_000 + i, Content=f"问题{i}")) for i in range(10)]
    assert all(r.status_code == 200 for r in replies)
    assert wechat.reply(replies[8])["Content"] == kb.text("rate_limited", "zh")
    assert replies[9].text == "success"
    # Others are not held up by one sender.
    assert "\n【" in wechat.text("oUser0019", "微信被封了怎么申诉")


# -- encrypted and compatible modes ------------------------------------------------------------


def test_the_encrypted_mode_round_trip(conversation, kb):
    crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
    with serve(conversation, **{"wechat.app_id": APP_ID, "wechat.encoding_aes_key": AES_KEY}) as client:
        server = WeChatServer(client, crypto=crypto)
        assert server.verify("88").text == "88"
        response = server.post(message_xml("oUser0020", "text", 7_300_001, Content="微信被封了里面的零钱还能取出来吗"))
        assert "<Encrypt>" in response.text and "零钱" not in response.text
        content = server.reply(response)["Content"]
        assert f"\n【{kb.topics['banned-funds-withdrawal'].title.zh}】" in content
        # A body encrypted by someone without the key, or with a forged msg_signature, is refused.
        params = server.params(encrypt_type="aes", msg_signature="0" * 40)
        forged = client.post("/wechat?" + urllib.parse.urlencode(params),
                             content=f"<xml><Encrypt>{cdata('AAAA')}</Encrypt></xml>")
        assert forged.status_code == 400
        params = server.params(encrypt_type="aes")
        params["msg_signature"] = signature(TOKEN, params["timestamp"], params["nonce"], "bm90IGFlcw==")
        garbled = client.post("/wechat?" + urllib.parse.urlencode(params),
                              content=f"<xml><Encrypt>{cdata('bm90IGFlcw==')}</Encrypt></xml>")
        assert garbled.status_code == 400
        # Compatible mode: plain fields beside Encrypt; the encrypted ones are the message.
        compatible = server.post(message_xml("oUser0020", "text", 7_300_002, Content="今天天气怎么样"),
                                 plain_beside=message_xml("oUser0020", "text", 7_300_002, Content="被封了怎么申诉"))
        assert server.reply(compatible)["Content"].startswith(kb.text("no_answer_first", "zh"))
        # With a key set, a plain request (no encrypt_type=aes) is not read: it skips the message signature.
        plain = WeChatServer(client).post(message_xml("oUser0021", "text", 7_300_003, Content="今天天气怎么样"))
        assert (plain.status_code, plain.text) == (400, "invalid request")


def test_compatible_mode_without_the_key_reads_the_plain_fields(wechat, kb):
    params = wechat.params(encrypt_type="aes", msg_signature="f" * 40)
    xml = message_xml("oUser0022", "text", 7_400_001, Content="微信被封了怎么申诉").replace(
        "</xml>", f"<Encrypt>{cdata('c29tZXRoaW5n')}</Encrypt></xml>")
    response = wechat.client.post("/wechat?" + urllib.parse.urlencode(params), content=xml)
    assert f"\n【{kb.topics['ban-appeal'].title.zh}】" in wechat.reply(response)["Content"]


@pytest.mark.parametrize("values, message", [
    ({"wechat.encoding_aes_key": AES_KEY}, "wechat.app_id is empty"),
    ({"wechat.encoding_aes_key": AES_KEY[:40], "wechat.app_id": APP_ID}, "43 characters"),
    ({"wechat.encoding_aes_key": "!" * 43, "wechat.app_id": APP_ID}, "not a valid EncodingAESKey"),
])
def test_a_misconfigured_encrypted_mode_is_one_clear_error(conversation, values, message):
    with pytest.raises(UserError, match=message):
        wechat_endpoint(conversation, settings(**values), PUBLIC)


# -- hostile bodies ----------------------------------------------------------------------------


def test_a_body_over_64_kb_is_refused(wechat):
    big = message_xml("oUser0023", "text", 7_500_001, Content="封" * 24_000)  # 72 KB of UTF-8
    assert len(big.encode()) > 70_000
    assert wechat.post(big).status_code == 413


@pytest.mark.parametrize("body", [
    b"<xml><ToUserName>",
    b"not xml at all",
    b"",
    b"\xff\xfe<xml/>",
    b"<root><MsgType>text</MsgType></root>",
    b"<xml><FromUserName>o1</FromUserName><Content>hi</Content></xml>",
    message_xml("o<script>", "text", 1, Content="hi").encode(),
    message_xml("oUser0024", "text", 1, Content="hi").replace("<Content>", "<Content><b>x</b>").encode(),
    message_xml("oUser0024", "text", 1, Content="hi").replace("<MsgId>1", "<MsgId>x1").encode(),
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    b"<xml><MsgType>text</MsgType><Content>&b;</Content></xml>",
])
def test_a_malformed_body_is_a_400_never_a_traceback(wechat, body, caplog):
    with caplog.at_level(logging.INFO):
        response = wechat.post(body)
    assert response.status_code == 400
    assert not any(r.exc_info for r in caplog.records)


def test_text_with_xml_end_markers_survives_the_reply(wechat, conversation):
    channel = WeChatChannel(conversation, settings(), PUBLIC)
    message = parse_message(message_xml("oUser0025", "text", 1, Content="x"))
    xml = channel.text_reply(message, "a]]><MsgType>image</MsgType>\x01b")
    fields = xmltodict.parse(xml)["xml"]
    assert fields["Content"] == "a]]><MsgType>image</MsgType>b" and fields["MsgType"] == "text"


# -- fitting 2,048 bytes -----------------------------------------------------------------------


def test_long_text_is_cut_at_a_line_and_keeps_its_tail():
    text = "\n".join(f"第{i}行：" + "封号申诉" * 20 for i in range(40))
    tail = f"完整解答: {PUBLIC}/t/ban-appeal"
    cut = fit_utf8(text, MAX_REPLY_BYTES, tail)
    assert utf8_len(cut) <= MAX_REPLY_BYTES and cut.endswith(tail)
    kept = cut[: -len(tail)].rstrip("\n").removesuffix("…").rstrip("\n").split("\n")
    assert kept == text.split("\n")[: len(kept)] and 5 < len(kept) < 40
    # One line longer than the limit is cut inside, but never inside a character.
    one = fit_utf8("🧭封" * 1000, 100)
    assert utf8_len(one) <= 100 and one.encode().decode() == one and one.startswith("🧭封")
    assert fit_utf8("short", 100, "tail") == "short\ntail"


def test_an_overlong_card_is_cut_to_fit_and_keeps_its_link(kb):
    topic = kb.topics["ban-appeal"]
    long_path = dataclasses.replace(topic.official_paths[0], how=Localized("步骤说明。" * 150, "step. " * 300))
    huge = dataclasses.replace(topic, summary=Localized("摘要" * 100, "summary " * 100),
                               official_paths=(long_path, long_path))
    for lang in ("zh", "en"):
        text = render_card_short_text(kb, huge, lang, f"{PUBLIC}/t/ban-appeal", ("hint",), MAX_REPLY_BYTES)
        assert utf8_len(text) <= MAX_REPLY_BYTES
        assert text.endswith(f"{PUBLIC}/t/ban-appeal") and "hint" in text
        assert text.startswith(topic.first.get(lang) + "\n\n【")


def test_every_card_fits_a_reply_uncut(conversation, kb):
    channel = WeChatChannel(conversation, settings(), PUBLIC)
    from bot.conversation import Card

    for topic in kb.topics.values():
        for lang in ("zh", "zh-Hant", "en"):
            text = channel.render(Card(topic, lang))
            assert utf8_len(text) <= MAX_REPLY_BYTES and "\n…" not in text, (topic.id, lang)
            # The link opens the card in the reply's language and script.
            assert text.endswith(f"{PUBLIC}/t/{topic.id}?lang={lang}")


# -- the real server ---------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_web_server_answers_a_signed_wechat_message_within_5_seconds(tmp_path):
    port = free_port()
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'bot.sqlite3'}\nweb:\n  public_url: {PUBLIC}\n"
                      f"wechat:\n  token: {TOKEN}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECHAT_"))}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "bot", "web", "--config", str(config), "--host", "127.0.0.1",
                             "--port", str(port)], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2).read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
                assert time.monotonic() < deadline, "the server did not start in 60 s"
                time.sleep(0.2)

        def query(**extra) -> str:
            timestamp, nonce = str(int(time.time())), str(next(_counter) * 104729)
            return urllib.parse.urlencode({"signature": signature(TOKEN, timestamp, nonce), "timestamp": timestamp,
                                           "nonce": nonce, **extra})

        echo = urllib.request.urlopen(f"{base}/wechat?{query(echostr='31415')}", timeout=5)
        assert echo.read() == b"31415"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"{base}/wechat?signature=bad&timestamp=1&nonce=2&echostr=31415", timeout=5)
        assert refused.value.code == 400
        xml = message_xml("oProcess01", "text", 7_600_001, Content="微信被封了怎么申诉")
        request = urllib.request.Request(f"{base}/wechat?{query(openid='oProcess01')}", data=xml.encode(),
                                         headers={"Content-Type": "text/xml"})
        started = time.perf_counter()
        body = urllib.request.urlopen(request, timeout=5).read()
        elapsed = time.perf_counter() - started
        fields = xmltodict.parse(body)["xml"]
        assert elapsed < 5.0
        assert fields["MsgType"] == "text" and fields["ToUserName"] == "oProcess01"
        assert utf8_len(fields["Content"]) <= MAX_REPLY_BYTES and f"{PUBLIC}/t/ban-appeal" in fields["Content"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert "Traceback" not in err.decode()


def test_a_step_that_cannot_be_saved_is_not_confirmed_and_a_resend_is_answered_afresh(matcher, checker, tmp_path, kb):
    from .test_web_abuse import FullDisk

    store = FullDisk(tmp_path / "full.sqlite3")
    try:
        with serve(Conversation(matcher, checker, store)) as client:
            server = WeChatServer(client)
            assert server.text("oDisk0000", "被封清单").startswith(kb.text("banned_ask_platform", "zh"))
            store.fill()
            not_saved = kb.text("web_not_saved", "zh")
            for i in range(1, 400):  # until a step needs a page the database may not have
                xml = message_xml(f"oDisk{i:04d}", "text", 7_900_000 + i, Content="被封清单")
                reply = server.reply(server.post(xml))["Content"]
                if reply == not_saved:
                    break
            assert reply == not_saved, "the database never filled up: the test proves nothing"
            store.writer_db.execute("PRAGMA max_page_count = 1073741823")  # room again
            deadline = time.monotonic() + 30
            while store.status()["failing"] and time.monotonic() < deadline:
                time.sleep(0.1)
            store.confirmation().result(timeout=20)
            # WeChat resends a message whose reply was "not saved": it is answered, not replayed from memory.
            assert server.reply(server.post(xml))["Content"].startswith(kb.text("banned_ask_platform", "zh"))
    finally:
        store.writer_db.execute("PRAGMA max_page_count = 1073741823")
        store.close()

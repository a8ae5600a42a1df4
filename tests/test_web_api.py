"""The web channel over HTTP: the JSON API, the pages without JavaScript, limits and headers."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from bot.conversation import Conversation
from bot.store import Store
from bot.web.app import WebSettings, accepted_language, build_app


@pytest.fixture
def web(matcher, checker, tmp_path):
    store = Store(tmp_path / "web.sqlite3")
    app = build_app(Conversation(matcher, checker, store), WebSettings(rate_requests=20, rate_window=60.0))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, store
    store.close()


def test_api_ask_is_the_json_of_ask_json(web):
    client, _ = web
    response = client.post("/api/ask", json={"q": "微信被封了怎么申诉"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"topic", "decision", "situation", "first", "score", "title", "answer", "alternatives", "lang"}
    assert body["topic"] == "ban-appeal" and body["lang"] == "zh"
    traditional = client.post("/api/ask", json={"q": "微信被封了怎么申诉", "lang": "zh-Hant"}).json()
    assert traditional["lang"] == "zh-Hant" and "申訴" in traditional["answer"]


def test_api_check_is_the_json_of_check_message_json(web):
    client, _ = web
    body = client.post("/api/check", json={"text": "高价收购手机卡，一张200，当天结算，联系V：abc123"}).json()
    assert body["risk"] == "high" and body["flags"] and body["next_step"]["report"]
    assert client.post("/api/check", json={"text": "明天开会"}).json()["risk"] == "low"


@pytest.mark.parametrize("path, payload", [
    ("/api/ask", b"{not json"),
    ("/api/ask", b'{"question": "wrong field"}'),
    ("/api/ask", b'["a list"]'),
    ("/api/check", b'{"text": 42}'),
    ("/api/ask", b'{"q": "hi", "lang": "klingon"}'),
    ("/api/ask", b"\xff\xfe\x00garbage"),
])
def test_bad_json_is_a_400_with_a_json_error(web, path, payload):
    client, _ = web
    response = client.post(path, content=payload, headers={"content-type": "application/json"})
    assert response.status_code == 400 and "error" in response.json()


def test_bodies_over_64_kb_are_refused(web):
    client, _ = web
    big = json.dumps({"q": "封" * (2 * 1024 * 1024 // 3)}).encode()
    assert client.post("/api/ask", content=big).status_code == 413
    assert client.post("/", content=b"q=" + b"a" * 70_000,
                       headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 413


def test_each_client_address_is_rate_limited(web):
    client, _ = web
    statuses = [client.post("/api/ask", json={"q": "封号"}).status_code for _ in range(25)]
    assert statuses[:20] == [200] * 20 and 429 in statuses[20:]
    assert client.get("/healthz").status_code == 200  # health checks are not questions


def test_topics_health_and_headers(web, matcher):
    client, _ = web
    count = len(matcher.kb.topics)
    topics = client.get("/api/topics?lang=en").json()
    assert topics["lang"] == "en" and len(topics["topics"]) == count
    assert {"id", "theme", "title", "summary", "url"} <= set(topics["topics"][0])
    health = client.get("/healthz")
    assert health.json() == {"ok": True, "topics": count}
    page = client.get("/")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "set-cookie" not in page.headers  # reading sets no cookie
    assert 'id="q"' in page.text and "<textarea" in page.text
    assert "http://" not in page.text.replace("http://127.0.0.1", "") and "https://" not in page.text


def test_a_card_page_without_javascript_and_an_unknown_topic(web):
    client, _ = web
    card = client.get("/t/ban-appeal")
    assert card.status_code == 200 and "aq.qq.com" in card.text and 'action="/t/ban-appeal/vote"' in card.text
    missing = client.get("/t/no-such-topic")
    assert missing.status_code == 404 and "/t/ban-appeal" in missing.text


def test_a_question_posted_without_javascript_gets_the_whole_page(web):
    client, _ = web
    page = client.post("/", data={"q": "我的微信号被封了怎么申诉"})
    assert page.status_code == 200 and "<html" in page.text and 'class="card"' in page.text
    assert "set-cookie" in page.headers  # the visitor id, for follow-ups
    follow = client.post("/", data={"q": "那聊天记录呢？"})
    assert "号被永久冻结" in follow.text  # read with the last card in mind
    partial = client.post("/", data={"q": "有人说花200块能帮我解封微信，靠谱吗"}, headers={"X-Partial": "1"})
    assert "<html" not in partial.text and 'class="card"' in partial.text


def test_a_pasted_ad_can_be_read_as_a_question_instead(web):
    client, _ = web
    page = client.post("/", data={"q": "收微信老号，实名满一年的，价格好说，加我详谈"})
    assert "risk-high" in page.text and 'name="as" value="question"' in page.text
    again = client.post("/", data={"q": "收微信老号，实名满一年的，价格好说，加我详谈", "as": "question"})
    assert "risk-high" not in again.text


def test_language_from_accept_language_then_the_switch(web):
    client, _ = web
    assert "繁體中文</strong>" in client.get("/", headers={"accept-language": "zh-TW,zh;q=0.9"}).text
    assert "English</strong>" in client.get("/", headers={"accept-language": "en-GB,en;q=0.8"}).text
    switched = client.get("/lang/zh-Hant?next=/t/ban-appeal", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/t/ban-appeal"
    assert "申訴" in client.get("/t/ban-appeal").text
    evil = client.get("/lang/en?next=//evil.example", follow_redirects=False)
    assert evil.headers["location"] == "/"


def test_one_vote_per_visitor_and_card(web):
    client, store = web
    client.post("/t/ban-appeal/vote", data={"up": "1"})
    client.post("/t/ban-appeal/vote", data={"up": "1"})
    client.post("/t/ban-appeal/vote", data={"up": "0"})
    store.flush()
    assert store.votes_by_topic()["ban-appeal"] == (0, 1)


def test_the_banned_checklist_as_plain_forms(web):
    client, _ = web
    assert 'name="platform"' in client.get("/banned").text
    step = client.post("/banned", data={"platform": "qq"})
    assert 'name="reason"' in step.text and 'value="qq"' in step.text
    done = client.post("/banned", data={"platform": "qq", "notice": "你的QQ因涉嫌赌博已被冻结"})
    assert "aq.qq.com" in done.text and "weixin110" not in done.text


@pytest.mark.parametrize("header, expected", [
    ("zh-TW,zh;q=0.9,en;q=0.8", "zh-Hant"),
    ("en-US,en;q=0.9", "en"),
    ("fr-FR,fr;q=0.9,zh-CN;q=0.5", "zh"),
    ("de;q=0.3, en;q=0.7", "en"),
    ("zh-HK", "zh-HK"),
    ("", "zh"),
    ("garbage;;;q=x", "zh"),
])
def test_accept_language(header, expected):
    assert accepted_language(header) == expected

"""Two app instances on one PostgreSQL database behave as one: a WeChat resend reaching the other instance is
answered once, replays are refused by either, limits count across both, a conversation goes on at either, and a
Telegram update posted to both web processes is handled once."""

from __future__ import annotations

import concurrent.futures
import time
import urllib.parse

import pytest

from bot.conversation import Conversation
from bot.pgstore import PostgresStore
from bot.web.app import WebSettings, build_app

from .test_wechat import WeChatServer, message_xml, serve


@pytest.fixture
def two_stores(pg_url):
    """Two stores on one database: what two processes configured with the same storage.url have."""
    stores = [PostgresStore(pg_url), PostgresStore(pg_url)]
    yield stores
    for store in stores:
        store.close()


@pytest.fixture
def two_wechats(two_stores, matcher, checker):
    clients = [serve(Conversation(matcher, checker, store), **{"rate_limit.messages": 1000}) for store in two_stores]
    for client in clients:
        client.__enter__()
    yield [WeChatServer(client) for client in clients]
    for client in clients:
        client.__exit__(None, None, None)


def unanswered_count(store, question: str) -> int:
    return sum(n for q, n in store.top_unanswered(1000) if q == question)


def test_a_wechat_resend_reaching_the_other_instance_gets_the_first_reply_made_once(two_wechats, two_stores):
    a, b = two_wechats
    xml = message_xml("oShared01", "text", 8_800_001, Content="我家的猫不吃饭怎么办")
    first = a.post(xml)
    again = b.post(xml)  # WeChat's resend: the same message, newly signed, at the other instance
    assert first.status_code == again.status_code == 200
    assert again.text == first.text  # byte for byte: the reply A made, not a second one
    assert unanswered_count(two_stores[0], "我家的猫不吃饭怎么办") == 1


def test_resends_arriving_at_both_instances_at_once_are_answered_once(two_wechats, two_stores):
    a, b = two_wechats
    xmls = [message_xml(f"oShared1{i}", "text", 8_800_100 + i, Content=f"我家的狗不吃饭怎么办{'啊' * i}")
            for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        # Each message goes to both instances at the same moment, twice.
        futures = [[pool.submit(side.post, xml) for side in (a, b, a, b)] for xml in xmls]
        replies = [[f.result().text for f in group] for group in futures]
    for i, group in enumerate(replies):
        assert len(set(group)) == 1 and "<xml>" in group[0], group
        assert unanswered_count(two_stores[1], f"我家的狗不吃饭怎么办{'啊' * i}") == 1


def test_a_signed_url_replayed_at_the_other_instance_with_another_body_is_refused(two_wechats):
    a, b = two_wechats
    params = a.params(openid="o-any")
    query = urllib.parse.urlencode(params)
    xml = message_xml("oShared02", "text", 8_800_002, Content="微信被封了怎么申诉")
    assert a.client.post("/wechat?" + query, content=xml).status_code == 200
    forged = message_xml("oShared02", "text", 8_800_003, Content="菜单")
    assert b.client.post("/wechat?" + query, content=forged).status_code == 400
    # The same URL with the same body is the resend: the same reply at either instance.
    assert b.client.post("/wechat?" + query, content=xml).text == a.client.post("/wechat?" + query, content=xml).text


def test_a_conversation_goes_on_at_the_other_instance(two_wechats, kb):
    a, b = two_wechats
    a.text("oShared03", "menu")  # the numbered menu is offered by A…
    number = list(kb.topics).index("sell-sim-card") + 1
    # …and the number is understood by B, in the menu's language.
    assert f"\n【{kb.topics['sell-sim-card'].title.en}】" in b.text("oShared03", str(number))


def test_the_wechat_rate_limit_counts_messages_at_both_instances(two_stores, matcher, checker, kb):
    clients = [serve(Conversation(matcher, checker, store), **{"rate_limit.messages": 4}) for store in two_stores]
    with clients[0] as one, clients[1] as other:
        sides = [WeChatServer(one), WeChatServer(other)]
        replies = [sides[i % 2].text("oShared04", f"封号问题{i}") for i in range(5)]
    assert kb.text("rate_limited", "zh") not in "".join(replies[:4])
    assert replies[4] == kb.text("rate_limited", "zh")


def test_the_web_rate_limit_counts_requests_at_both_instances(two_stores, matcher, checker):
    settings = WebSettings(rate_requests=5, rate_window=60.0)
    apps = [build_app(Conversation(matcher, checker, store), settings) for store in two_stores]
    from starlette.testclient import TestClient

    with TestClient(apps[0], base_url="http://127.0.0.1") as one, TestClient(apps[1], base_url="http://127.0.0.1") as two:
        statuses = [(one, two)[i % 2].post("/api/ask", json={"q": "封号"}).status_code for i in range(8)]
    assert statuses == [200] * 5 + [429] * 3


def test_a_telegram_update_posted_to_two_web_processes_is_handled_once(fake_api, tmp_path, pg_url, monkeypatch):
    from .test_web_telegram import WebhookProcess

    monkeypatch.setenv("STORAGE_URL", pg_url)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = WebhookProcess(fake_api, tmp_path / "a")
    second = WebhookProcess(fake_api, tmp_path / "b")
    try:
        update = fake_api.private_message(6401, "/start sell-sim-card",
                                          entities=[{"type": "bot_command", "offset": 0, "length": 6}])
        assert first.post(update) == 200
        fake_api.wait_for("sendMessage", timeout=15)
        assert second.post(update) == 200  # confirmed, not handled again
        other = fake_api.private_message(6402, "微信被封了怎么申诉")
        with concurrent.futures.ThreadPoolExecutor(2) as pool:  # at both at once: one handles, one waits or confirms
            statuses = [f.result() for f in [pool.submit(side.post, other) for side in (first, second)]]
        assert 200 in statuses and set(statuses) <= {200, 503}, statuses
        time.sleep(1.5)
        assert [c["chat_id"] for c in fake_api.calls_for("sendMessage")] == [6401, 6402]
    finally:
        logs = first.stop() + second.stop()
    assert "Traceback" not in logs

"""The page and its API against a hostile client: no database growth, no forged visitors, no cross-site posts, no 500."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time

import pytest
from starlette.testclient import TestClient

from bot.conversation import Conversation
from bot.store import Store
from bot.web.app import WebSettings, build_app

PEER = ("127.0.0.1", 50000)


def rows(path) -> dict[str, int]:
    db = sqlite3.connect(path)
    try:
        return {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("kv", "votes", "unanswered", "topic_views")}
    finally:
        db.close()


@pytest.fixture
def site(matcher, checker, tmp_path):
    """The page on a fresh store; yields (client factory, store, database path)."""
    store = Store(tmp_path / "web.sqlite3")
    app = build_app(Conversation(matcher, checker, store), WebSettings(rate_requests=20, rate_window=60.0))
    clients = []

    def client(peer: tuple[str, int] = PEER, **kwargs) -> TestClient:
        made = TestClient(app, base_url="http://127.0.0.1", client=peer, **kwargs)
        made.__enter__()
        clients.append(made)
        return made

    yield client, store, tmp_path / "web.sqlite3"
    for made in clients:
        made.__exit__(None, None, None)
    store.close()


# -- item 1: nobody grows the database for free -----------------------------------------------


def test_choosing_a_language_writes_nothing_to_the_database(site):
    client, store, path = site
    for _ in range(300):  # each a new visitor without cookies
        fresh = client()
        response = fresh.get("/lang/en?next=/topics", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/topics"
    store.flush()
    assert rows(path) == {"kv": 0, "votes": 0, "unanswered": 0, "topic_views": 0}
    # The choice lives in its own cookie, and the page follows it.
    visitor = client()
    visitor.get("/lang/en", follow_redirects=False)
    assert visitor.cookies.get("lang") == "en" and visitor.cookies.get("v") is None
    assert 'lang="en"' in visitor.get("/").text
    assert 'lang="en"' in visitor.get("/t/ban-appeal").text
    # A question in Chinese is still answered in the language chosen.
    assert 'lang="en"' in visitor.post("/", data={"q": "微信被封了怎么申诉"}).text
    visitor.get("/lang/auto", follow_redirects=False)
    assert visitor.cookies.get("lang") is None


@pytest.mark.parametrize("cookie", [
    "abcdefghijklmnop",  # the 16-64 characters the page used to accept
    "A" * 64,
    "ªµºªµºªµºªµºªµºªµº",  # letters, but not ASCII
    "abcdefghijklmnopqrstuvwx.AAAAAAAAAAAAAAAAAAAAAA",  # the right shape, a forged signature
])
def test_a_visitor_id_made_by_the_client_is_not_a_visitor(site, cookie):
    client, store, path = site
    visitor = client()
    for topic in ("ban-appeal", "sell-sim-card", "regional-fraud-ban"):
        response = visitor.get(f"/t/{topic}", headers={"cookie": f"v={cookie}".encode("latin-1")})
        assert response.status_code == 200
    store.flush()
    assert rows(path)["kv"] == 0


def test_visitor_ids_are_issued_and_signed_by_the_server(site):
    client, store, path = site
    visitor = client()
    visitor.post("/", data={"q": "我的微信号被封了怎么申诉"})
    issued = visitor.cookies.get("v")
    ident, _, signature = issued.partition(".")
    assert ident.isascii() and len(ident) == 24 and len(signature) == 22
    assert "号被永久冻结" in visitor.post("/", data={"q": "那聊天记录呢？"}).text  # a follow-up: the same visitor
    # The same id with another signature is somebody new, who gets an id of their own.
    forged = client().post("/", data={"q": "那聊天记录呢？"}, headers={"cookie": f"v={ident}.{'A' * 22}"})
    assert "号被永久冻结" not in forged.text
    assert forged.cookies.get("v") and not forged.cookies.get("v").startswith(ident)


def test_every_request_that_changes_something_is_rate_limited(site):
    client, store, path = site
    visitor = client()
    statuses = [visitor.post("/t/ban-appeal/vote", data={"up": "1"}, follow_redirects=False).status_code
                for _ in range(25)]
    assert statuses[:20] == [303] * 20 and set(statuses[20:]) == {429}
    # Reading a card as a visitor remembers it and counts a view: a write too, so it counts as well
    # (on its own budget: reading cards does not use up the questions one may ask).
    reader = client(("127.0.0.2", 50000))
    reader.post("/", data={"q": "我的微信号被封了怎么申诉"})  # now a visitor
    store.flush()
    start = views(path)
    for _ in range(60):
        assert reader.get("/t/sell-sim-card").status_code == 200  # the page is always served
    store.flush()
    assert views(path) - start == 20


def views(path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COALESCE(SUM(views), 0) FROM topic_views").fetchone()[0]
    finally:
        db.close()


# -- item 5: hostile JSON ---------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    b'{"q": ' + b"[" * 1000 + b"]" * 1000 + b"}",
    b"[" * 100_000 + b"]" * 100_000,  # 200 KB: refused for its size first
    b'{"q": "hi", "lang": ' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"}",
])
def test_deeply_nested_json_is_a_400_not_a_500(site, body, caplog):
    client, _, _ = site
    with caplog.at_level(logging.ERROR):
        response = client(raise_server_exceptions=False).post("/api/ask", content=body,
                                                               headers={"content-type": "application/json"})
    assert response.status_code in (400, 413) and "error" in response.json()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- item 15: cross-site posts and headers ------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"origin": "https://evil.example"},
    {"origin": "null"},
    {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
    {"sec-fetch-site": "same-site", "origin": "https://other.127.0.0.1"},
])
def test_a_post_from_another_site_is_refused_and_changes_nothing(site, headers):
    client, store, path = site
    browser = client()
    vote = browser.post("/t/ban-appeal/vote", data={"up": "1"}, headers=headers, follow_redirects=False)
    ask = browser.post("/", data={"q": "今天天气怎么样"}, headers=headers)
    api = browser.post("/api/ask", json={"q": "微信被封了怎么申诉"}, headers=headers)
    assert (vote.status_code, ask.status_code, api.status_code) == (403, 403, 403)
    assert "error" in api.json()
    store.flush()
    assert rows(path) == {"kv": 0, "votes": 0, "unanswered": 0, "topic_views": 0}


@pytest.mark.parametrize("headers", [
    {},  # not a browser: curl, a script
    {"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"},
    {"origin": "http://127.0.0.1"},
    {"sec-fetch-site": "none"},  # typed or bookmarked
])
def test_posts_from_the_page_itself_and_from_scripts_are_answered(site, headers):
    client, _, _ = site
    browser = client()
    assert browser.post("/api/ask", json={"q": "微信被封了怎么申诉"}, headers=headers).status_code == 200
    assert browser.post("/t/ban-appeal/vote", data={"up": "1"}, headers=headers,
                        follow_redirects=False).status_code == 303


def test_security_headers_include_permissions_policy_and_hsts_behind_https(matcher, checker, tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    try:
        conversation = Conversation(matcher, checker, store)
        with TestClient(build_app(conversation, WebSettings()), base_url="http://127.0.0.1") as plain:
            page = plain.get("/")
            assert "camera=()" in page.headers["permissions-policy"]
            assert "strict-transport-security" not in page.headers  # no promise of HTTPS on plain HTTP
        settings = WebSettings(public_url="https://help.example.org", secure_cookies=True)
        with TestClient(build_app(conversation, settings), base_url="https://help.example.org") as secure:
            for path in ("/", "/api/topics", "/healthz", "/static/site.css"):
                assert secure.get(path).headers["strict-transport-security"].startswith("max-age="), path
    finally:
        store.close()


# -- items 10 and 16: the database behind the page ---------------------------------------------


class SlowReads(Store):
    """A database on a disk that stalls: every read of a setting takes 1.5 s."""

    def get(self, key):
        time.sleep(1.5)
        return super().get(key)


def test_a_stalled_database_does_not_hold_up_other_requests(matcher, checker, tmp_path):
    store = SlowReads(tmp_path / "s.sqlite3")
    app = build_app(Conversation(matcher, checker, store), WebSettings(rate_requests=100))
    try:
        with TestClient(app, base_url="http://127.0.0.1", client=PEER) as client:
            waiting = [threading.Thread(target=client.post, args=("/",), kwargs={"data": {"q": f"问题{i}"}})
                       for i in range(3)]
            for thread in waiting:
                thread.start()
            time.sleep(0.3)  # the questions are being answered, each waiting for the disk
            started = time.perf_counter()
            assert client.get("/healthz").status_code == 200
            assert client.post("/api/ask", json={"q": "微信被封了怎么申诉"}).status_code == 200
            elapsed = time.perf_counter() - started
            for thread in waiting:
                thread.join()
        assert elapsed < 0.5, f"health and the API waited {elapsed:.1f} s for the database"
    finally:
        store.close()


class FullDisk(Store):
    """SQLite's own "database or disk is full" once the test says so."""

    def _connect(self):
        db = super()._connect()
        if threading.current_thread().name == "store-writer":
            self.writer_db = db
        return db

    def fill(self):
        pages = self.writer_db.execute("PRAGMA page_count").fetchone()[0]
        self.writer_db.execute(f"PRAGMA max_page_count = {pages}")


def test_a_vote_is_confirmed_only_once_saved_and_healthz_reports_a_full_disk(matcher, checker, tmp_path):
    store = FullDisk(tmp_path / "s.sqlite3")
    app = build_app(Conversation(matcher, checker, store), WebSettings(rate_requests=1000))
    try:
        with TestClient(app, base_url="http://127.0.0.1", client=PEER) as client:
            saved = client.post("/t/ban-appeal/vote", data={"up": "1"}, follow_redirects=False)
            assert saved.status_code == 303
            assert sqlite3.connect(tmp_path / "s.sqlite3").execute("SELECT COUNT(*) FROM votes").fetchone()[0] == 1
            health = client.get("/healthz")
            assert health.status_code == 200 and health.json()["ok"] is True
            assert health.json()["store"] == {"queue": 0, "failing": False, "last_error": None, "last_error_at": None}
            store.fill()
            refused = []
            while 503 not in refused and len(refused) < 400:  # until a new row needs a page there is no room for
                fresh = TestClient(app, base_url="http://127.0.0.1", client=PEER)
                refused.append(fresh.post("/t/ban-appeal/vote", data={"up": "1"}, follow_redirects=False).status_code)
            assert 503 in refused and set(refused) <= {303, 503}
            assert "没能保存" in fresh.post("/t/ban-appeal/vote", data={"up": "1"}).text  # says so, in words
            health = client.get("/healthz")
            assert health.status_code == 503 and health.json()["ok"] is False
            assert health.json()["store"]["failing"] and "full" in health.json()["store"]["last_error"]
            assert health.json()["store"]["queue"] >= 1
    finally:
        store.writer_db.execute("PRAGMA max_page_count = 1073741823")
        store.close()

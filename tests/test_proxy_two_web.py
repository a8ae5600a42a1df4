"""PostgreSQL, two `web` processes and nginx (README's configuration) on 127.0.0.1; mixed load through nginx; one web
process SIGKILLed in the middle: no confirmed write lost, every WeChat message and Telegram update answered once,
errors only for requests in flight on the killed process, the survivor carrying on.

Skipped only where nginx or PostgreSQL cannot run (`./run test` installs both as root)."""

from __future__ import annotations

import concurrent.futures
import http.cookiejar
import itertools
import json
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx
import pytest
import xmltodict

from .cluster import NGINX, Nginx, WebProcess
from .postgres import database_name
from .test_wechat import message_xml, signature

WECHAT_TOKEN = "wechat-t0ken-for-the-proxy-test"
SECRET = "proxy-test-webhook-secret"
QUESTIONS = ["微信被封了怎么申诉", "有人收手机卡，一张给200，能卖吗", "how do I report a gambling group", "什么是杀猪盘",
             "QQ被凍結了怎麼辦", "陌生人让我扫码帮他注册"]
ADS = ["高价收购手机卡，一张200，当天结算，联系V：abc123", "明天开会", "兼职帮人解封微信，日结300"]
DIGITS = "甲乙丙丁戊己庚辛壬癸"  # a message's number in characters: digits could be masked as personal data
OPERATIONS = 420
KILL_AFTER = 160  # operations finished before the SIGKILL


def code(number: int) -> str:
    return "".join(DIGITS[int(d)] for d in str(number))


@dataclass
class Attempt:
    kind: str
    key: str
    started: float
    ended: float = 0.0
    status: int | None = None  # None: no HTTP answer at all
    body: str = ""


@dataclass
class Record:
    attempts: list[Attempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, attempt: Attempt) -> Attempt:
        with self.lock:
            self.attempts.append(attempt)
        return attempt


pytestmark = pytest.mark.skipif(not NGINX.exists(), reason="nginx is not installed (apt-get install nginx-light; "
                                                            "`./run test` installs it as root)")


@pytest.fixture
def cluster(fake_api, postgres_server, tmp_path):
    url = postgres_server.new_database()
    config = tmp_path / "config.yaml"
    config.write_text(
        "telegram:\n  mode: webhook\n  webhook:\n    url: https://bot.example.org/telegram\n"
        f"    secret_token: {SECRET}\n"
        "web:\n  rate_limit:\n    requests: 100000\n"
        "rate_limit:\n  messages: 100000\nlogging:\n  level: WARNING\n", encoding="utf-8")
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECHAT_", "STORAGE_"))}
    env.update(STORAGE_URL=url, WECHAT_TOKEN=WECHAT_TOKEN, TELEGRAM_BOT_TOKEN=fake_api.token,
               TELEGRAM_BASE_URL=f"{fake_api.url}/bot")
    webs = [WebProcess(tmp_path / name, config, env) for name in ("a", "b")]
    nginx = None
    try:
        for web in webs:
            web.wait_healthy()
        nginx = Nginx([web.port for web in webs])
        yield nginx, webs, url
    finally:
        if nginx is not None:
            nginx.stop()
        for web in webs:
            web.stop()


def wechat_query() -> str:
    timestamp, nonce = str(int(time.time())), str(next(_nonces))
    return urllib.parse.urlencode({"signature": signature(WECHAT_TOKEN, timestamp, nonce), "timestamp": timestamp,
                                   "nonce": nonce, "openid": "o-any"})


_nonces = itertools.count(1_000_001)


def test_two_web_processes_behind_nginx_survive_a_sigkill_of_one(cluster, fake_api, postgres_server):
    nginx, webs, url = cluster
    record = Record()
    # No cookie kept: each vote is a new visitor's, so each confirmed vote is a row of its own.
    client = httpx.Client(base_url=nginx.url, timeout=30.0,
                          cookies=http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[])))
    confirmed_votes = Counter()
    killed_at: list[float] = []
    finished = itertools.count(1)

    def attempt(kind: str, key: str, send) -> Attempt:
        now = time.monotonic()
        result = record.add(Attempt(kind, key, now))
        try:
            response = send()
            result.status, result.body = response.status_code, response.text
        except httpx.HTTPError:
            result.status = None
        result.ended = time.monotonic()
        return result

    def ask(i: int) -> None:
        attempt("ask", str(i), lambda: client.post("/api/ask", json={"q": QUESTIONS[i % len(QUESTIONS)]}))

    def check(i: int) -> None:
        attempt("check", str(i), lambda: client.post("/api/check", json={"text": ADS[i % len(ADS)]}))

    def vote(i: int) -> None:
        topic = ("ban-appeal", "sell-sim-card")[i % 2]
        done = attempt("vote", topic, lambda: client.post(f"/t/{topic}/vote", data={"up": "1"}))
        if done.status == 303:  # the vote is committed before the redirect is sent
            with record.lock:
                confirmed_votes[topic] += 1

    def wechat(i: int) -> None:
        xml = message_xml(f"oLoad{i % 17}", "text", 9_100_000 + i, Content=f"我家的猫不吃饭怎么办{code(i)}")
        sends = 0
        while sends < 6:  # WeChat resends a message it got no reply to
            sends += 1
            done = attempt("wechat", str(i), lambda: client.post("/wechat?" + wechat_query(), content=xml,
                                                                 headers={"Content-Type": "text/xml"}))
            if done.status == 200:
                break
            time.sleep(0.2)
        if i % 3 == 0:  # and sometimes resends one it did answer (the reply was lost on the way back)
            attempt("wechat", str(i), lambda: client.post("/wechat?" + wechat_query(), content=xml,
                                                          headers={"Content-Type": "text/xml"}))

    def telegram(i: int) -> None:
        update = fake_api.private_message(80_000 + i, QUESTIONS[i % len(QUESTIONS)])
        for _ in range(60):  # Telegram sends an update again until it gets a 200
            done = attempt("telegram", str(80_000 + i), lambda: client.post(
                "/telegram", content=json.dumps(update), headers={"Content-Type": "application/json",
                                                                   "X-Telegram-Bot-Api-Secret-Token": SECRET}))
            if done.status == 200:
                return
            time.sleep(0.5)

    kinds = [ask, check, vote, wechat, telegram]

    def operation(i: int) -> None:
        kinds[i % len(kinds)](i)
        if next(finished) == KILL_AFTER:
            webs[0].kill()  # SIGKILL in the middle of the load
            killed_at.append(time.monotonic())

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(operation, i) for i in range(OPERATIONS)]:
            future.result()
    assert killed_at, "the web process was never killed"
    killed = killed_at[0]
    health = client.get("/healthz")
    client.close()

    attempts = record.attempts
    failed = [a for a in attempts if a.status is None or a.status >= 500 and not (a.kind == "telegram" and a.status == 503)]
    busy = [a for a in attempts if a.kind == "telegram" and a.status == 503]
    in_flight = {(a.kind, a.key) for a in failed}
    after = [a for a in attempts if a.started > killed]
    summary = (f"{len(attempts)} requests, {len(failed)} failed (in flight at the kill), {len(busy)} 'busy, send "
               f"again' for updates claimed by the killed process, {len(after)} after the kill")
    print("\n" + summary)
    # Errors only for requests that were in flight on the killed process.
    assert all(a.started < killed for a in failed), [a for a in failed if a.started >= killed]
    assert len(failed) <= 8, summary  # at most one per client thread
    # The 'busy' answers are for updates whose first request died with the killed process.
    assert all(("telegram", a.key) in in_flight for a in busy), busy
    # The survivor carries on: everything sent after the kill was answered.
    assert len(after) >= (OPERATIONS - KILL_AFTER) // 2 and all(a.status in (200, 303) for a in after
                                                                 if a not in busy), summary
    assert health.status_code == 200 and health.json()["ok"]
    assert all(a.status in (200, 303) for a in attempts if a not in failed and a not in busy)

    name = database_name(url)
    # No confirmed write lost: every vote confirmed by a redirect is in the database.
    stored = dict(postgres_server.admin("SELECT topic, COUNT(*) FROM votes GROUP BY topic", database=name))
    failed_votes = Counter(a.key for a in failed if a.kind == "vote")
    for topic in ("ban-appeal", "sell-sim-card"):
        assert confirmed_votes[topic] <= stored.get(topic, 0) <= confirmed_votes[topic] + failed_votes[topic]
    assert sum(confirmed_votes.values()) >= OPERATIONS // len(kinds) - sum(failed_votes.values())

    # Every WeChat message answered, once: every reply to one MsgId is the same reply, and the question
    # is stored once (twice at most for a message in flight on the killed process).
    replies = defaultdict(set)
    for a in attempts:
        if a.kind == "wechat" and a.status == 200:
            replies[a.key].add(a.body)
    wechat_ids = [str(i) for i in range(OPERATIONS) if kinds[i % len(kinds)] is wechat]
    for key in wechat_ids:
        assert len(replies[key]) == 1, (key, replies[key])
        content = xmltodict.parse(next(iter(replies[key])))["xml"]["Content"]
        assert content and content != "success"
    stored_questions = Counter(dict(postgres_server.admin(
        "SELECT question, COUNT(*) FROM unanswered WHERE question LIKE '我家的猫不吃饭怎么办%' GROUP BY question",
        database=name)))
    for key in wechat_ids:
        times = stored_questions[f"我家的猫不吃饭怎么办{code(int(key))}"]
        assert times == 1 or (times == 2 and ("wechat", key) in in_flight), (key, times)

    # Every Telegram update answered, once (at most once more for one in flight on the killed process).
    time.sleep(1.0)
    sent = Counter(call.params["chat_id"] for call in fake_api.calls if call.method == "sendMessage")
    chats = [80_000 + i for i in range(OPERATIONS) if kinds[i % len(kinds)] is telegram]
    for chat in chats:
        assert sent[chat] == 1 or (sent[chat] == 2 and ("telegram", str(chat)) in in_flight), (chat, sent[chat])
    assert "Traceback" not in webs[1].log()

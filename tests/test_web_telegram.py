"""One process for every channel: `python -m bot web` with a Telegram token in webhook mode serves /telegram too."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from bot.config import load_config
from bot.errors import UserError
from bot.web.telegram import webhook_path

from .conftest import ROOT
from .test_bot_process import free_port


def post(url: str, body: dict, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def wait_for_health(port: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the web process died"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the web process never answered /healthz")


def test_the_web_process_serves_the_telegram_webhook_beside_the_page(fake_api, tmp_path):
    port = free_port()
    url = "https://bot.example.org/telegram"
    (tmp_path / "config.yaml").write_text(
        "telegram:\n  mode: webhook\n  webhook:\n"
        f"    url: {url}\n    secret_token: s3cret-Token\nstorage:\n  path: {tmp_path}/bot.sqlite3\n",
        encoding="utf-8")
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_BASE_URL": f"{fake_api.url}/bot",
           "PYTHONPATH": str(ROOT)}
    log = (tmp_path / "web.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "bot", "web", "--config", str(tmp_path / "config.yaml"),
                                "--host", "127.0.0.1", "--port", str(port)], cwd=tmp_path, env=env,
                               stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        wait_for_health(port, process)
        [hook] = fake_api.wait_for("setWebhook", timeout=30)
        assert hook.params["url"] == url and hook.params["secret_token"] == "s3cret-Token"
        update = {"update_id": 501, "message": {
            "message_id": 1, "date": int(time.time()), "chat": {"id": 6201, "type": "private"},
            "from": {"id": 6201, "is_bot": False, "first_name": "U"}, "text": "/start sell-sim-card",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
        local = f"http://127.0.0.1:{port}/telegram"
        assert post(local, update, {}) == 403
        assert post(local, update, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}) == 403
        assert not fake_api.calls_for("sendMessage")
        assert post(local, update, {"X-Telegram-Bot-Api-Secret-Token": "s3cret-Token"}) == 200
        [call] = fake_api.wait_for("sendMessage", timeout=15)
        assert "?start=sell-sim-card" in call.params["text"]
        # The page answers beside it.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/t/ban-appeal", timeout=5) as page:
            assert page.status == 200
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        log.close()
    text = (tmp_path / "web.log").read_text(encoding="utf-8", errors="replace")
    assert process.returncode == 0, text[-2000:]
    assert "Traceback" not in text and fake_api.token not in text


@pytest.mark.parametrize("url", ["https://bot.example.org/", "https://bot.example.org", "https://bot.example.org/api/x",
                                 "https://bot.example.org/t/hook"])
def test_the_webhook_may_not_take_a_path_of_the_page(url):
    with pytest.raises(UserError):
        webhook_path(url)


def test_the_webhook_path_is_the_urls():
    assert webhook_path("https://bot.example.org/telegram") == "/telegram"
    assert webhook_path("https://bot.example.org/hooks/tg-123/") == "/hooks/tg-123"


def test_webhook_mode_in_the_web_process_needs_the_secret(tmp_path, matcher, checker):
    from bot.reload import LiveKnowledge
    from bot.store import Store
    from bot.web.telegram import telegram_webhook

    (tmp_path / "c.yaml").write_text("telegram:\n  token: '123:abc'\n  mode: webhook\n  webhook:\n"
                                     "    url: https://bot.example.org/telegram\n", encoding="utf-8")
    store = Store(tmp_path / "s.sqlite3")
    try:
        with pytest.raises(UserError, match="secret_token"):
            telegram_webhook(load_config(tmp_path / "c.yaml", environ={}), LiveKnowledge.fixed(matcher, checker), store)
    finally:
        store.close()


SECRET = "s3cret-Token"


class WebhookProcess:
    """`python -m bot web` with the Telegram webhook, its log in a file."""

    def __init__(self, fake_api, tmp_path, extra_config: str = "") -> None:
        self.port = free_port()
        self.tmp_path = tmp_path
        (tmp_path / "config.yaml").write_text(
            "telegram:\n  mode: webhook\n  webhook:\n"
            f"    url: https://bot.example.org/telegram\n    secret_token: {SECRET}\n"
            f"storage:\n  path: {tmp_path}/bot.sqlite3\n" + extra_config, encoding="utf-8")
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_BASE_URL": f"{fake_api.url}/bot",
               "PYTHONPATH": str(ROOT)}
        self.log_file = (tmp_path / "web.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "web", "--config", str(tmp_path / "config.yaml"), "--host", "127.0.0.1",
             "--port", str(self.port)], cwd=tmp_path, env=env, stdout=self.log_file, stderr=self.log_file,
            stdin=subprocess.DEVNULL)
        wait_for_health(self.port, self.process)
        fake_api.wait_for("setWebhook", timeout=30)
        self.url = f"http://127.0.0.1:{self.port}/telegram"

    def post(self, update: dict) -> int:
        return post(self.url, update, {"X-Telegram-Bot-Api-Secret-Token": SECRET})

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.log_file.close()
        return (self.tmp_path / "web.log").read_text(encoding="utf-8", errors="replace")


def test_the_webhook_refuses_a_huge_body_before_reading_it(fake_api, tmp_path):
    import socket

    web = WebhookProcess(fake_api, tmp_path)
    try:
        with socket.create_connection(("127.0.0.1", web.port), timeout=5) as sock:
            sock.sendall(b"POST /telegram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"X-Telegram-Bot-Api-Secret-Token: " + SECRET.encode() +
                         b"\r\nContent-Length: 300000000\r\n\r\n" + b"[" * 65536)
            status = sock.recv(64).split(b" ")[1]
        assert status == b"413"
        # Sent without a length, in chunks: cut off once past the cap, too.
        with socket.create_connection(("127.0.0.1", web.port), timeout=5) as sock:
            sock.sendall(b"POST /telegram HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                         b"X-Telegram-Bot-Api-Secret-Token: " + SECRET.encode() + b"\r\n\r\n")
            chunk = b"[" * 65536
            try:
                for _ in range(64):  # 4 MB at most
                    sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except OSError:
                pass  # the server stopped reading and closed: what it should do
            status = sock.recv(64).split(b" ")[1]
        assert status == b"413"
    finally:
        web.stop()


def test_a_replayed_update_is_handled_once(fake_api, tmp_path):
    web = WebhookProcess(fake_api, tmp_path)
    try:
        update = fake_api.private_message(6301, "/start sell-sim-card",
                                          entities=[{"type": "bot_command", "offset": 0, "length": 6}])
        assert web.post(update) == 200
        fake_api.wait_for("sendMessage", timeout=15)
        for _ in range(3):  # Telegram got its 200: these come from someone replaying a captured request
            assert web.post(update) == 200
        time.sleep(1.5)
        assert len(fake_api.calls_for("sendMessage")) == 1
    finally:
        web.stop()


def test_a_voter_is_hashed_with_the_tokens_key_as_in_run_mode(fake_api, tmp_path):
    import hashlib
    import hmac
    import sqlite3

    from bot.store import Store
    from bot.tg.app import voter_key

    web = WebhookProcess(fake_api, tmp_path)
    try:
        update = fake_api.callback_query(6401, "v:ban-appeal:1")
        assert web.post(update) == 200
        fake_api.wait_for("answerCallbackQuery", timeout=15)
    finally:
        web.stop()
    [(voter,)] = sqlite3.connect(tmp_path / "bot.sqlite3").execute("SELECT voter FROM votes").fetchall()
    # The key `run` uses: the token's, which is not in the database (so a hash cannot be reversed by
    # trying every user id), and one person voting through `run` and `web` is one voter.
    assert voter == hmac.new(voter_key(fake_api.token), b"6401", hashlib.sha256).hexdigest()[:32]
    run_store = Store(tmp_path / "bot.sqlite3", voter_key=voter_key(fake_api.token))
    try:
        run_store.record_vote("ban-appeal", 1, 6401)
        assert run_store.votes_by_topic() == {"ban-appeal": (1, 0)}
    finally:
        run_store.close()


def test_the_web_process_logs_at_the_configured_level_with_personal_data_masked(fake_api, tmp_path):
    web = WebhookProcess(fake_api, tmp_path, "logging:\n  level: DEBUG\n")
    try:
        update = fake_api.private_message(6501, "怎么买火车票 13812345678 lily.wang88@qq.com")
        assert web.post(update) == 200
        fake_api.wait_for("sendMessage", timeout=15)
    finally:
        log = web.stop()
    assert "怎么买火车票" in log, "the DEBUG log did not show the update: the level was not applied"
    assert "[手机号]" in log and "[邮箱]" in log
    assert "13812345678" not in log and "lily.wang88" not in log
    assert fake_api.token not in log and fake_api.token.split(":")[1] not in log
    assert " DEBUG " in log and " INFO " in log  # the log's own format: time, level, logger

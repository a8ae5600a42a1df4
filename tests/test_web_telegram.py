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

"""`python -m bot run` as a real process: talks to a loopback Bot API, stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from .conftest import ROOT


def start_bot(fake_api, cwd, stderr=subprocess.PIPE) -> subprocess.Popen:
    """`python -m bot run` in `cwd` (where its config.yaml is), pointed at the fake Bot API.

    A long log (DEBUG) must go to a file: a full pipe nobody reads blocks the bot.
    """
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_BASE_URL": f"{fake_api.url}/bot",
           "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=stderr, stdin=subprocess.DEVNULL)


def test_bot_process_answers_and_stops_cleanly_on_sigterm(fake_api, tmp_path):
    (tmp_path / "config.yaml").write_text("storage:\n  path: state/bot.sqlite3\nlogging:\n  level: DEBUG\n", encoding="utf-8")
    proc = start_bot(fake_api, tmp_path)
    try:
        fake_api.wait_for("getUpdates", timeout=30)
        fake_api.private_message(6001, "/start ban-appeal")
        [call] = fake_api.wait_for("sendMessage", timeout=15)
        assert "?start=ban-appeal" in call.params["text"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()[-2000:]
    log = err.decode()
    assert fake_api.token not in log and fake_api.token.split(":")[1] not in log
    assert "Traceback" not in log
    assert (tmp_path / "state" / "bot.sqlite3").exists()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_webhook_mode_registers_the_url_and_takes_updates_with_the_secret(fake_api, tmp_path):
    import json
    import time
    import urllib.error
    import urllib.request

    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram-hook"
    (tmp_path / "config.yaml").write_text(
        "telegram:\n  mode: webhook\n  webhook:\n    listen: 127.0.0.1\n"
        f"    port: {port}\n    url: {url}\n    secret_token: s3cret-Token\n",
        encoding="utf-8",
    )
    proc = start_bot(fake_api, tmp_path)

    def post(secret: str | None) -> int:
        update = {"update_id": 77, "message": {"message_id": 1, "date": int(time.time()),
                  "chat": {"id": 6101, "type": "private"}, "from": {"id": 6101, "is_bot": False, "first_name": "U"},
                  "text": "/start sell-sim-card", "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}}
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        request = urllib.request.Request(url, data=json.dumps(update).encode(), method="POST", headers=headers)
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    return response.status
            except urllib.error.HTTPError as exc:
                return exc.code
            except urllib.error.URLError:
                # setWebhook may reach the fake just before the server listens.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    try:
        [hook] = fake_api.wait_for("setWebhook", timeout=30)
        assert hook.params["url"] == url and hook.params["secret_token"] == "s3cret-Token"
        assert post(None) == 403 and post("wrong") == 403  # a forged update is refused
        assert not fake_api.calls_for("sendMessage")
        assert post("s3cret-Token") == 200
        [call] = fake_api.wait_for("sendMessage", timeout=15)
        assert "?start=sell-sim-card" in call.params["text"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err.decode()[-2000:]

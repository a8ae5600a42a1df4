"""Two `run` processes on one token: one polls, the other stands by and takes over within seconds of a SIGKILL,
answering every update the first had not confirmed (SQLite's lock file and PostgreSQL's advisory lock)."""

from __future__ import annotations

import signal
import time

import pytest

from .test_bot_process import start_bot
from .test_crash_recovery import QUESTIONS, answered_chats

TAKEOVER_LIMIT = 5.0  # seconds from the SIGKILL to the standby polling


def wait_for_log(path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(encoding="utf-8", errors="replace"):
        assert time.monotonic() < deadline, f"{text!r} never logged: {path.read_text()[-2000:]}"
        time.sleep(0.1)


@pytest.mark.parametrize("backend_name", ["sqlite", "postgresql"])
def test_a_standby_takes_over_polling_within_seconds_of_a_sigkill_and_loses_no_update(
        fake_api, tmp_path, monkeypatch, request, backend_name):
    if backend_name == "postgresql":
        monkeypatch.setenv("STORAGE_URL", request.getfixturevalue("pg_url"))
    (tmp_path / "config.yaml").write_text("rate_limit:\n  messages: 1000\n", encoding="utf-8")
    logs = [(tmp_path / "first.log").open("wb"), (tmp_path / "second.log").open("wb")]
    first = start_bot(fake_api, tmp_path, stderr=logs[0])
    second = None
    try:
        fake_api.wait_for("getUpdates", timeout=60)
        second = start_bot(fake_api, tmp_path, stderr=logs[1])
        wait_for_log(tmp_path / "second.log", "standing by")
        # The standby never polls: one process asked for updates (deleteWebhook starts each poller).
        assert len(fake_api.calls_for("deleteWebhook")) == 1
        users = [40_000 + i for i in range(120)]
        for i, user in enumerate(users):
            fake_api.private_message(user, QUESTIONS[i % len(QUESTIONS)])
        fake_api.wait_for("sendMessage", count=20, timeout=60)
        first.kill()  # SIGKILL: no clean-up, the lock is released by the system / the server
        killed = time.monotonic()
        first.wait(10)
        answered_before = len(answered_chats(fake_api))
        [took_over] = fake_api.wait_for("deleteWebhook", count=2, timeout=30)[1:]
        takeover = took_over.at - killed
        late = 49_999
        fake_api.private_message(late, "微信被封了怎么申诉")
        fake_api.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == late, timeout=30)
        deadline = time.monotonic() + 60
        while set(users) - set(answered_chats(fake_api)) and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"\n{backend_name}: standby polling {takeover:.2f} s after SIGKILL of the poller "
              f"({answered_before} of {len(users)} answered before the kill)")
        assert answered_before < len(users), "the backlog was already answered: the test proves nothing"
        assert set(users) <= set(answered_chats(fake_api)), "an update was lost in the takeover"
        assert takeover < TAKEOVER_LIMIT, f"took over after {takeover:.1f} s"
    finally:
        if first.poll() is None:
            first.kill()
        if second is not None:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        for log in logs:
            log.close()
    assert second.returncode == 0
    assert "Traceback" not in (tmp_path / "second.log").read_text(errors="replace")


def test_two_run_processes_in_webhook_mode_on_one_database_handle_an_update_once(fake_api, tmp_path, pg_url,
                                                                                 monkeypatch):
    import json
    import urllib.error
    import urllib.request

    from .test_bot_process import free_port

    monkeypatch.setenv("STORAGE_URL", pg_url)
    procs, ports = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            (tmp_path / name).mkdir()
            (tmp_path / name / "config.yaml").write_text(
                f"telegram:\n  mode: webhook\n  webhook:\n    listen: 127.0.0.1\n    port: {port}\n"
                "    url: https://bot.example.org/hook\n    secret_token: s3cret-Token\n", encoding="utf-8")
            procs.append(start_bot(fake_api, tmp_path / name))
            ports.append(port)
        fake_api.wait_for("setWebhook", count=2, timeout=60)
        update = fake_api.private_message(6501, "微信被封了怎么申诉")

        def post(port: int) -> int:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/hook", data=json.dumps(update).encode(),
                                             headers={"Content-Type": "application/json",
                                                      "X-Telegram-Bot-Api-Secret-Token": "s3cret-Token"})
            deadline = time.monotonic() + 20
            while True:
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        return response.status
                except urllib.error.HTTPError as exc:
                    return exc.code
                except urllib.error.URLError:  # not listening yet
                    assert time.monotonic() < deadline
                    time.sleep(0.2)

        assert post(ports[0]) == 200
        assert post(ports[1]) == 200  # Telegram's resend at the other process: confirmed, not handled again
        time.sleep(1.0)
        assert [c["chat_id"] for c in fake_api.calls_for("sendMessage")] == [6501]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.communicate(timeout=30)

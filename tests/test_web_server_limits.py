"""`python -m bot web` as a real server against clients that hold connections, send slowly or lie about their address."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from .conftest import ROOT
from .test_bot_process import free_port


class WebProcess:
    """The web server in its own process, with a config and, if asked, an open-file limit."""

    def __init__(self, tmp_path, config: str = "", nofile: tuple[int, int] | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        (tmp_path / "config.yaml").write_text(f"storage:\n  path: {tmp_path}/bot.sqlite3\n" + config, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECHAT_"))}
        env["PYTHONPATH"] = str(ROOT)
        self.log_path = tmp_path / "web.log"
        self.log_file = self.log_path.open("wb")

        def limits() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "web", "--config", str(tmp_path / "config.yaml"), "--host", "127.0.0.1",
             "--port", str(self.port)], cwd=tmp_path, env=env, stdout=self.log_file, stderr=self.log_file,
            stdin=subprocess.DEVNULL, preexec_fn=limits)
        deadline = time.monotonic() + 60
        while True:
            assert self.process.poll() is None, self.log_path.read_text()[-2000:]
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=2).read()
                return
            except OSError:
                assert time.monotonic() < deadline, "the server did not start in 60 s"
                time.sleep(0.2)

    def health_time(self, timeout: float = 1.0) -> float:
        """Seconds /healthz took on a new connection; fails past `timeout`."""
        started = time.perf_counter()
        with urllib.request.urlopen(self.base + "/healthz", timeout=timeout) as response:
            assert response.status == 200 and json.loads(response.read())["ok"] is True
        return time.perf_counter() - started

    def post(self, path: str, body: dict, headers: dict[str, str]) -> int:
        request = urllib.request.Request(self.base + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        finally:
            self.log_file.close()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def closed_after(sock: socket.socket, trickle: bytes, every: float, limit: float) -> float | None:
    """Send `trickle` a byte at a time, `every` seconds; the seconds until the server closed, or None."""
    started = time.monotonic()
    sock.settimeout(every)
    i = 0
    while time.monotonic() - started < limit:
        try:
            data = sock.recv(4096)
            if data == b"":
                return time.monotonic() - started
            continue  # a response (a 400, a 408): read on until the close
        except socket.timeout:
            pass
        except OSError:
            return time.monotonic() - started
        try:
            sock.sendall(trickle[i % len(trickle):i % len(trickle) + 1])
        except OSError:
            return time.monotonic() - started
        i += 1
    return None


@pytest.mark.parametrize("nofile", [(256, 256), (256, 4096)])
def test_idle_connections_past_the_open_file_limit_leave_the_server_answering(tmp_path, nofile):
    web = WebProcess(tmp_path, nofile=nofile)
    idle = []
    try:
        for _ in range(300):  # more than the 256 descriptors the server started with
            try:
                idle.append(connect(web.port))
            except OSError:
                break
        time.sleep(0.5)
        for _ in range(5):
            assert web.health_time(timeout=1.0) < 1.0
        assert web.post("/api/ask", {"q": "微信被封了怎么申诉"}, {}) == 200
    finally:
        for sock in idle:
            sock.close()
        log = web.stop()
    assert "Too many open files" not in log and "Traceback" not in log, log[-2000:]


def test_slow_headers_slow_bodies_and_trickling_keep_alives_are_cut_off(tmp_path):
    web = WebProcess(tmp_path, "web:\n  header_timeout_seconds: 2\n  body_timeout_seconds: 2\n"
                               "  keep_alive_seconds: 1\n")
    try:
        slow_head = connect(web.port)
        waited = closed_after(slow_head, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200, 0.3, 8)
        assert waited is not None and waited < 4, waited
        slow_body = connect(web.port)
        slow_body.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 1000\r\n\r\n")
        waited = closed_after(slow_body, b'{"q": "' + b"a" * 990, 0.3, 8)
        assert waited is not None and waited < 4, waited
        # After a response, a byte now and then does not keep a connection open either.
        kept = connect(web.port)
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.3)
        waited = closed_after(kept, b"G", 0.4, 8)
        assert waited is not None and waited < 4, waited
        assert web.health_time() < 1.0
    finally:
        web.stop()


def test_a_forwarded_address_counts_only_when_a_trusted_proxy_wrote_it(tmp_path):
    web = WebProcess(tmp_path, "web:\n  rate_limit:\n    requests: 5\n")
    try:
        # Through a trusted proxy (127.0.0.1) that appends the real address: the client's own claims are ignored.
        statuses = [web.post("/api/ask", {"q": "封号"}, {"X-Forwarded-For": f"10.9.{i}.1, 203.0.113.7"})
                    for i in range(8)]
        assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
        # A header that is no address at all is no new client: it counts as the proxy's.
        garbage = [web.post("/api/ask", {"q": "封号"}, {"X-Forwarded-For": f"not-an-address-{i}"}) for i in range(8)]
        assert garbage[:5] == [200] * 5 and set(garbage[5:]) == {429}
        huge = web.post("/api/ask", {"q": "封号"}, {"X-Forwarded-For": "1.2.3.4, " * 1500 + "198.51.100.4"})
        assert huge == 200  # read from its right end, a new client
        # Every address of one IPv6 /64 is one client.
        v6 = [web.post("/api/ask", {"q": "封号"}, {"X-Forwarded-For": f"2001:db8:1:2::{i:x}"}) for i in range(8)]
        assert v6[:5] == [200] * 5 and set(v6[5:]) == {429}
    finally:
        log = web.stop()
    assert "Traceback" not in log


def test_sigkill_under_load_loses_no_vote_that_was_confirmed(tmp_path):
    import http.client
    import threading

    from bot.store import Store

    web = WebProcess(tmp_path, "web:\n  rate_limit:\n    requests: 1000000\n")
    confirmed: list[str] = []
    stop = threading.Event()

    def voter() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", web.port, timeout=5)
        while not stop.is_set():
            try:
                conn.request("POST", "/t/ban-appeal/vote", body="up=1",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
                response = conn.getresponse()
                response.read()
            except OSError:
                return  # the server is gone
            if response.status == 303:  # confirmed: the page says the vote counted
                cookie = response.getheader("set-cookie")
                confirmed.append(cookie.split(";")[0].split("=", 1)[1].split(".", 1)[0])

    threads = [threading.Thread(target=voter) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    web.process.kill()  # SIGKILL: no clean-up, nothing flushed
    web.process.wait(10)
    stop.set()
    for thread in threads:
        thread.join()
    web.log_file.close()
    assert len(confirmed) > 100, "too few votes to show anything"
    store = Store(tmp_path / "bot.sqlite3")  # the database as the next start finds it
    try:
        import sqlite3

        saved = {row[0] for row in sqlite3.connect(tmp_path / "bot.sqlite3").execute("SELECT voter FROM votes")}
        lost = [v for v in confirmed if store.voter(f"web:{v}") not in saved]
    finally:
        store.close()
    assert not lost, f"{len(lost)} of {len(confirmed)} confirmed votes lost"

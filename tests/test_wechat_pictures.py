"""Image messages on the WeChat Official Account: the picture fetched from PicUrl (a local server here) and read in time."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.conversation import Conversation
from bot.store import Store

from . import pictures
from .test_wechat import WeChatServer, message_xml, serve


class PictureHost:
    """WeChat's picture server, on 127.0.0.1: serves `files` by path, each after `delay` seconds."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.delay = 0.0
        self.requests: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                host.requests.append(self.path)
                time.sleep(host.delay)
                data = host.files.get(self.path)
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                try:
                    self.wfile.write(data or b"")
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host():
    server = PictureHost()
    yield server
    server.close()


@pytest.fixture
def wechat(matcher, checker, tmp_path):
    store = Store(tmp_path / "wechat.sqlite3")
    with serve(Conversation(matcher, checker, store)) as client:
        yield WeChatServer(client)
    store.close()


def picture_message(wechat: WeChatServer, sender: str, url: str, msg_id: int) -> str:
    fields = wechat.reply(wechat.post(message_xml(sender, "image", msg_id, PicUrl=url, MediaId=f"m{msg_id}")))
    return fields["Content"]


def test_an_image_message_is_read_and_answered_in_one_passive_reply(wechat, host):
    host.files["/ad.jpg"] = pictures.text_picture(["高价收手机卡，一张200元", "当天结算，有意私聊"])
    started = time.monotonic()
    content = picture_message(wechat, "oPic001", host.url("/ad.jpg"), 7001)
    assert time.monotonic() - started < 5.0
    assert content.startswith("图里写着：高价收手机卡") and "高风险" in content


def test_a_qr_code_in_an_image_message_is_explained(wechat, host):
    host.files["/code.png"] = pictures.qr_picture("wxp://f2f0Qk3mZx9Lq7")
    content = picture_message(wechat, "oPic002", host.url("/code.png"), 7002)
    assert "扫码就是给对方付钱" in content


def test_a_slow_picture_server_gets_a_send_the_text_reply_within_five_seconds(wechat, host):
    host.files["/slow.jpg"] = pictures.text_picture(["慢"])
    host.delay = 3.0
    started = time.monotonic()
    content = picture_message(wechat, "oPic003", host.url("/slow.jpg"), 7003)
    assert time.monotonic() - started < 5.0
    assert content.startswith("这张图片没能及时读完") and "https://help.example.org/" in content


def test_a_broken_picture_and_a_missing_one_get_one_line_each(wechat, host, kb):
    host.files["/cut.jpg"] = pictures.truncated_jpeg()
    assert picture_message(wechat, "oPic004", host.url("/cut.jpg"), 7004) == kb.text("picture_broken", "zh")
    missing = picture_message(wechat, "oPic004", host.url("/gone.jpg"), 7005)
    assert missing.startswith("这张图片没能及时读完")
    # A resend of the same message is answered from memory, not fetched again.
    before = len(host.requests)
    assert picture_message(wechat, "oPic004", host.url("/cut.jpg"), 7004) == kb.text("picture_broken", "zh")
    assert len(host.requests) == before

"""Image messages on the WeChat Official Account: the picture fetched from PicUrl (a local server here) and read
in time, and only from WeChat's picture hosts."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.config import load_config
from bot.conversation import Conversation
from bot.errors import UserError
from bot.reading import PictureError
from bot.store import Store
from bot.web.app import WebSettings, build_app
from bot.web.fetch import PictureFetcher, Refused
from bot.web.wechat import wechat_endpoint

from . import pictures
from .test_wechat import PUBLIC, WeChatServer, message_xml, settings

# The fake picture host: a name on the allowed list that the tests' resolver sends to 127.0.0.1.
PICTURE_HOST = "pictures.wechat.test"


class PictureHost:
    """WeChat's picture server, on 127.0.0.1: serves `files` by path, each after `delay` seconds."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.delay = 0.0
        self.requests: list[str] = []
        host = self

        self.redirects: dict[str, str] = {}
        self.hide_length = False
        self.hosts: list[str] = []  # the Host header of each request

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                host.requests.append(self.path)
                host.hosts.append(self.headers.get("Host", ""))
                time.sleep(host.delay)
                if self.path in host.redirects:
                    self.send_response(302)
                    self.send_header("Location", host.redirects[self.path])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = host.files.get(self.path)
                self.send_response(200 if data is not None else 404)
                if not host.hide_length:  # else the body ends when the connection closes (HTTP/1.0)
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

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str, host: str = PICTURE_HOST) -> str:
        return f"http://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def host():
    server = PictureHost()
    yield server
    server.close()


async def loopback_resolver(host: str, port: int) -> list[str]:
    """The tests' DNS: the fake picture host (and anything else) is 127.0.0.1; nothing leaves the machine."""
    return ["127.0.0.1"]


def fake_fetcher(**config) -> PictureFetcher:
    """The channel's fetcher as the config builds it, but resolving to the local picture host, which it may reach."""
    from bot.config import host_names

    hosts = host_names(settings(**config)["wechat.picture_hosts"], "wechat.picture_hosts")
    return PictureFetcher(hosts, resolver=loopback_resolver, address_allowed=lambda address: address.is_loopback)


@pytest.fixture
def wechat(matcher, checker, tmp_path):
    from starlette.testclient import TestClient

    store = Store(tmp_path / "wechat.sqlite3")
    config = {"wechat.picture_hosts": PICTURE_HOST}
    conversation = Conversation(matcher, checker, store)
    endpoint = wechat_endpoint(conversation, settings(**config), PUBLIC, fetcher=fake_fetcher(**config))
    app = build_app(conversation, WebSettings(public_url=PUBLIC), wechat=endpoint)
    with TestClient(app, base_url="http://127.0.0.1") as client:
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


# -- only WeChat's picture hosts ----------------------------------------------------------------------


SEND_TEXT = "这张图片没能及时读完"


def test_the_allowed_host_is_asked_by_its_name_at_the_address_that_was_checked(wechat, host):
    host.files["/ok.jpg"] = pictures.text_picture(["高价收手机卡，一张200元"])
    content = picture_message(wechat, "oPic101", host.url("/ok.jpg"), 7101)
    assert content.startswith("图里写着：高价收手机卡")
    assert host.requests == ["/ok.jpg"] and host.hosts == [f"{PICTURE_HOST}:{host.port}"]


@pytest.mark.parametrize("address", [
    "http://pictures.example.org:{port}/ok.jpg",  # not one of WeChat's picture hosts
    "http://127.0.0.1:{port}/ok.jpg",  # an IP address, even of the host that serves the picture
    "http://[::1]:{port}/ok.jpg",
    "http://2130706433:{port}/ok.jpg",  # 127.0.0.1 written as one number
    "http://user@" + PICTURE_HOST + ":{port}/ok.jpg",  # a user name in the address
    "ftp://" + PICTURE_HOST + ":{port}/ok.jpg",
    "file:///etc/passwd",
    "http://" + PICTURE_HOST + ".evil.example:{port}/ok.jpg",  # the allowed name inside another host's
])
def test_a_picture_address_off_the_allowed_hosts_is_refused_without_a_request(wechat, host, address, caplog):
    host.files["/ok.jpg"] = pictures.text_picture(["高价收手机卡，一张200元"])
    content = picture_message(wechat, "oPic102", address.format(port=host.port), 7102)
    assert content.startswith(SEND_TEXT) and "https://help.example.org/" in content
    assert host.requests == []
    assert "refused to download a picture" in caplog.text


def test_a_redirect_to_another_host_is_not_followed(wechat, host):
    host.files["/inside.jpg"] = pictures.text_picture(["高价收手机卡，一张200元"])
    host.redirects["/away.jpg"] = f"http://127.0.0.1:{host.port}/inside.jpg"
    host.redirects["/elsewhere.jpg"] = f"http://metadata.internal.example:{host.port}/inside.jpg"
    assert picture_message(wechat, "oPic103", host.url("/away.jpg"), 7103).startswith(SEND_TEXT)
    assert picture_message(wechat, "oPic103", host.url("/elsewhere.jpg"), 7104).startswith(SEND_TEXT)
    assert host.requests == ["/away.jpg", "/elsewhere.jpg"]  # never /inside.jpg


def test_a_redirect_on_the_same_host_is_followed_at_most_twice(wechat, host):
    host.files["/final.jpg"] = pictures.text_picture(["高价收手机卡，一张200元"])
    host.redirects["/a.jpg"] = "/final.jpg"
    assert picture_message(wechat, "oPic104", host.url("/a.jpg"), 7105).startswith("图里写着：高价收手机卡")
    host.redirects.update({"/1.jpg": "/2.jpg", "/2.jpg": "/3.jpg", "/3.jpg": "/final.jpg"})
    assert picture_message(wechat, "oPic104", host.url("/1.jpg"), 7106).startswith(SEND_TEXT)
    assert host.requests[-3:] == ["/1.jpg", "/2.jpg", "/3.jpg"]


def test_an_over_size_picture_is_refused_with_one_line(wechat, host, kb):
    host.files["/big.jpg"] = b"\xff\xd8" + b"0" * (10 * 1024 * 1024)
    assert picture_message(wechat, "oPic105", host.url("/big.jpg"), 7107) == kb.text("picture_too_big", "zh")


def test_an_over_size_body_that_does_not_say_its_size_is_cut_off(host):
    host.files["/long.jpg"] = b"\xff\xd8" + b"0" * 50_000
    host.files["/short.jpg"] = b"\xff\xd8" + b"0" * 500
    host.hide_length = True
    fetcher = PictureFetcher([PICTURE_HOST], resolver=loopback_resolver, address_allowed=lambda a: a.is_loopback,
                             max_bytes=10_000)
    with pytest.raises(PictureError) as caught:
        fetch(fetcher, host.url("/long.jpg"))
    assert caught.value.key == "picture_too_big"
    assert fetch(fetcher, host.url("/short.jpg")) == host.files["/short.jpg"]


def fetch(fetcher: PictureFetcher, url: str) -> bytes:
    return asyncio.run(fetcher.fetch(url, 1.5))


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "192.168.0.8", "172.16.5.4", "169.254.169.254",
                                     "100.64.0.1", "::1", "fe80::1", "fd00::5", "::ffff:10.0.0.1", "0.0.0.0"])
def test_a_name_that_resolves_to_a_private_address_is_refused_before_connecting(address):
    async def resolver(host: str, port: int) -> list[str]:
        return [address]

    fetcher = PictureFetcher(["mmbiz.qpic.cn"], resolver=resolver)  # the default: public addresses only
    with pytest.raises(Refused, match="not a public address"):
        fetch(fetcher, "http://mmbiz.qpic.cn/mmbiz_jpg/abc/0")


def test_public_addresses_pass_the_check():
    from bot.web.fetch import public_address

    assert public_address(ipaddress.ip_address("203.0.113.10")) is False  # documentation range: not global
    assert public_address(ipaddress.ip_address("1.1.1.1")) and public_address(ipaddress.ip_address("2606:4700::1111"))


def test_the_allowed_hosts_are_validated_and_wechat_s_by_default():
    assert load_config(None, environ={})["wechat.picture_hosts"] == "mmbiz.qpic.cn"
    for bad in ("127.0.0.1", "mmbiz.qpic.cn, 10.0.0.1", "http://mmbiz.qpic.cn", "mmbiz.qpic.cn:80", "mmbiz.qpic.cn/x",
                "[::1]"):
        with pytest.raises(UserError, match="wechat.picture_hosts"):
            wechat_endpoint(None, settings(**{"wechat.picture_hosts": bad}), PUBLIC)


def test_a_bad_picture_hosts_setting_stops_the_config_with_one_line(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text("wechat:\n  picture_hosts: mmbiz.qpic.cn, 169.254.169.254\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"config.yaml: wechat.picture_hosts: '169.254.169.254' is an IP address"):
        load_config(config, environ={})
    config.write_text("wechat:\n  picture_hosts: MMBIZ.qpic.cn, pictures.example.org\n", encoding="utf-8")
    assert load_config(config, environ={})["wechat.picture_hosts"] == "MMBIZ.qpic.cn, pictures.example.org"


def test_a_slow_allowed_host_times_out_as_the_usual_send_the_text_reply():
    fetcher = PictureFetcher(["mmbiz.qpic.cn"], resolver=lambda host, port: asyncio.sleep(5, ["1.1.1.1"]))
    started = time.monotonic()
    with pytest.raises(PictureError) as caught:
        asyncio.run(fetcher.fetch("http://mmbiz.qpic.cn/x", 0.3))
    assert caught.value.key == "picture_timeout" and time.monotonic() - started < 2


def test_of_a_name_with_both_kinds_of_address_the_ipv4_one_is_asked():
    async def resolver(host: str, port: int) -> list[str]:
        return ["2606:4700::6810:84e5", "104.16.132.229"]

    fetcher = PictureFetcher(["mmbiz.qpic.cn"], resolver=resolver)
    assert asyncio.run(fetcher.address_of("mmbiz.qpic.cn", 80)) == "104.16.132.229"

"""Pictures on the web: the page's form without JavaScript, the JSON API, bad input, and others still answered."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from bot.conversation import Conversation
from bot.store import Store
from bot.web.app import WebSettings, build_app

from . import pictures


@pytest.fixture
def web(matcher, checker, tmp_path):
    store = Store(tmp_path / "web.sqlite3")
    app = build_app(Conversation(matcher, checker, store), WebSettings(rate_requests=30, rate_window=60.0))
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, tmp_path
    store.close()


AD = ["兼职刷单，日结300", "先垫付，佣金马上返", "加QQ 3389127745 领任务"]


def test_the_page_reads_a_picture_sent_by_a_plain_form(web):
    client, _ = web
    page = client.get("/").text
    assert 'action="/image"' in page and 'enctype="multipart/form-data"' in page and 'type="file"' in page
    response = client.post("/image", files={"image": ("ad.jpg", pictures.text_picture(AD), "image/jpeg")})
    assert response.status_code == 200
    assert "图里写着：" in response.text and "刷单" in response.text and "risk-high" in response.text


def test_api_image_is_the_json_of_image_json(web):
    client, _ = web
    raw = client.post("/api/image", content=pictures.text_picture(AD), headers={"content-type": "image/jpeg"})
    assert raw.status_code == 200
    body = raw.json()
    assert set(body) >= {"text", "qr", "reply", "topic", "risk", "ms"} and body["risk"] == "high"
    form = client.post("/api/image?lang=en", files={"image": ("code.png", pictures.qr_picture("https://t.cn/A6Gh"), "image/png")})
    assert form.json()["qr"] == [{"data": "https://t.cn/A6Gh", "kind": "url", "domain": "t.cn", "official": False}]
    assert form.json()["lang"] == "en"


@pytest.mark.parametrize("data, status, words", [
    (b"GIF89a but not really", 400, "not a picture"),
    (pictures.truncated_jpeg(), 400, "broken"),
    (pictures.png_header_only(30_000, 30_000), 400, "million pixels"),
    (pictures.over_ten_megabytes(), 413, "too large"),
])
def test_bad_pictures_get_one_clear_line_and_nothing_is_kept(web, data, status, words):
    client, tmp_path = web
    response = client.post("/api/image", content=data, headers={"content-type": "application/octet-stream"})
    assert response.status_code == status and words in response.json()["error"]
    page = client.post("/image", files={"image": ("x.jpg", data, "image/jpeg")})
    assert page.status_code == status and 'class="notice"' in page.text
    # The server goes on answering, and no picture bytes reached the disk.
    assert client.post("/api/ask", json={"q": "微信被封了怎么申诉"}).json()["topic"] == "ban-appeal"
    stored = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert data[:2048] not in stored or len(data) < 64


def test_a_form_without_a_picture_says_so(web):
    client, _ = web
    response = client.post("/image", files={"other": ("x.txt", b"hello", "text/plain")})
    assert response.status_code == 400 and "不是图片" in response.text

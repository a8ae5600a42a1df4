"""A curator's loop in headless Chromium, against the real `python -m bot web` process: log in, find a
group of unanswered questions, add one as a phrasing, see the diff and the evaluation before and
after, publish, then ask the question on the home page and get the new answer, without a restart.

Screenshots go to WEB_SCREENSHOTS (default: a temporary folder, printed).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bot.knowledge import default_kb_dir, load_knowledge
from bot.store import Store

from .conftest import ROOT
from .test_web_browser import CHROMIUM, CHROMIUM_ARGS, CSP_WATCH, PHONE, free_port, shots  # noqa: F401  (shots: the screenshot folder fixture)

from playwright.sync_api import sync_playwright  # noqa: E402  (test_web_browser skips the module without Chromium)

TOKEN = "browser-test-curator-token"
QUESTION = "橙色企鹅暗号管不管用"
TOPIC = "paid-unseal-service"
DESKTOP = {"width": 1100, "height": 900}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`python -m bot web` with the curator page on, over a copy of the knowledge base, with questions stored."""
    folder = tmp_path_factory.mktemp("curate-web")
    kb = folder / "knowledge"
    shutil.copytree(default_kb_dir(), kb)
    storage = folder / "bot.sqlite3"
    store = Store(storage)
    for question in [QUESTION] * 3 + ["橙色企鹅的暗号管不管用？", "<script>alert(1)</script>我的号被封了"]:
        store.record_unanswered(question, "zh")
    store.close()
    config = folder / "config.yaml"
    config.write_text(f"storage:\n  path: {storage}\nknowledge:\n  dir: {kb}\n  watch_seconds: 1\n"
                      "web:\n  rate_limit:\n    requests: 10000\ncurate:\n  folds: 2\n", encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "WECHAT_TOKEN")}
    log = folder / "web.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "web", "--config", str(config), "--port", str(port)], cwd=ROOT,
        env={**env, "CURATE_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"}, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            break
        except OSError:
            assert time.monotonic() < deadline, "web did not start"
            time.sleep(0.2)
    yield url, kb, folder
    process.send_signal(signal.SIGTERM)
    process.wait(30)
    assert "Traceback" not in log.read_text(errors="replace"), log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def test_a_curator_turns_an_unanswered_question_into_an_answer(browser, server, shots):
    url, kb_dir, folder = server
    problems: list[str] = []
    context = browser.new_context(viewport=DESKTOP, locale="zh-CN")
    context.add_init_script(CSP_WATCH)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    alerts: list[str] = []
    page.on("dialog", lambda d: (alerts.append(d.message), d.dismiss()))

    # Not logged in: the page sends the curator to the login form.
    page.goto(f"{url}/curate")
    assert page.url == f"{url}/curate/login"
    page.fill("input[name=name]", "Lin")
    page.fill("input[name=token]", TOKEN)
    page.screenshot(path=str(shots / "curate-01-login.png"))
    page.click("text=Log in")
    page.wait_for_url(f"{url}/curate")

    # The group: both wordings, four times asked, the bot's current guesses.
    group = page.locator("article.group", has=page.locator("h3", has_text=QUESTION)).first
    assert "4×" in group.inner_text()
    assert "2 wordings" in group.inner_text()
    assert page.locator("h3", has_text="<script>alert(1)</script>我的号被封了").count() == 1  # shown as text
    page.screenshot(path=str(shots / "curate-02-queue.png"), full_page=True)
    group.locator("select[name=target]").select_option(TOPIC)
    group.locator("button", has_text="Add as phrasing").click()
    page.wait_for_url(f"{url}/curate?done=*")
    assert "Queued" in page.locator(".curate-done").inner_text()
    assert page.locator("article.group", has=page.locator("h3", has_text=QUESTION)).count() == 0
    page.screenshot(path=str(shots / "curate-03-queued.png"))

    # The draft: the one-line diff, and the evaluation before and after (computed in the background).
    page.click("a.button:has-text('Review the draft')")
    page.wait_for_url(f"{url}/curate/draft")
    assert f"+  - {QUESTION}" in page.locator("pre.diff").inner_text()
    page.screenshot(path=str(shots / "curate-04-draft-evaluating.png"), full_page=True)
    deadline = time.monotonic() + 900
    while True:  # the page refreshes itself every 5 s; here it is opened again, to read it whole
        page.wait_for_timeout(5000)
        page.goto(f"{url}/curate/draft")
        if not page.locator(".curate-wait").count():
            break
        assert time.monotonic() < deadline, "the evaluation did not finish within 15 minutes"
    assert page.locator(".curate-error").count() == 0, page.locator(".curate-error").first.inner_text()
    rows = page.locator("table.eval tbody tr")
    assert rows.count() >= 3
    cross = rows.first.inner_text()
    assert cross.startswith("cross-validation") and cross.count("%") == 6 and "(" in cross
    page.screenshot(path=str(shots / "curate-05-draft-evaluated.png"), full_page=True)

    # Publish: served by the running process at once.
    page.click("button:text('Publish')")
    page.wait_for_url(f"{url}/curate?done=*", timeout=600_000)
    done = page.locator(".curate-done").inner_text()
    assert "Published by Lin" in done and "is serving" in done
    page.screenshot(path=str(shots / "curate-06-published.png"))
    assert "Lin" in page.locator("ul.history").inner_text()

    # A visitor asks the question on the home page and gets the new answer.
    phone = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN")
    visitor = phone.new_page()
    visitor.goto(url + "/")
    visitor.fill("#q", QUESTION)
    visitor.press("#q", "Enter")
    reply = visitor.locator("#reply")
    reply.locator("h2, .choices").first.wait_for()
    title = load_knowledge(kb_dir).topics[TOPIC].title.zh
    assert title in reply.inner_text()
    visitor.screenshot(path=str(shots / "curate-07-home-answer.png"))
    phone.close()
    context.close()
    assert not problems and not alerts, (problems, alerts)
    # The file changed by one line, and the published change is on record.
    assert f"  - {QUESTION}\n" in (kb_dir / "topics" / f"{TOPIC}.yaml").read_text(encoding="utf-8")
    assert '"by": "Lin"' in (folder / "curation" / "published.jsonl").read_text(encoding="utf-8")

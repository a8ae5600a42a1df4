"""The curator's page /curate: off by default, guarded (token, session, CSRF, login limits, escaping),
and the loop it exists for: a stored question becomes a phrasing, is shown as a diff, published and answered."""

from __future__ import annotations

import json
import re
import secrets
import time
from pathlib import Path

import pytest
import yaml
from starlette.testclient import TestClient

from bot.config import load_config
from bot.conversation import Conversation
from bot.knowledge import load_knowledge
from bot.curation import Change, YamlFile, apply_changes, diff, group_questions
from bot.reload import LiveKnowledge, content_version
from bot.store import Store
from bot.web.app import WebSettings, build_app
from bot.web.curate import LOGIN_TRIES, CuratorPage
from bot.web.server import build_from_config

TOKEN = "a-long-curator-token-for-tests"


class Site:
    """The web app with the curator page, over a copy of the knowledge base."""

    def __init__(self, kb_dir: Path, tmp_path: Path, secure: bool = False) -> None:
        self.live = LiveKnowledge.load(kb_dir)
        self.store = Store(tmp_path / "bot.sqlite3")
        self.talk = Conversation(None, None, self.store, knowledge=self.live)
        self.page = CuratorPage(self.talk, TOKEN, tmp_path / "curation", secure_cookies=secure, folds=0)
        self.app = build_app(self.talk, WebSettings(secure_cookies=secure), page_routes=self.page.routes())
        self.client = TestClient(self.app, base_url="https://testserver" if secure else "http://testserver")

    def close(self) -> None:
        self.page.curation.wait_for_training(300)  # the draft's models, trained in the background
        self.page.close()
        self.store.close()

    def login(self, token: str = TOKEN, name: str = "Ann"):
        form = self.client.get("/curate/login")
        return self.client.post("/curate/login", data={"csrf": csrf_of(form.text), "token": token, "name": name},
                                follow_redirects=False)

    def csrf(self) -> str:
        return csrf_of(self.client.get("/curate").text)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:2000]
    return found.group(1)


@pytest.fixture
def site(kb_copy, tmp_path):
    running = Site(kb_copy, tmp_path)
    yield running
    running.close()


# -- access --------------------------------------------------------------------------------


def test_the_page_is_off_by_default(tmp_path):
    config = load_config(None, environ={})
    config.values["storage.path"] = str(tmp_path / "bot.sqlite3")
    app, store = build_from_config(config)
    try:
        client = TestClient(app)
        for path in ("/curate", "/curate/login", "/curate/draft"):
            assert client.get(path).status_code == 404
        assert client.post("/curate/publish", data={"csrf": "x"}).status_code == 404
    finally:
        store.close()


def test_the_token_turns_it_on(tmp_path):
    config = load_config(None, environ={"CURATE_TOKEN": TOKEN})
    config.values["storage.path"] = str(tmp_path / "bot.sqlite3")
    app, store = build_from_config(config)
    try:
        assert TestClient(app).get("/curate/login").status_code == 200
    finally:
        store.close()


def test_no_access_without_the_token(site):
    assert site.client.get("/curate", follow_redirects=False).headers["location"] == "/curate/login"
    assert site.client.get("/curate/draft", follow_redirects=False).headers["location"] == "/curate/login"
    site.talk.question("u1", "紫色河马今天穿什么袜子", "zh")
    site.store.flush()
    refused = site.client.post("/curate/dismiss", data={"csrf": "guess", "q": "紫色河马今天穿什么袜子"},
                               follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/curate/login"
    response = site.login(token="wrong-token")
    assert response.status_code == 403 and "not the curator token" in response.text
    assert "curate_session" not in response.headers.get("set-cookie", "")
    assert site.client.get("/curate", follow_redirects=False).status_code == 303
    assert site.store.unanswered_for_curators()[0][0] == "紫色河马今天穿什么袜子"


def test_the_session_cookie_is_httponly_strict_and_secure_behind_https(kb_copy, tmp_path):
    secure = Site(kb_copy, tmp_path, secure=True)
    try:
        response = secure.login()
        assert response.status_code == 303 and response.headers["location"] == "/curate"
        cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("curate_session="))
        attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
        assert {"httponly", "secure", "samesite=strict", "path=/curate"} <= attributes
        assert secure.client.get("/curate").status_code == 200
    finally:
        secure.close()


def test_the_plain_http_session_cookie_is_not_secure_but_still_strict(site):
    cookie = next(c for c in site.login().headers.get_list("set-cookie") if c.startswith("curate_session="))
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert "secure" not in attributes and {"httponly", "samesite=strict"} <= attributes


def test_forms_without_the_sessions_csrf_token_are_refused(site):
    site.talk.question("u1", "紫色河马今天穿什么袜子", "zh")
    site.store.flush()
    site.login()
    for path, form in (("/curate/dismiss", {"q": "紫色河马今天穿什么袜子"}),
                       ("/curate/phrasing", {"text": "紫色河马今天穿什么袜子", "target": "paid-unseal-service"}),
                       ("/curate/out-of-scope", {"text": "紫色河马今天穿什么袜子"}),
                       ("/curate/publish", {}), ("/curate/logout", {})):
        for csrf in (None, "", "forged-token"):
            data = dict(form, **({"csrf": csrf} if csrf is not None else {}))
            response = site.client.post(path, data=data, follow_redirects=False)
            assert response.status_code == 403, (path, csrf)
    assert site.page.curation.draft.changes() == []
    assert site.store.unanswered_for_curators()[0][0] == "紫色河马今天穿什么袜子"
    assert site.client.get("/curate", follow_redirects=False).status_code == 200  # still logged in


def test_a_login_needs_the_forms_own_csrf_token(site):
    site.client.get("/curate/login")  # sets the login cookie
    response = site.client.post("/curate/login", data={"csrf": "forged", "token": TOKEN, "name": "Mallory"},
                                follow_redirects=False)
    assert response.status_code == 403 and "curate_session" not in response.headers.get("set-cookie", "")


def test_logins_are_rate_limited(site):
    for _ in range(LOGIN_TRIES):
        assert site.login(token="guess").status_code == 403
    response = site.login()  # the right token, too late
    assert response.status_code == 429 and "curate_session" not in response.headers.get("set-cookie", "")


def test_stored_questions_are_escaped_on_the_page(site):
    attacks = ['<script>alert("x")</script>微信被封了怎么办', '"><img src=x onerror=alert(1)>紫色河马',
               "</textarea><svg onload=alert(1)>"]
    for text in attacks:
        site.talk.question("u1", text, "zh")
    site.store.flush()
    site.login()
    html = site.client.get("/curate").text
    for raw in ("<script>alert", "<img src=x", "<svg onload"):
        assert raw not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;微信被封了怎么办" in html
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;紫色河马" in html


def test_the_page_sends_its_security_headers(site):
    site.login()
    response = site.client.get("/curate")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store" and response.headers["x-frame-options"] == "DENY"


# -- the queue -------------------------------------------------------------------------------


def test_near_duplicates_are_one_group_with_counts_and_dates(matcher):
    rows = [("蓝鲸口令能解封吗", "none", "zh", 3, 100.0, 200.0), ("蓝鲸口令能解封吗？", "none", "zh", 2, 50.0, 300.0),
            ("藍鯨口令能解封嗎", "low", "zh-Hant", 1, 120.0, 130.0), ("今天吃什么好呢", "none", "zh", 4, 10.0, 20.0),
            ("蓝鲸口令能解封吗", "as_question", "zh", 9, 1.0, 2.0)]
    groups = group_questions(rows, matcher.normaliser.normalise)
    assert [(g.text, g.count) for g in groups] == [("蓝鲸口令能解封吗", 6), ("今天吃什么好呢", 4)]
    whale = groups[0]
    assert whale.kinds == {"none": 5, "low": 1} and (whale.first_seen, whale.last_seen) == (50.0, 300.0)
    assert [v for v, _ in whale.variants] == ["蓝鲸口令能解封吗", "蓝鲸口令能解封吗？", "藍鯨口令能解封嗎"]
    [pressed] = group_questions(rows, matcher.normaliser.normalise, ("as_question",))
    assert pressed.count == 9


def test_the_queue_shows_unanswered_unsure_pressed_and_disliked(site):
    for _ in range(3):
        site.talk.question("u1", "紫色河马今天穿什么袜子", "zh")
    vague = next(q for q in ("封号", "账号出问题了", "解封号", "解封")
                 if site.talk.matcher.match_question(q).decision == "suggest")
    site.talk.question("u2", vague, "zh")  # vague: "did you mean"
    site.talk.as_question("u3", "【兼职】在家扫码一单30元，私聊", "zh")
    site.talk.vote("u4", "sell-sim-card", up=False)
    site.store.flush()
    site.login()
    html = site.client.get("/curate").text
    assert "紫色河马今天穿什么袜子" in html and "<strong>3×</strong>" in html
    assert "unsure 1" in html and "meant as a question 1" in html
    assert "在家扫码一单30元" in html
    assert "<code>sell-sim-card</code></td><td>0</td><td>1</td>" in html
    # The bot's current three closest topics, with scores.
    section = html[html.index("紫色河马今天穿什么袜子"):]
    assert len(re.findall(r"<code>[a-z-]+</code> \d\.\d\d", section[:1500])) == 3


# -- editing: the round trip -------------------------------------------------------------------


def test_a_phrasing_changes_one_line_and_keeps_order_comments_and_layout(kb_copy, tmp_path):
    live = load_topics(kb_copy)
    for topic in live:
        for situation in [""] + [s for s in situations(kb_copy, topic)][:1]:
            out = tmp_path / f"{topic}-{situation or 'general'}"
            text = "一句全新的问法: 能不能? #1"  # ': ' and ' #' must be quoted to stay one string
            files = apply_changes(kb_copy, [Change("phrasing", text, topic, situation)], out)
            assert files == [f"topics/{topic}.yaml"]
            [(_, lines)] = diff(kb_copy, out, files)
            changed = [line for line in lines if line[:1] in "+-" and not line.startswith(("+++", "---"))]
            indent = "      " if situation else "  "
            assert len(changed) == 1 and changed[0].startswith(f"+{indent}- "), changed
            assert yaml.safe_load(changed[0][len(indent) + 3:]) == text
            reloaded = load_knowledge(out).topics[topic]
            assert text in (reloaded.situation(situation).questions if situation else reloaded.questions)
    files = apply_changes(kb_copy, [Change("out_of_scope", "火锅底料怎么炒")], tmp_path / "oos")
    [(_, lines)] = diff(kb_copy, tmp_path / "oos", files)
    assert [line for line in lines if line.startswith("+ ")] == ["+  - 火锅底料怎么炒"]


def load_topics(kb_dir: Path) -> list[str]:
    return sorted(p.stem for p in (kb_dir / "topics").glob("*.yaml"))


def situations(kb_dir: Path, topic: str) -> list[str]:
    data = YamlFile(kb_dir / "topics" / f"{topic}.yaml").data
    return [s["id"] for s in data.get("situations") or []]


def test_every_knowledge_file_a_curator_edits_round_trips_byte_for_byte(kb_copy):
    for path in [*(kb_copy / "topics").glob("*.yaml"), kb_copy / "out_of_scope.yaml"]:
        assert YamlFile(path).text() == path.read_text(encoding="utf-8"), path.name


def test_a_phrasing_the_knowledge_base_has_is_refused(site):
    site.login()
    existing = site.live.current.kb.topics["ban-appeal"].questions[0]
    response = site.client.post("/curate/phrasing", data={"csrf": site.csrf(), "text": existing,
                                                          "target": "sell-sim-card"})
    assert "already in the knowledge base" in response.text
    assert site.page.curation.draft.changes() == []


# -- the loop ----------------------------------------------------------------------------------


def test_a_stored_question_becomes_a_published_phrasing_that_is_answered(site, kb_copy):
    question = "橙色企鹅暗号管不管用"
    assert site.talk.matcher.match_question(question).topic != "paid-unseal-service"
    for user in ("u1", "u2"):
        site.talk.question(user, question, "zh")
    site.store.flush()
    assert site.login().status_code == 303
    queue = site.client.get("/curate").text
    assert question in queue
    response = site.client.post("/curate/phrasing", data={"csrf": csrf_of(queue), "text": question,
                                                          "target": "paid-unseal-service", "q": question})
    assert "Queued" in response.text
    draft = site.client.get("/curate/draft").text
    assert f'<span class="add">+  - {question}</span>' in draft
    assert "The draft validates" in draft
    serving = site.live.current.version
    published = site.client.post("/curate/publish", data={"csrf": csrf_of(draft)})
    assert "Published by Ann" in published.text
    # Served at once, by the same process, without a restart.
    assert site.live.current.version == content_version(kb_copy) != serving
    assert site.talk.matcher.match_question(question).topic == "paid-unseal-service"
    api = site.client.post("/api/ask", json={"q": question}).json()
    assert api["topic"] == "paid-unseal-service"
    # Recorded: who, when, what.
    [entry] = [json.loads(line) for line in (site.page.curation.log_path).read_text(encoding="utf-8").splitlines()]
    assert entry["by"] == "Ann" and entry["version_after"] == site.live.current.version
    assert entry["changes"] == [f"phrasing {question!r} → paid-unseal-service"]
    assert time.time() - time.mktime(time.strptime(entry["at"], "%Y-%m-%dT%H:%M:%SZ")) < 3600 * 24
    # The draft is empty and the question has left the queue.
    assert site.page.curation.draft.changes() == []
    site.store.flush()
    assert question not in [row[0] for row in site.store.unanswered_for_curators()]


def test_a_drafts_models_are_trained_while_it_is_reviewed_so_publishing_trains_nothing(site, monkeypatch):
    """Queueing a change trains the draft's models in the background; the publish loads them from the cache."""
    from bot import classifier

    # New to every run: the model cache outlives test runs, and must not already hold this draft's models.
    question = f"紫色长颈鹿申诉口令还灵吗 {secrets.token_hex(4)}"
    site.login()
    site.client.post("/curate/phrasing", data={"csrf": site.csrf(), "text": question, "target": "ban-appeal"})
    assert site.page.curation.wait_for_training(300)
    trained = []
    monkeypatch.setattr(classifier, "_start_child", lambda path, job: trained.append(path) or None)
    monkeypatch.setattr(classifier, "train", lambda *args, **kwargs: trained.append(args) or 1 / 0)
    draft = site.client.get("/curate/draft").text
    published = site.client.post("/curate/publish", data={"csrf": csrf_of(draft)})
    assert "Published by Ann" in published.text and trained == []
    assert site.talk.matcher.match_question(question).topic == "ban-appeal"


def test_the_evaluation_runs_below_the_servers_priority(kb_copy, tmp_path):
    """The draft's evaluation is background work: its child yields to answers and to a publish's reload."""
    import os

    from bot.curation import EVAL_NICENESS, Evaluator

    evaluator = Evaluator(tmp_path / "evaluations", folds=0)
    try:
        assert evaluator.result(kb_copy) is None  # queued
        deadline = time.monotonic() + 60
        while True:
            with evaluator._lock:  # held from the child's start to its priority being set
                child = evaluator._child
            if child is not None:
                break
            assert time.monotonic() < deadline, "the evaluation did not start"
            time.sleep(0.01)
        assert os.getpriority(os.PRIO_PROCESS, child.pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + EVAL_NICENESS)
    finally:
        evaluator.close()


def test_out_of_scope_and_dismiss(site):
    for text in ("火锅底料到底怎么炒才香", "asdfgh qwerty"):
        site.talk.question("u1", text, "zh")
    site.store.flush()
    site.login()
    site.client.post("/curate/out-of-scope", data={"csrf": site.csrf(), "text": "火锅底料到底怎么炒才香",
                                                   "q": "火锅底料到底怎么炒才香"})
    assert [c.kind for c in site.page.curation.draft.changes()] == ["out_of_scope"]
    site.client.post("/curate/dismiss", data={"csrf": site.csrf(), "q": "asdfgh qwerty"})
    site.store.flush()
    assert "asdfgh qwerty" not in [row[0] for row in site.store.unanswered_for_curators()]
    assert "asdfgh qwerty" not in site.client.get("/curate").text


def test_a_draft_topic_is_not_served_until_valid_and_sourced(site, kb_copy):
    site.login()
    version = content_version(kb_copy)
    response = site.client.post("/curate/new-topic", data={"csrf": site.csrf(), "id": "game-account-ban",
                                                           "theme": "banned", "q": ["游戏号被封了怎么办"]})
    assert response.status_code == 200 and "Draft topic" in response.text
    assert (kb_copy / "drafts" / "game-account-ban.yaml").exists()
    # Not part of what is served, nor of the version the watcher compares.
    assert content_version(kb_copy) == version and "game-account-ban" not in site.live.current.kb.topics
    assert "no sources" in response.text and "Not ready to publish" in response.text
    refused = site.client.post("/curate/topic/game-account-ban/queue", data={"csrf": site.csrf()})
    assert "is not ready" in refused.text and site.page.curation.draft.changes() == []


def test_a_draft_that_does_not_validate_cannot_be_published(site, kb_copy):
    site.login()
    site.page.curation.draft.add(Change("phrasing", "一个新问法", "no-such-topic"))
    draft = site.client.get("/curate/draft").text
    assert "does not validate" in draft and "no topic" in draft and 'action="/curate/publish"' not in draft
    serving = site.live.current.version
    response = site.client.post("/curate/publish", data={"csrf": csrf_of(draft)})
    assert "Not published" in response.text and site.live.current.version == serving

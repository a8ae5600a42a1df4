"""/curate: the curator's page, in the web app only when `curate.token` (or CURATE_TOKEN) is set.

A curator logs in with the token and a name (recorded with what they publish);
the session is a random id in an HttpOnly, SameSite=Strict cookie (Secure behind
an https public URL) kept in this process's memory; every form carries the
session's CSRF token; logging in is rate-limited per address and overall. The
page ranks what people asked and the bot could not answer well, and turns it
into a draft (bot/curation.py) that is validated, diffed, evaluated and published.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..classifier import start_trainer
from ..conversation import Conversation
from ..curation import (
    KINDS,
    Change,
    Curation,
    CurationError,
    apply_changes,
    diff,
    draft_topic_problems,
    draft_topics,
    group_questions,
    new_draft_topic,
    theme_ids,
)
from ..ratelimit import RateLimiter
from ..reload import DRAFTS
from ..utf8 import valid_text
from .app import BodyRefused, read_form_lists

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "curate_session"
LOGIN_COOKIE = "curate_login"
SESSION_SECONDS = 12 * 3600
MAX_SESSIONS = 100
# Guessing the token: 5 tries per address in 5 minutes, and 30 an hour from everyone together.
LOGIN_TRIES, LOGIN_WINDOW = 5, 300.0
LOGIN_TRIES_ALL, LOGIN_WINDOW_ALL = 30, 3600.0
MAX_GROUPS = 60  # groups of questions shown per list
MAX_FORM = 256 * 1024
MAX_LOGIN_FORM = 8192
MAX_DRAFT_TOPIC = 64 * 1024


@dataclass
class Session:
    name: str
    csrf: str
    expires: float


class CuratorPage:
    """The /curate routes around one conversation (its store and live knowledge) and one Curation."""

    def __init__(self, conversation: Conversation, token: str, state_dir: Path, secure_cookies: bool = False,
                 folds: int = 5) -> None:
        if not token:
            raise ValueError("the curator page needs a token")
        self.conversation = conversation
        self.live = conversation.knowledge
        self.store = conversation.store
        self.token = token.encode()
        self.secure = secure_cookies
        self.curation = Curation(self.live, state_dir, folds)
        self.sessions: dict[str, Session] = {}
        self.login_limiter = RateLimiter(LOGIN_TRIES, LOGIN_WINDOW)
        self.login_limiter_all = RateLimiter(LOGIN_TRIES_ALL, LOGIN_WINDOW_ALL)
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                                     trim_blocks=True, lstrip_blocks=True)
        self.templates.filters["when"] = _when

    def routes(self) -> list[Route]:
        return [
            Route("/curate", self.queue, methods=["GET"]),
            Route("/curate/login", self.login, methods=["GET", "POST"]),
            Route("/curate/logout", self.logout, methods=["POST"]),
            Route("/curate/phrasing", self.add_phrasing, methods=["POST"]),
            Route("/curate/out-of-scope", self.add_out_of_scope, methods=["POST"]),
            Route("/curate/dismiss", self.dismiss, methods=["POST"]),
            Route("/curate/new-topic", self.new_topic, methods=["POST"]),
            Route("/curate/topic/{topic}", self.draft_topic, methods=["GET", "POST"]),
            Route("/curate/topic/{topic}/queue", self.queue_topic, methods=["POST"]),
            Route("/curate/draft", self.draft_page, methods=["GET"]),
            Route("/curate/draft/remove", self.remove_change, methods=["POST"]),
            Route("/curate/publish", self.publish, methods=["POST"]),
        ]

    def close(self) -> None:
        self.curation.evaluator.close()

    # -- sessions and forms ----------------------------------------------------------------

    def session(self, request: Request) -> Session | None:
        sid = request.cookies.get(SESSION_COOKIE, "")
        session = self.sessions.get(sid) if sid else None
        if session is None or session.expires < time.time():
            self.sessions.pop(sid, None)
            return None
        return session

    async def form(self, request: Request, session: Session | None) -> dict[str, list[str]] | None:
        """The posted form, or None when its CSRF token is not the session's (or the form is too large)."""
        try:
            fields = await read_form_lists(request, MAX_FORM)
        except BodyRefused:  # too large, or the sender went away
            return None
        given = (fields.get("csrf") or [""])[0]
        if session is None or not hmac.compare_digest(given.encode(), session.csrf.encode()):
            return None
        return {k: [valid_text(v) for v in vs] for k, vs in fields.items()}

    def render(self, template: str, http_status: int = 200, **values) -> HTMLResponse:
        html = self.templates.get_template(template).render(**values)
        return HTMLResponse(html, status_code=http_status, headers={"Cache-Control": "no-store"})

    def forbidden(self) -> Response:
        return self.render("curate_login.html", http_status=403, csrf="", error="Your form expired or was not sent from "
                           "this page: open the page again and retry.", name="")

    def _cookie(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, path="/curate", httponly=True, samesite="strict",
                            secure=self.secure)

    def back(self, message: str = "", anchor: str = "") -> Response:
        from urllib.parse import quote

        target = "/curate" + (f"?done={quote(message)}" if message else "") + (f"#{anchor}" if anchor else "")
        return RedirectResponse(target, status_code=303)

    # -- login -----------------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        """GET: the form (a login CSRF token in a cookie and the form); POST: the token checked, a session opened."""
        if request.method == "GET":
            if self.session(request):
                return RedirectResponse("/curate", status_code=303)
            nonce = secrets.token_urlsafe(24)
            response = self.render("curate_login.html", csrf=nonce, error="", name="")
            self._cookie(response, LOGIN_COOKIE, nonce, 3600)
            return response
        address = request.client.host if request.client else "unknown"
        if self.login_limiter.check(address) != "ok" or self.login_limiter_all.check("all") != "ok":
            log.warning("curator login refused: too many attempts")
            return self.render("curate_login.html", http_status=429, csrf="", name="",
                               error="Too many attempts. Wait a few minutes, then open the page again.")
        try:
            fields = await read_form_lists(request, MAX_LOGIN_FORM)
        except BodyRefused:
            return self.forbidden()
        nonce = request.cookies.get(LOGIN_COOKIE, "")
        given = (fields.get("csrf") or [""])[0]
        token = (fields.get("token") or [""])[0]
        name = valid_text((fields.get("name") or [""])[0]).strip()[:40] or "curator"
        if not nonce or not hmac.compare_digest(given.encode(), nonce.encode()):
            return self.forbidden()
        if not hmac.compare_digest(token.encode("utf-8", "replace"), self.token):
            log.warning("curator login refused: wrong token")
            fresh = secrets.token_urlsafe(24)
            response = self.render("curate_login.html", http_status=403, csrf=fresh, name=name,
                                   error="That is not the curator token.")
            self._cookie(response, LOGIN_COOKIE, fresh, 3600)
            return response
        self._expire_sessions()
        sid = secrets.token_urlsafe(32)
        self.sessions[sid] = Session(name, secrets.token_urlsafe(32), time.time() + SESSION_SECONDS)
        log.info("curator %r logged in", name)
        # A curator's first change trains models: the fork server they come from starts now (bot/classifier.py).
        await run_in_threadpool(start_trainer)
        response = RedirectResponse("/curate", status_code=303)
        self._cookie(response, SESSION_COOKIE, sid, SESSION_SECONDS)
        response.delete_cookie(LOGIN_COOKIE, path="/curate", httponly=True, samesite="strict", secure=self.secure)
        return response

    def _expire_sessions(self) -> None:
        now = time.time()
        for sid in [s for s, session in self.sessions.items() if session.expires < now]:
            del self.sessions[sid]
        while len(self.sessions) >= MAX_SESSIONS:
            del self.sessions[min(self.sessions, key=lambda s: self.sessions[s].expires)]

    async def logout(self, request: Request) -> Response:
        session = self.session(request)
        if await self.form(request, session) is None:
            return self.forbidden()
        self.sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        response = RedirectResponse("/curate/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/curate", httponly=True, samesite="strict", secure=self.secure)
        return response

    # -- the queue -------------------------------------------------------------------------

    async def queue(self, request: Request) -> Response:
        """GET /curate: what people asked that the bot could not answer well, most asked first."""
        session = self.session(request)
        if session is None:
            return RedirectResponse("/curate/login", status_code=303)
        values = await run_in_threadpool(self._queue_values)
        return self.render("curate.html", session=session, done=request.query_params.get("done", "")[:300], **values)

    def _queue_values(self) -> dict:
        knowledge = self.live.get()
        matcher = knowledge.matcher
        rows = self.store.unanswered_for_curators()
        normalise = matcher.normaliser.normalise
        groups = group_questions(rows, normalise, ("none", "low"))[:MAX_GROUPS]
        as_question = group_questions(rows, normalise, ("as_question",))[:MAX_GROUPS]
        pending = {q for c in self.curation.draft.changes() for q in c.forget}
        groups = [g for g in groups if not set(g.questions) <= pending]
        as_question = [g for g in as_question if not set(g.questions) <= pending]
        for group in groups + as_question:
            match = matcher.match_question(group.text)
            ranked = ([(match.topic, match.score)] if match.topic else []) + [(a.topic, a.score) for a in match.alternatives]
            group.top = ranked[:3]
            group.decision = match.decision
        votes = self.store.votes_by_topic()
        disliked = sorted(((t, up, down) for t, (up, down) in votes.items() if down and t in knowledge.kb.topics),
                          key=lambda v: (-v[2], v[1]))
        return {
            "kb": knowledge.kb, "status": self.live.status(), "groups": groups, "as_question": as_question,
            "disliked": disliked, "kinds": KINDS, "changes": self.curation.draft.changes(),
            "drafts": draft_topics(self.curation.root), "themes": theme_ids(self.curation.root),
            "history": self.curation.history(10), "targets": self._targets(knowledge.kb),
        }

    @staticmethod
    def _targets(kb) -> list[tuple[str, str]]:
        """(value, label) of every place a phrasing may go: each topic, and each of its situations."""
        out = []
        for topic in kb.topics.values():
            out.append((topic.id, f"{topic.id} — {topic.title.zh}"))
            for situation in topic.situations:
                label = kb.situation_kinds[situation.id].label.zh if situation.id in kb.situation_kinds else situation.id
                out.append((f"{topic.id}/{situation.id}", f"{topic.id} / {label}"))
        return out

    async def _action(self, request: Request, act) -> Response:
        session = self.session(request)
        if session is None:
            return RedirectResponse("/curate/login", status_code=303)
        form = await self.form(request, session)
        if form is None:
            return self.forbidden()
        try:
            return await act(session, form)
        except CurationError as exc:
            return self.back(f"Not done: {exc}")

    async def add_phrasing(self, request: Request) -> Response:
        """POST /curate/phrasing: a group's question as a phrasing of a topic (or one of its situations)."""

        async def act(session: Session, form: dict) -> Response:
            text = _one(form, "text").strip()
            target = _one(form, "target")
            topic, _, situation = target.partition("/")
            change = Change("phrasing", text, topic, situation, session.name, time.time(), _forget(form))
            await run_in_threadpool(self._check_and_add, change)
            return self.back(f"Queued: {change.describe()}. Review the draft, then publish.")

        return await self._action(request, act)

    async def add_out_of_scope(self, request: Request) -> Response:
        async def act(session: Session, form: dict) -> Response:
            change = Change("out_of_scope", _one(form, "text").strip(), by=session.name, at=time.time(),
                            forget=_forget(form))
            await run_in_threadpool(self._check_and_add, change)
            return self.back(f"Queued: {change.describe()}.")

        return await self._action(request, act)

    def _check_and_add(self, change: Change) -> None:
        """Add a change to the draft if the draft with it can still be built (a real topic, no duplicate)."""
        import tempfile

        with tempfile.TemporaryDirectory(dir=self.curation._scratch()) as scratch:
            apply_changes(self.curation.root, self.curation.draft.changes() + [change], Path(scratch) / "knowledge")
        self.curation.draft.add(change)
        self.curation.train_draft()  # while the curator reviews the draft: publishing then finds the models ready

    async def dismiss(self, request: Request) -> Response:
        """POST /curate/dismiss: the group's stored questions deleted (noise, spam, already handled)."""

        async def act(session: Session, form: dict) -> Response:
            forget = _forget(form)
            self.store.forget_unanswered(forget)
            await run_in_threadpool(self.store.flush)
            log.info("curator %r dismissed %d stored question(s)", session.name, len(forget))
            return self.back(f"Dismissed {len(forget)} stored wording(s).")

        return await self._action(request, act)

    # -- draft topics ----------------------------------------------------------------------

    async def new_topic(self, request: Request) -> Response:
        async def act(session: Session, form: dict) -> Response:
            topic_id = _one(form, "id").strip().lower()
            theme = _one(form, "theme")
            if theme not in theme_ids(self.curation.root):
                raise CurationError(f"no theme {theme!r}")
            await run_in_threadpool(new_draft_topic, self.curation.root, topic_id, theme, _forget(form))
            return RedirectResponse(f"/curate/topic/{topic_id}", status_code=303)

        return await self._action(request, act)

    async def draft_topic(self, request: Request) -> Response:
        """GET: a draft topic's YAML in an editor and what stops it from being published; POST: saved."""
        session = self.session(request)
        if session is None:
            return RedirectResponse("/curate/login", status_code=303)
        topic_id = request.path_params["topic"]
        path = self.curation.root / DRAFTS / f"{topic_id}.yaml"
        if topic_id not in draft_topics(self.curation.root):
            return self.back(f"No draft topic {topic_id!r}.")
        saved = False
        if request.method == "POST":
            form = await self.form(request, session)
            if form is None:
                return self.forbidden()
            text = _one(form, "yaml").replace("\r\n", "\n")[:MAX_DRAFT_TOPIC]
            await run_in_threadpool(path.write_text, text, "utf-8")
            saved = True
        problems = await run_in_threadpool(self._draft_problems, topic_id)
        return self.render("curate_topic.html", session=session, topic_id=topic_id, saved=saved, problems=problems,
                           text=path.read_text(encoding="utf-8"))

    def _draft_problems(self, topic_id: str) -> list[str]:
        import tempfile

        with tempfile.TemporaryDirectory(dir=self.curation._scratch()) as scratch:
            return draft_topic_problems(self.curation.root, topic_id, Path(scratch))

    async def queue_topic(self, request: Request) -> Response:
        async def act(session: Session, form: dict) -> Response:
            topic_id = request.path_params["topic"]
            problems = await run_in_threadpool(self._draft_problems, topic_id)
            if problems:
                raise CurationError(f"draft topic {topic_id!r} is not ready: {problems[0]}")
            self.curation.draft.add(Change("topic", topic=topic_id, by=session.name, at=time.time()))
            self.curation.train_draft()
            return self.back(f"Queued: new topic {topic_id}.")

        return await self._action(request, act)

    # -- the draft and publishing ----------------------------------------------------------

    async def draft_page(self, request: Request) -> Response:
        """GET /curate/draft: the queued changes, their diff, validation, and the evaluation before and after."""
        session = self.session(request)
        if session is None:
            return RedirectResponse("/curate/login", status_code=303)
        values = await run_in_threadpool(self._draft_values)
        return self.render("curate_draft.html", session=session, **values)

    def _draft_values(self) -> dict:
        curation = self.curation
        changes = curation.draft.changes()
        folder, files, problems = curation.candidate(changes)
        try:
            diffs = diff(curation.root, folder, files) if files else []
            before = curation.evaluator.result(curation.root)
            after = curation.evaluator.result(folder) if changes and not problems else None
        finally:
            curation.discard(folder)
        if changes and not problems:
            curation.train_draft()  # already trained (the usual case) or after a restart: cheap either way
        return {"changes": changes, "diffs": diffs, "problems": problems, "before": before, "after": after,
                "status": self.live.status(), "folds": curation.evaluator.folds,
                "waiting": (before is None) or (bool(changes) and not problems and after is None)}

    async def remove_change(self, request: Request) -> Response:
        session = self.session(request)
        if session is None:
            return RedirectResponse("/curate/login", status_code=303)
        form = await self.form(request, session)
        if form is None:
            return self.forbidden()
        index = _one(form, "index")
        if index.isdigit():
            self.curation.draft.remove(int(index))
            self.curation.train_draft()
        return RedirectResponse("/curate/draft", status_code=303)

    async def publish(self, request: Request) -> Response:
        """POST /curate/publish: the draft written into the knowledge folder and served (or why not)."""

        async def act(session: Session, form: dict) -> Response:
            published, problems = await run_in_threadpool(self.curation.publish_now, session.name)
            if published is None:
                return self.back("Not published: " + "; ".join(problems[:3]))
            # The stored questions the published changes answer leave the queue.
            self.store.forget_unanswered([q for change in published.changes for q in change.forget])
            log.info("curator %r published version %s", session.name, published.version_after)
            return self.back(f"Published by {session.name}: version {published.version_after} is serving "
                             f"(reloaded in {published.seconds:.1f} s).")

        return await self._action(request, act)


def _one(form: dict[str, list[str]], key: str) -> str:
    values = form.get(key) or [""]
    return values[0]


def _forget(form: dict[str, list[str]]) -> list[str]:
    """The stored wordings a form's action applies to (hidden `q` fields)."""
    return [q for q in form.get("q", []) if q][:200]


def _when(timestamp: float | None) -> str:
    if not timestamp or timestamp == float("inf"):
        return "—"
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

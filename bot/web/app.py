"""One Starlette application for every web-facing channel.

- `/`, `/t/<topic-id>`, `/banned`, `/topics`: server-rendered pages that work without
  JavaScript (a small script only makes sending faster); nothing is loaded from
  another host; a Content-Security-Policy forbids it.
- `/api/ask`, `/api/check`, `/api/topics`: the JSON of `ask --json` and `check-message --json`.
- `POST /image` (the page's picture form, multipart, no script needed) and `POST /api/image`
  (the JSON of `image --json`): pictures read on this machine, never stored.
- `/api/kb`: every card as open data (bot/export.py).
- `/healthz`.
- `/curate` when `curate.token` is set: the curator's page (bot/web/curate.py).
- `/wechat` when `wechat.token` is set (bot/web/wechat.py).
- `/telegram` when a token and `telegram.mode: webhook` are set: the same
  Telegram bot, fed through python-telegram-bot's Application with no updater.

The page keeps one cookie, a random visitor id, and only once it is needed: it
keys the visitor's language choice, votes and conversation state in the store.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import languages
from ..conversation import PLATFORMS, REASONS, Card, Checked, Conversation, Notice, Reply
from ..export import cards_json
from ..knowledge import KnowledgeBase, Localized
from ..ratelimit import RateLimiter
from ..reading import MAX_BYTES as MAX_PICTURE, PictureError
from ..reload import pin_knowledge
from ..render import link_lines, match_json, picture_json, reply_first, source_lines
from ..utf8 import valid_text

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MAX_BODY = 64 * 1024  # bytes of a request body; a longer one is refused with 413
MAX_TEXT = 4000  # characters of a question or message that are read
VISITOR_COOKIE = "v"
VISITOR_MAX_AGE = 365 * 24 * 3600
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass
class WebSettings:
    public_url: str = ""
    rate_requests: int = 30
    rate_window: float = 60.0
    secure_cookies: bool = False


class TooLarge(Exception):
    pass


class Site:
    """The page's handlers, around one Conversation."""

    def __init__(self, conversation: Conversation, settings: WebSettings) -> None:
        self.conversation = conversation
        self.settings = settings
        self.limiter = RateLimiter(settings.rate_requests, settings.rate_window)
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base this request pinned (bot/reload.py): a reload never changes it mid-reply."""
        return self.conversation.kb

    # -- plumbing ------------------------------------------------------------------------

    def visitor(self, request: Request) -> str | None:
        value = request.cookies.get(VISITOR_COOKIE, "")
        return f"web:{value}" if 16 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum() else None

    def lang(self, request: Request, text: str | None = None) -> str:
        """The visitor's chosen language, else the text's, else the browser's Accept-Language."""
        visitor = self.visitor(request)
        fallback = accepted_language(request.headers.get("accept-language", ""))
        if visitor is None:
            return languages.detect(text) if text and any(c.isalpha() for c in text) else fallback
        return self.conversation.language(visitor, text, fallback)

    def page(self, request: Request, template: str, status: int = 200, lang: str | None = None,
             new_visitor: str | None = None, **values: Any) -> HTMLResponse:
        lang = lang or self.lang(request)
        kb = self.kb

        def t(key: str) -> str:
            return kb.text(key, lang)

        def loc(value: Localized) -> str:
            return value.get(lang)

        html = self.templates.get_template(template).render(
            t=t, loc=loc, lang=lang, kb=kb, menu=languages.menu(), path=request.url.path,
            sources=lambda topic: source_lines(topic, lang), answer_lines=answer_lines,
            link_lines=lambda links: link_lines(kb, links, lang), first=lambda reply: reply_first(kb, reply), **values)
        response = HTMLResponse(html, status_code=status, headers={"Content-Language": lang})
        if new_visitor:
            self.set_visitor(response, new_visitor)
        return response

    def set_visitor(self, response: Response, visitor: str) -> None:
        response.set_cookie(VISITOR_COOKIE, visitor.removeprefix("web:"), max_age=VISITOR_MAX_AGE, httponly=True,
                            samesite="lax", secure=self.settings.secure_cookies)

    def visitor_or_new(self, request: Request) -> tuple[str, str | None]:
        """The visitor id, and the id to set as a cookie when it is new."""
        visitor = self.visitor(request)
        if visitor is not None:
            return visitor, None
        visitor = "web:" + secrets.token_urlsafe(18)
        return visitor, visitor

    def limited(self, request: Request) -> bool:
        address = request.client.host if request.client else "unknown"
        return self.limiter.check(address) != "ok"

    # -- pages ---------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        """GET /: the box, and the topic browser."""
        return self.page(request, "home.html", reply=None, text="")

    async def ask_page(self, request: Request) -> Response:
        """POST /: a question or a pasted message, answered on the page."""
        # The page's script asks for the reply alone; without script, the whole page comes back.
        template = "fragment.html" if request.headers.get("x-partial") == "1" else "home.html"
        if self.limited(request):
            return self.page(request, template, status=429, reply=Notice("web_too_many", self.lang(request)), text="")
        try:
            form = await read_form(request)
        except TooLarge:
            return PlainTextResponse("Request body too large (at most 64 KB).", status_code=413)
        text = valid_text(form.get("q", ""))[:MAX_TEXT]
        lang = self.lang(request, text)
        page_lang = request.headers.get("x-page-lang")
        if template == "fragment.html" and page_lang and page_lang != lang and text.strip():
            # The reply would be in another language than the page around it: the script
            # sends the form again as a whole page, in the reply's language.
            return Response(status_code=204, headers={"Content-Language": lang, "X-Whole-Page": "1"})
        visitor, new = self.visitor_or_new(request)
        if form.get("as") == "question":
            reply: Reply = self.conversation.as_question(visitor, text, lang)
        else:
            reply = self.conversation.receive(visitor, text, fallback_lang=lang)
        return self.page(request, template, lang=reply_lang(reply, lang), new_visitor=new, reply=reply,
                         text=text if isinstance(reply, Checked) else "")

    async def picture_page(self, request: Request) -> Response:
        """POST /image: a picture chosen or pasted on the page (multipart), read and answered on the page."""
        template = "fragment.html" if request.headers.get("x-partial") == "1" else "home.html"
        lang = self.lang(request)
        if self.limited(request):
            return self.page(request, template, status=429, reply=Notice("web_too_many", lang), text="")
        try:
            data = await read_picture_upload(request)
        except TooLarge:
            return self.page(request, template, status=413, reply=Notice("picture_too_big", lang), text="")
        visitor, new = self.visitor_or_new(request)
        try:
            reading = await self.conversation.pictures.read_async(data, visitor)
        except PictureError as exc:
            return self.page(request, template, status=PICTURE_STATUS.get(exc.key, 400), new_visitor=new,
                             reply=Notice(exc.key, lang), text="")
        reply = self.conversation.picture(visitor, reading, fallback_lang=lang)
        return self.page(request, template, lang=reply.lang, new_visitor=new, reply=reply, text="")

    async def topic_page(self, request: Request) -> Response:
        """GET /t/<topic-id>: a card as a page (every card's share link)."""
        topic_id = request.path_params["topic"]
        if topic_id not in self.kb.topics:
            return self.page(request, "missing.html", status=404)
        # ?lang= opens a shared link in the sender's language (WeChat's browser claims Chinese).
        lang = languages.normalize_code(request.query_params.get("lang")) or self.lang(request)
        topic = self.kb.topics[topic_id]
        visitor = self.visitor(request)
        if visitor is not None:  # remembered as the visitor's last card, for a follow-up question
            reply: Reply = self.conversation.open(visitor, topic_id, lang)
        else:
            reply = Card(topic, lang)
        voted = request.query_params.get("voted") in ("1", "0")
        return self.page(request, "topic.html", lang=lang, reply=reply, voted=voted, share=self.share_link(topic_id))

    async def vote(self, request: Request) -> Response:
        """POST /t/<topic-id>/vote: 👍 or 👎, one vote per visitor and card."""
        topic_id = request.path_params["topic"]
        if topic_id not in self.kb.topics:
            return self.page(request, "missing.html", status=404)
        if self.limited(request):
            return self.page(request, "home.html", status=429, reply=Notice("web_too_many", self.lang(request)), text="")
        try:
            form = await read_form(request)
        except TooLarge:
            return PlainTextResponse("Request body too large (at most 64 KB).", status_code=413)
        visitor, new = self.visitor_or_new(request)
        up = form.get("up") == "1"
        self.conversation.vote(visitor, topic_id, up)
        response = RedirectResponse(f"/t/{topic_id}?voted={int(up)}#vote", status_code=303)
        if new:
            self.set_visitor(response, new)
        return response

    async def topics_page(self, request: Request) -> Response:
        """GET /topics: every topic, theme by theme."""
        return self.page(request, "topics.html")

    async def banned_page(self, request: Request) -> Response:
        """GET/POST /banned: the guided checklist as plain forms (the form carries the platform)."""
        lang = self.lang(request)
        if request.method == "GET":
            return self.page(request, "banned.html", lang=lang, step="platform",
                             options=self.conversation.platform_options(lang))
        if self.limited(request):
            return self.page(request, "home.html", status=429, reply=Notice("web_too_many", lang), text="")
        try:
            form = await read_form(request)
        except TooLarge:
            return PlainTextResponse("Request body too large (at most 64 KB).", status_code=413)
        platform = form.get("platform", "")
        if platform not in PLATFORMS:
            return self.page(request, "banned.html", lang=lang, step="platform",
                             options=self.conversation.platform_options(lang))
        notice = valid_text(form.get("notice", ""))[:MAX_TEXT].strip()
        reason = form.get("reason", "")
        if not notice and reason not in REASONS:
            return self.page(request, "banned.html", lang=lang, step="notice", platform=platform,
                             options=self.conversation.reason_options(lang))
        # A pasted notice is read for what it states; otherwise the reason the person chose.
        checklist = self.conversation.checklist(platform, self.conversation.read_notice(notice) if notice else reason,
                                                lang)
        return self.page(request, "banned.html", lang=lang, step="done", reply=checklist)

    async def choose_language(self, request: Request) -> Response:
        """GET /lang/<code>: remember the visitor's language, back to where they were."""
        code = languages.normalize_code(request.path_params["code"])
        visitor, new = self.visitor_or_new(request)
        self.conversation.set_language(visitor, code if code in languages.LANGUAGES else None)
        back = request.query_params.get("next", "/")
        if not back.startswith("/") or back.startswith("//"):
            back = "/"
        response = RedirectResponse(back, status_code=303)
        if new:
            self.set_visitor(response, new)
        return response

    def share_link(self, topic_id: str) -> str:
        base = self.settings.public_url.rstrip("/")
        return f"{base}/t/{topic_id}" if base else f"/t/{topic_id}"

    # -- JSON API --------------------------------------------------------------------------

    async def api_ask(self, request: Request) -> Response:
        """POST /api/ask {"q": …, "lang"?: …}: the JSON of `ask --json`."""
        body = await self.api_body(request, "q")
        if isinstance(body, Response):
            return body
        text, lang = body
        match = self.conversation.matcher.match_question(text)
        return JSONResponse(match_json(self.kb, match, lang), headers=SECURITY_HEADERS)

    async def api_check(self, request: Request) -> Response:
        """POST /api/check {"text": …, "lang"?: …}: the JSON of `check-message --json`."""
        body = await self.api_body(request, "text")
        if isinstance(body, Response):
            return body
        text, lang = body
        verdict = self.conversation.checker.check_message(text)
        return JSONResponse(verdict.as_json(lang or languages.detect(text)), headers=SECURITY_HEADERS)

    async def api_image(self, request: Request) -> Response:
        """POST /api/image: the picture as the body (or a multipart field `image`); the JSON of `image --json`."""
        if self.limited(request):
            return api_error(429, "too many requests: try again in a minute")
        lang = request.query_params.get("lang")
        if lang is not None and languages.normalize_code(lang) is None:
            return api_error(400, f"unknown lang {lang!r}: one of {', '.join(languages.LANGUAGES)}")
        try:
            data = await read_picture_upload(request)
        except TooLarge:
            return api_error(413, f"picture too large (at most {MAX_PICTURE // (1024 * 1024)} MB)")
        try:
            reading = await self.conversation.pictures.read_async(data, "api")
        except PictureError as exc:
            return api_error(PICTURE_STATUS.get(exc.key, 400), str(exc))
        # One shared person for the API: it keeps no conversation between requests.
        pictured = self.conversation.picture("api", reading, lang=languages.normalize_code(lang) if lang else None)
        return JSONResponse(picture_json(self.kb, pictured, reading.ms), headers=SECURITY_HEADERS)

    async def api_topics(self, request: Request) -> Response:
        """GET /api/topics[?lang=]: every topic's id, theme, title and summary."""
        lang = languages.normalize_code(request.query_params.get("lang")) or accepted_language(
            request.headers.get("accept-language", ""))
        topics = [{"id": t.id, "theme": t.theme, "title": t.title.get(lang), "summary": t.summary.get(lang),
                   "url": self.share_link(t.id)} for t in self.kb.topics.values()]
        return JSONResponse({"lang": lang, "topics": topics}, headers=SECURITY_HEADERS)

    async def api_kb(self, request: Request) -> Response:
        """GET /api/kb[?lang=]: every card as JSON (open data), with the knowledge base's version as ETag."""
        lang = languages.normalize_code(request.query_params.get("lang"))
        version = self.conversation.knowledge.get().version
        etag = f'"{version}-{lang or "all"}"'
        headers = {**SECURITY_HEADERS, "ETag": etag, "Cache-Control": "public, max-age=60",
                   "Access-Control-Allow-Origin": "*"}
        if version and request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return JSONResponse(cards_json(self.kb, version, lang, self.share_link), headers=headers)

    async def api_body(self, request: Request, field: str) -> tuple[str, str | None] | Response:
        if self.limited(request):
            return api_error(429, "too many requests: try again in a minute")
        try:
            raw = await read_body(request)
        except TooLarge:
            return api_error(413, "request body too large (at most 64 KB)")
        try:
            data = json.loads(raw.decode("utf-8", errors="replace") or "null")
        except ValueError:
            return api_error(400, "the body is not valid JSON")
        if not isinstance(data, dict) or not isinstance(data.get(field), str):
            return api_error(400, f"expected a JSON object with a string field {field!r}")
        lang = data.get("lang")
        if lang is not None and (not isinstance(lang, str) or languages.normalize_code(lang) is None):
            return api_error(400, f"unknown lang {lang!r}: one of {', '.join(languages.LANGUAGES)}")
        return valid_text(data[field])[:MAX_TEXT], languages.normalize_code(lang) if lang else None

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"ok": True, "topics": len(self.kb.topics)})


_NUMBERED = re.compile(r"^\s*\d+[.、)]\s*")


def answer_lines(text: str) -> tuple[bool, list[str]]:
    """An answer's lines, and whether they are numbered steps (shown as a list, numbers stripped)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    numbered = bool(lines) and all(_NUMBERED.match(line) for line in lines)
    return numbered, [_NUMBERED.sub("", line) for line in lines] if numbered else lines


# The HTTP status of a picture that cannot be read now.
PICTURE_STATUS = {"picture_too_big": 413, "picture_busy": 503, "picture_timeout": 503}


async def read_picture_upload(request: Request) -> bytes:
    """The picture of a request: a multipart form's `image` field, or the whole body. In memory only, never on disk."""
    limit = MAX_PICTURE + MAX_BODY  # the picture and the form around it
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    body = b"".join(chunks)
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        body = multipart_field(body, content_type, "image")
    if len(body) > MAX_PICTURE:
        raise TooLarge
    return body


def multipart_field(body: bytes, content_type: str, name: str) -> bytes:
    """One field of a multipart/form-data body (b"" when it is missing or the body is malformed)."""
    import email.parser
    import email.policy

    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", errors="replace")
    try:
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    except Exception:  # a malformed body is a missing picture, never a traceback
        return b""
    if not message.is_multipart():
        return b""
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            return part.get_payload(decode=True) or b""
    return b""


def reply_lang(reply: Reply, default: str) -> str:
    return getattr(reply, "lang", default)


def api_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=SECURITY_HEADERS)


def accepted_language(header: str) -> str:
    """The first language of an Accept-Language header that the bot speaks."""
    ranked = []
    for i, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip()))
    for _, _, tag in sorted(ranked):
        code = languages.normalize_code(tag)
        if code:
            return code
    return languages.DEFAULT


async def read_body(request: Request) -> bytes:
    """The request body, refused past MAX_BODY bytes without reading it all."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form, size-limited; every value text."""
    from urllib.parse import parse_qsl

    raw = await read_body(request)
    return {k: v for k, v in parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True)}


def security_headers(app):
    """ASGI middleware: the CSP and friends on every response that has no headers of its own."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped


def build_app(conversation: Conversation, settings: WebSettings | None = None, wechat=None,
              telegram_routes: list[Route] | None = None, lifespan=None, page_routes: list[Route] | None = None) -> Any:
    """The ASGI application: pages, API, health, the WeChat and Telegram endpoints and other pages (/curate) when given."""
    site = Site(conversation, settings or WebSettings())
    routes = [
        Route("/", site.home, methods=["GET", "HEAD"]),
        Route("/", site.ask_page, methods=["POST"]),
        Route("/image", site.picture_page, methods=["POST"]),
        Route("/topics", site.topics_page, methods=["GET", "HEAD"]),
        Route("/t/{topic}", site.topic_page, methods=["GET", "HEAD"]),
        Route("/t/{topic}/vote", site.vote, methods=["POST"]),
        Route("/banned", site.banned_page, methods=["GET", "POST"]),
        Route("/lang/{code}", site.choose_language, methods=["GET"]),
        Route("/api/ask", site.api_ask, methods=["POST"]),
        Route("/api/check", site.api_check, methods=["POST"]),
        Route("/api/image", site.api_image, methods=["POST"]),
        Route("/api/topics", site.api_topics, methods=["GET"]),
        Route("/api/kb", site.api_kb, methods=["GET"]),
        Route("/healthz", site.healthz, methods=["GET", "HEAD"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    routes += page_routes or []
    if wechat is not None:
        routes.append(Route("/wechat", wechat, methods=["GET", "POST"]))
    routes += telegram_routes or []
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.site = site
    # Outermost: a request's whole answer comes from the knowledge bundle serving when it arrived.
    return pin_knowledge(security_headers(app), conversation.knowledge)

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

The page keeps two cookies, each only once it is needed: the language chosen
(`lang`, nothing stored), and a visitor id the server issues and signs (`v`, never
one a client makes up), which keys the visitor's votes and conversation state in
the store. A reply that follows a write is sent once the write is committed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .. import languages
from ..conversation import PLATFORMS, REASONS, Card, Checked, Conversation, Notice, Reply
from ..export import cards_json
from ..knowledge import KnowledgeBase, Localized
from ..ratelimit import RateLimiter, SharedRateLimiter, rate_limiter
from ..reading import MAX_BYTES as MAX_PICTURE, PictureError
from ..reload import pin_knowledge
from ..render import link_lines, match_json, picture_json, reply_first, source_lines
from ..store import StoreUnavailable
from ..utf8 import valid_text
from .limits import ClientAddress, rate_key

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
MAX_BODY = 64 * 1024  # bytes of a request body; a longer one is refused with 413
MAX_TEXT = 4000  # characters of a question or message that are read
VISITOR_COOKIE = "v"
VISITOR_MAX_AGE = 365 * 24 * 3600
LANG_COOKIE = "lang"
# A visitor id: 18 random bytes, then a 16-byte signature, both in base64url (ASCII only).
_VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{24}")
# How long a reply waits for its write to be committed before it says "not saved".
SAVE_TIMEOUT = 5.0
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Sent only when the public address is HTTPS: a browser then never tries plain HTTP for a year.
HSTS = ("Strict-Transport-Security", "max-age=31536000")


@dataclass
class WebSettings:
    public_url: str = ""
    rate_requests: int = 30
    rate_window: float = 60.0
    secure_cookies: bool = False
    trusted_proxies: str = "127.0.0.1"


class BodyRefused(Exception):
    """A request body that is not read: too large, or its sender went away."""

    status = 400
    message = "bad request"


class TooLarge(BodyRefused):
    status = 413
    message = "request body too large (at most 64 KB)"


class ClientGone(BodyRefused):
    message = "the request body did not arrive"


class Site:
    """The page's handlers, around one Conversation."""

    def __init__(self, conversation: Conversation, settings: WebSettings) -> None:
        self.conversation = conversation
        self.settings = settings
        self.store = conversation.store
        self.limiter = rate_limiter(self.store, "web", settings.rate_requests, settings.rate_window)
        # Reading a card as a visitor writes (the last card, a view): its own budget of the same size.
        self.view_limiter = rate_limiter(self.store, "web-view", settings.rate_requests, settings.rate_window)
        self._visitor_key = self.store.key("web visitor ids")
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
        """The visitor of a cookie this server issued ("web:<id>"), else None."""
        ident, dot, signature = request.cookies.get(VISITOR_COOKIE, "").partition(".")
        if dot and _VISITOR_ID.fullmatch(ident) and hmac.compare_digest(
                signature.encode("utf-8", "replace"), self._signature(ident).encode()):
            return f"web:{ident}"
        return None

    def _signature(self, ident: str) -> str:
        digest = hmac.new(self._visitor_key, ident.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def chosen_lang(self, request: Request) -> str | None:
        """The language the visitor chose (its own cookie), if any."""
        code = languages.normalize_code(request.cookies.get(LANG_COOKIE, "")[:16])
        return code if code in languages.LANGUAGES else None

    def lang(self, request: Request, text: str | None = None) -> str:
        """The visitor's chosen language, else the text's, else the browser's Accept-Language."""
        chosen = self.chosen_lang(request)
        if chosen is not None:
            return chosen
        if text and any(c.isalpha() for c in text):
            return languages.detect(text)
        return accepted_language(request.headers.get("accept-language", ""))

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
        ident = visitor.removeprefix("web:")
        response.set_cookie(VISITOR_COOKIE, f"{ident}.{self._signature(ident)}", max_age=VISITOR_MAX_AGE,
                            httponly=True, samesite="lax", secure=self.settings.secure_cookies)

    def visitor_or_new(self, request: Request) -> tuple[str, str | None]:
        """The visitor id, and the id to set as a cookie when it is new."""
        visitor = self.visitor(request)
        if visitor is not None:
            return visitor, None
        visitor = "web:" + secrets.token_urlsafe(18)
        return visitor, visitor

    async def limited(self, request: Request, limiter: RateLimiter | SharedRateLimiter | None = None) -> bool:
        address = request.client.host if request.client else "unknown"
        limiter = self.limiter if limiter is None else limiter
        if limiter.shared:  # a statement on the shared database: off the event loop
            return await run_in_threadpool(limiter.check, rate_key(address)) != "ok"
        return limiter.check(rate_key(address)) != "ok"

    async def saved(self) -> None:
        """Once every write so far is committed (what the reply is about to say was done); StoreUnavailable if not."""
        try:
            await asyncio.wait_for(asyncio.wrap_future(self.store.confirmation()), SAVE_TIMEOUT)
        except asyncio.TimeoutError:
            raise StoreUnavailable(f"no commit within {SAVE_TIMEOUT:.0f} s") from None

    def refusal(self, request: Request, status: int, key: str) -> Response:
        """A refusal (too many requests, not saved) as the page, the script's fragment, or API JSON."""
        lang = self.lang(request)
        if request.url.path.startswith("/api/"):
            return api_error(status, self.kb.text(key, "en"))
        template = "fragment.html" if request.headers.get("x-partial") == "1" else "home.html"
        return self.page(request, template, status=status, lang=lang, reply=Notice(key, lang), text="")

    # -- pages ---------------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        """GET /: the box, and the topic browser."""
        return self.page(request, "home.html", reply=None, text="")

    async def ask_page(self, request: Request) -> Response:
        """POST /: a question or a pasted message, answered on the page."""
        # The page's script asks for the reply alone; without script, the whole page comes back.
        template = "fragment.html" if request.headers.get("x-partial") == "1" else "home.html"
        if await self.limited(request):
            return self.refusal(request, 429, "web_too_many")
        form = await read_form(request)
        text = valid_text(form.get("q", ""))[:MAX_TEXT]
        lang = self.lang(request, text)
        page_lang = request.headers.get("x-page-lang")
        if template == "fragment.html" and page_lang and page_lang != lang and text.strip():
            # The reply would be in another language than the page around it: the script
            # sends the form again as a whole page, in the reply's language.
            return Response(status_code=204, headers={"Content-Language": lang, "X-Whole-Page": "1"})
        visitor, new = self.visitor_or_new(request)
        chosen = self.chosen_lang(request)
        # In a worker thread: the conversation reads the database, which may be slow.
        if form.get("as") == "question":
            reply: Reply = await run_in_threadpool(self.conversation.as_question, visitor, text, lang)
        else:
            reply = await run_in_threadpool(self.conversation.receive, visitor, text, lang, chosen)
        await self.saved()
        return self.page(request, template, lang=reply_lang(reply, lang), new_visitor=new, reply=reply,
                         text=text if isinstance(reply, Checked) else "")

    async def picture_page(self, request: Request) -> Response:
        """POST /image: a picture chosen or pasted on the page (multipart), read and answered on the page."""
        template = "fragment.html" if request.headers.get("x-partial") == "1" else "home.html"
        lang = self.lang(request)
        if await self.limited(request):
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
        reply = await run_in_threadpool(lambda: self.conversation.picture(visitor, reading, fallback_lang=lang))
        await self.saved()
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
        reply: Reply = Card(topic, lang)
        if visitor is not None and not await self.limited(request, self.view_limiter):
            # Remembered as the visitor's last card, for a follow-up question (not promised: not waited for).
            try:
                reply = await run_in_threadpool(self.conversation.open, visitor, topic_id, lang)
            except StoreUnavailable:
                pass
        voted = request.query_params.get("voted") in ("1", "0")
        return self.page(request, "topic.html", lang=lang, reply=reply, voted=voted, share=self.share_link(topic_id))

    async def vote(self, request: Request) -> Response:
        """POST /t/<topic-id>/vote: 👍 or 👎, one vote per visitor and card."""
        topic_id = request.path_params["topic"]
        if topic_id not in self.kb.topics:
            return self.page(request, "missing.html", status=404)
        if await self.limited(request):
            return self.refusal(request, 429, "web_too_many")
        form = await read_form(request)
        visitor, new = self.visitor_or_new(request)
        up = form.get("up") == "1"
        await run_in_threadpool(self.conversation.vote, visitor, topic_id, up)
        await self.saved()
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
        if await self.limited(request):
            return self.refusal(request, 429, "web_too_many")
        form = await read_form(request)
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
        """GET /lang/<code>: the language in its own cookie (nothing stored), back to where they were."""
        code = languages.normalize_code(request.path_params["code"][:16])
        back = request.query_params.get("next", "/")
        if not back.startswith("/") or back.startswith("//") or "\\" in back:
            back = "/"
        response = RedirectResponse(back, status_code=303)
        if code in languages.LANGUAGES:
            response.set_cookie(LANG_COOKIE, code, max_age=VISITOR_MAX_AGE, httponly=True, samesite="lax",
                                secure=self.settings.secure_cookies)
        else:  # "auto": each question's own language
            response.delete_cookie(LANG_COOKIE, httponly=True, samesite="lax", secure=self.settings.secure_cookies)
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
        if await self.limited(request):
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
        if await self.limited(request):
            return api_error(429, "too many requests: try again in a minute")
        raw = await read_body(request)
        try:
            data = json.loads(raw.decode("utf-8", errors="replace") or "null")
        except (ValueError, RecursionError):  # RecursionError: nested a thousand deep
            return api_error(400, "the body is not valid JSON")
        if not isinstance(data, dict) or not isinstance(data.get(field), str):
            return api_error(400, f"expected a JSON object with a string field {field!r}")
        lang = data.get("lang")
        if lang is not None and (not isinstance(lang, str) or languages.normalize_code(lang) is None):
            return api_error(400, f"unknown lang {lang!r}: one of {', '.join(languages.LANGUAGES)}")
        return valid_text(data[field])[:MAX_TEXT], languages.normalize_code(lang) if lang else None

    async def healthz(self, request: Request) -> Response:
        """{"ok", "topics", "store": {"queue", "failing", "last_error", "last_error_at"}}; 503 while writes fail."""
        store = self.store.status()
        ok = not store["failing"]
        return JSONResponse({"ok": ok, "topics": len(self.kb.topics), "store": store}, status_code=200 if ok else 503)

    async def on_body_refused(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BodyRefused)
        if request.url.path.startswith("/api/"):
            return api_error(exc.status, exc.message)
        return PlainTextResponse(exc.message, status_code=exc.status)

    async def on_store_unavailable(self, request: Request, exc: Exception) -> Response:
        log.warning("a reply was refused: the database could not save it (%s)", exc)
        return self.refusal(request, 503, "web_not_saved")


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
    body = await read_body(request, MAX_PICTURE + MAX_BODY)  # the picture and the form around it
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


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, refused past `limit` bytes without reading it all."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise TooLarge
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise TooLarge
            chunks.append(chunk)
    except ClientDisconnect:  # gone, or cut off by the server for sending too slowly
        raise ClientGone from None
    return b"".join(chunks)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form, size-limited; every value text (the last of a field sent twice)."""
    return {k: values[-1] for k, values in (await read_form_lists(request)).items()}


async def read_form_lists(request: Request, limit: int = MAX_BODY) -> dict[str, list[str]]:
    """An urlencoded form, refused past `limit` bytes (BodyRefused); every value of each field, as text."""
    from urllib.parse import parse_qs

    raw = await read_body(request, limit)
    return parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)


def security_headers(app, hsts: bool = False):
    """ASGI middleware: the CSP and friends on every response that has no headers of its own."""
    extra = dict(SECURITY_HEADERS, **({HSTS[0]: HSTS[1]} if hsts else {}))

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for name, value in extra.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await app(scope, receive, send_with_headers)

    return wrapped


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_site(headers: Headers, public_url: str) -> bool:
    """Whether a browser sent this request from another site (a forged vote or question).

    Sec-Fetch-Site when the browser sends it, else Origin; a request with neither
    comes from no browser (curl, a script), which has no victim's cookies to abuse.
    """
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site.lower() not in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return False
    netloc = origin.partition("://")[2].rstrip("/").lower()
    allowed = {headers.get("host", "").lower(), public_url.partition("://")[2].rstrip("/").lower()}
    return not netloc or netloc not in allowed


def refuse_cross_site(app, public_url: str, exempt: frozenset[str]):
    """ASGI middleware: a POST (or any method that changes something) from another site gets 403."""

    async def wrapped(scope, receive, send):
        if (scope["type"] == "http" and scope["method"] not in SAFE_METHODS and scope["path"] not in exempt
                and cross_site(Headers(scope=scope), public_url)):
            if scope["path"].startswith("/api/"):
                response: Response = api_error(403, "cross-site requests are refused")
            else:
                response = PlainTextResponse("Cross-site requests are refused.", status_code=403)
            return await response(scope, receive, send)
        await app(scope, receive, send)

    return wrapped


def build_app(conversation: Conversation, settings: WebSettings | None = None, wechat=None,
              telegram_routes: list[Route] | None = None, lifespan=None, page_routes: list[Route] | None = None) -> Any:
    """The ASGI application: pages, API, health, the WeChat and Telegram endpoints and other pages (/curate) when given."""
    settings = settings or WebSettings()
    site = Site(conversation, settings)
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
    # Servers, not browsers, post to these: each request carries its own signature or secret.
    machine_paths = set()
    if wechat is not None:
        routes.append(Route("/wechat", wechat, methods=["GET", "POST"]))
        machine_paths.add("/wechat")
    for route in telegram_routes or []:
        routes.append(route)
        machine_paths.add(route.path)
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        BodyRefused: site.on_body_refused, StoreUnavailable: site.on_store_unavailable})
    app.state.site = site
    guarded = refuse_cross_site(app, settings.public_url, frozenset(machine_paths))
    # Outermost but one: a request's whole answer comes from the knowledge bundle serving when it arrived.
    pinned = pin_knowledge(security_headers(guarded, hsts=settings.public_url.startswith("https://")),
                           conversation.knowledge)
    return ClientAddress(pinned, settings.trusted_proxies)

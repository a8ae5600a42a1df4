"""The WeChat Official Account (公众号) endpoint: WeChat's signed XML in, the conversation's reply as a passive text reply out.

WeChat signs every request with the account's Token and, in the encrypted (安全)
and compatible (兼容) modes, encrypts the body with the EncodingAESKey. A passive
reply must come within 5 seconds and hold at most 2,048 bytes; WeChat resends a
message it got no reply to, so replies are remembered briefly by MsgId. An image
message is downloaded from its PicUrl (a short time limit, in memory only, and only
from WeChat's picture hosts: bot/web/fetch.py) and read on this machine; when that
cannot finish in time, or the address is not WeChat's, the follower is asked for the text.

The URL's signature covers only its timestamp and nonce (in the plain mode not the
body), so a signed URL is taken only within 5 minutes of its timestamp, and once:
the same URL again with another body is refused. On a shared store (PostgreSQL, several
processes) the nonces, the replies by MsgId and the rate limit live in the store, so a
resend that reaches another process gets the reply the first one made, made once. With a key set, only encrypted
messages are read. Every refusal is the same "400 invalid request", whatever the
reason (the log says which), so that it tells a prober nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from typing import Any, Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from .. import languages
from ..cache import ExpiringLRU
from ..config import Config, host_names
from ..conversation import (
    Card,
    Checked,
    Checklist,
    ChecklistQuestion,
    Choices,
    Conversation,
    NoAnswer,
    Notice,
    Pictured,
    Reply,
)
from ..errors import UserError
from ..knowledge import KnowledgeBase
from ..ratelimit import rate_limiter
from ..reading import PictureError
from ..store import StoreUnavailable
from ..render import (
    fit_utf8,
    link_lines,
    reply_first,
    render_card_short_text,
    render_checklist_short_text,
    render_none_short_text,
    render_numbered_text,
    render_topic_list_text,
    render_verdict_text,
)
from ..utf8 import valid_text
from .app import MAX_TEXT, SAVE_TIMEOUT, BodyRefused, TooLarge, read_body
from .fetch import PictureFetcher, Refused

log = logging.getLogger(__name__)

MAX_REPLY_BYTES = 2048  # of a passive text reply's content, in UTF-8
MAX_FLAGS = 3  # red flags quoted in a verdict; the strongest come first
# WeChat resends an unanswered message three times, 5 s apart: a reply is kept
# long enough to answer every resend, and the map is bounded whatever the traffic.
RETRY_WINDOW = 60.0
RETRY_MEMORY = 4096
# A signed URL is taken within this many seconds of its timestamp, either way, and once:
# its nonce is remembered (with the body it came with) for twice as long.
TIMESTAMP_WINDOW = 300
NONCE_MEMORY = 50_000
# A shared store: a message being answered by a process that died (no reply after this
# long: WeChat's own wait) is answered by the next process its resend reaches; until
# then a resend waits for the first reply, checking every SHARED_POLL seconds. (WeChat
# resends after 5 s, so its resend of a message whose process died is answered at once.)
CLAIM_LEASE = 5.0
SHARED_POLL = 0.05
SUCCESS = "success"  # the body that tells WeChat "received, no reply" (it then never resends)
# An image message: WeChat waits 5 s for the reply. The picture is downloaded within
# PICTURE_DOWNLOAD seconds and read within what is left of PICTURE_BUDGET; past that,
# or with more than PICTURE_QUEUE pictures already waiting, the follower is asked for the text.
PICTURE_BUDGET = 4.0
PICTURE_DOWNLOAD = 1.5
PICTURE_QUEUE = 1
# Events that greet; events that no person sent (a reply would arrive out of the blue).
WELCOME_EVENTS = frozenset({"subscribe", "subscribe_scan", "subscribe_scan_product", "scan"})
SILENT_EVENTS = frozenset({"unsubscribe", "location", "view", "view_miniprogram",
                           "templatesendjobfinish", "masssendjobfinish"})
# Commands besides the words of ui.yaml (wechat_*_word, in every language and script).
COMMAND_ALIASES = {
    "?": "menu", "？": "menu", "/help": "menu", "/start": "menu", "/topics": "menu", "/menu": "menu",
    "help": "menu", "帮助": "menu", "幫助": "menu",
    "/banned": "banned", "/cancel": "cancel",
}
COMMAND_WORDS = {"wechat_menu_word": "menu", "wechat_banned_word": "banned", "wechat_cancel_word": "cancel"}
_AROUND_COMMAND = " \t\r\n“”\"'「」『』。.!！"
_OPENID = re.compile(r"[A-Za-z0-9_\-@.]{1,128}")
_TIMESTAMP = re.compile(r"[0-9]{1,20}")
_NONCE = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_DIGITS = re.compile(r"[0-9]{1,32}")
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Malformed(Exception):
    """A body WeChat would never send: not XML, not a message, or fields of the wrong shape."""


def refused() -> Response:
    """The one answer to every request that is not read, whatever the reason."""
    return PlainTextResponse("invalid request", status_code=400)


def wechat_endpoint(conversation: Conversation, config: Config, public_url: str,
                    fetcher: PictureFetcher | None = None) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint of /wechat (GET: server verification, POST: messages)."""
    return WeChatChannel(conversation, config, public_url, fetcher=fetcher).handle


class WeChatChannel:
    """One Official Account's messages, answered from one Conversation."""

    def __init__(self, conversation: Conversation, config: Config, public_url: str = "",
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
                 fetcher: PictureFetcher | None = None) -> None:
        """`fetcher`: downloads image messages' pictures; by default from `wechat.picture_hosts` only."""
        self.conversation = conversation
        self.token = config["wechat.token"]
        if not self.token:
            raise UserError("wechat.token is empty: set WECHAT_TOKEN to the Token of the account's server settings")
        self.crypto = _crypto(self.token, config["wechat.encoding_aes_key"], config["wechat.app_id"])
        self.public_url = public_url.rstrip("/")
        self.replies: ExpiringLRU[tuple, str] = ExpiringLRU(RETRY_MEMORY, RETRY_WINDOW, clock)
        self.nonces: ExpiringLRU[tuple[str, str], bytes] = ExpiringLRU(NONCE_MEMORY, 2 * TIMESTAMP_WINDOW, clock)
        self.wall_clock = wall_clock
        self._answering: dict[tuple, asyncio.Future] = {}  # replies being made, for a resend that comes meanwhile
        self.store = getattr(conversation, "store", None)
        self.shared = bool(getattr(self.store, "shared", False))
        self.limiter = rate_limiter(self.store, "wechat", config["rate_limit.messages"],
                                    float(config["rate_limit.window_seconds"]), clock)
        self._commands: tuple[KnowledgeBase, dict[str, str]] | None = None
        self._warned_no_key = False
        self.fetcher = fetcher or PictureFetcher(host_names(config["wechat.picture_hosts"],
                                                                  "wechat.picture_hosts"))

    @property
    def kb(self) -> KnowledgeBase:
        """The knowledge base this request pinned (bot/reload.py)."""
        return self.conversation.kb

    @property
    def commands(self) -> dict[str, str]:
        """The command words of ui.yaml in every language (again after a reload changed them)."""
        kb = self.kb
        if self._commands is None or self._commands[0] is not kb:
            commands = dict(COMMAND_ALIASES)
            for key, command in COMMAND_WORDS.items():
                for code in languages.LANGUAGES:
                    commands[kb.text(key, code).lower()] = command
            self._commands = (kb, commands)
        return self._commands[1]

    # -- HTTP --------------------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        """GET: WeChat checks the server (echo `echostr`); POST: a message or event, answered in the response."""
        params = request.query_params
        if not self.signed(params):
            log.info("wechat: refused a request: bad signature or a timestamp more than %d s away", TIMESTAMP_WINDOW)
            return refused()
        if request.method != "POST":
            return PlainTextResponse(params.get("echostr", "")[:128])
        try:
            raw = await read_body(request)
        except TooLarge:
            return PlainTextResponse("request body too large", status_code=413)
        except BodyRefused:
            return refused()
        once = (params["timestamp"], params["nonce"])
        digest = hashlib.sha256(raw).digest()
        seen = await self.seen_before(once, digest)
        if seen is not None and seen != digest:
            log.warning("wechat: refused a signed URL used again with another body (a replay)")
            return refused()
        encrypted = params.get("encrypt_type", "").lower() == "aes"
        if self.crypto is not None and not encrypted:
            log.warning("wechat: refused a plain message: with wechat.encoding_aes_key set, only encrypted ones are read")
            return refused()
        try:
            message = self.parse(self.decrypt(raw, params) if encrypted else raw)
        except InvalidSignatureException:
            log.info("wechat: refused a message whose msg_signature is wrong")
            return refused()
        except Malformed as exc:
            log.info("wechat: refused a malformed message (%s)", exc)
            return refused()
        if (message._data.get("MsgType") or "").lower() == "image":
            body = await self.reply_to_picture(message)
        else:
            body = await self.reply_async(message, again=seen is not None)
        if body == SUCCESS:
            return PlainTextResponse(SUCCESS)
        if encrypted and self.crypto is not None:
            try:
                body = self.crypto.encrypt_message(body, params["nonce"], str(int(time.time())))
            except Exception:
                log.exception("wechat: could not encrypt a reply")
                return PlainTextResponse(SUCCESS)
        return Response(body, media_type="application/xml")

    async def seen_before(self, once: tuple[str, str], digest: bytes) -> bytes | None:
        """The body digest this signed URL came with before (and remember this one if none), else None."""
        if not self.shared:
            seen = self.nonces.get(once)
            if seen is None:
                self.nonces.set(once, digest)
            return seen
        try:
            seen = await run_in_threadpool(self.store.remember, "wx:nonce:" + ":".join(once), digest.hex(),
                                           2 * TIMESTAMP_WINDOW)
        except self.store.Error as exc:  # the database is down: the message is still answered
            log.warning("wechat: replay memory not checked: the database did not answer (%s)",
                        " ".join(str(exc).split()))
            return None
        return bytes.fromhex(seen) if seen is not None else None

    def signed(self, params: Any) -> bool:
        """Whether `signature` is the SHA-1 of the Token, `timestamp` and `nonce` (WeChat signs every request so),
        and the timestamp within TIMESTAMP_WINDOW seconds of now."""
        signature, timestamp, nonce = (params.get(k, "") for k in ("signature", "timestamp", "nonce"))
        if not (_TIMESTAMP.fullmatch(timestamp) and _NONCE.fullmatch(nonce) and signature.isascii()):
            return False
        if abs(int(timestamp) - self.wall_clock()) > TIMESTAMP_WINDOW:
            return False
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce)
        # wechatpy's check_signature compares with !=; compare_digest takes the same time whatever matches.
        return hmac.compare_digest(signer.signature.encode(), signature.encode())

    def decrypt(self, raw: bytes, params: Any) -> str | bytes:
        """The message inside an encrypted body (its msg_signature checked); raises Malformed."""
        if self.crypto is None:
            # Compatible mode also carries the plain fields: readable, but the key belongs in the config.
            if not self._warned_no_key:
                log.warning("wechat: an encrypted message arrived but wechat.encoding_aes_key is not set; "
                            "only compatible-mode messages can be read")
                self._warned_no_key = True
            return raw
        try:
            return self.crypto.decrypt_message(raw, params.get("msg_signature", ""), params["timestamp"],
                                               params["nonce"])
        except InvalidSignatureException:
            raise
        except InvalidAppIdException:
            log.warning("wechat: a message for another AppID arrived: check wechat.app_id")
            raise Malformed("encrypted for another AppID") from None
        except KeyError:  # no Encrypt field
            raise Malformed("no Encrypt field") from None
        except Exception as exc:  # not XML, no Encrypt field, not base64, not AES with our key
            raise Malformed(f"cannot decrypt ({type(exc).__name__})") from None

    def parse(self, xml: str | bytes) -> Any:
        """A wechatpy message whose fields this channel reads are all strings; raises Malformed."""
        try:
            message = parse_message(xml)
        except Exception as exc:  # expat errors, a root that is not <xml>, no MsgType, undecodable bytes
            raise Malformed(f"not a WeChat message ({type(exc).__name__})") from None
        if message is None:
            raise Malformed("empty body")
        raw = message._data
        for field in ("MsgType", "Event", "FromUserName", "ToUserName", "Content", "Recognition", "MsgId",
                      "CreateTime"):
            if raw.get(field) is not None and not isinstance(raw[field], str):
                raise Malformed(f"{field} is not text")
        if not _OPENID.fullmatch(raw.get("FromUserName") or "") or not _OPENID.fullmatch(raw.get("ToUserName") or ""):
            raise Malformed("FromUserName or ToUserName missing or not an id")
        if raw.get("MsgId") is not None and not _DIGITS.fullmatch(raw["MsgId"]):
            raise Malformed("MsgId is not a number")
        return message

    # -- replies -----------------------------------------------------------------------------

    async def reply_async(self, message: Any, again: bool = False) -> str:
        """reply_to() off the event loop (the conversation reads the database), sent once its writes are saved.

        `again`: the same signed request came before; it gets the reply it got, and is no new step.
        """
        key = self.reply_key(message)
        cached = self.replies.get(key)
        if cached is not None:
            return cached
        answering = self._answering.get(key)
        if answering is not None:  # a resend while the first is being answered: the same reply
            return await asyncio.shield(answering)
        if again and not self.shared:  # shared: the reply stays claimed as long as the URL is remembered
            return SUCCESS
        future = asyncio.get_running_loop().create_future()
        self._answering[key] = future
        try:
            body = await self.answered_once(key, lambda: self._new_reply(message))
            future.set_result(body)
            return body
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a failure here is not also "never retrieved"
            raise
        finally:
            self._answering.pop(key, None)

    async def _new_reply(self, message: Any) -> tuple[str, bool]:
        """A new reply, and whether what it changed is saved (it may then be given to every resend)."""
        body = await run_in_threadpool(self.make_reply, message)
        try:
            await asyncio.wait_for(asyncio.wrap_future(self.store.confirmation()), SAVE_TIMEOUT)
        except (StoreUnavailable, asyncio.TimeoutError) as exc:
            # Not remembered: a resend is answered afresh, and the follower is told.
            log.warning("wechat: a reply was not saved (%s)", exc or "time-out")
            return self.not_saved(message), False
        return body, True

    async def answered_once(self, key: tuple, make: Callable[[], Awaitable[tuple[str, bool]]]) -> str:
        """The reply to the message `key`, made by `make` once: once in this process, and on a shared store
        once among all processes (a resend reaching another one waits for the first reply and gets it)."""
        if not self.shared:
            body, keep = await make()
            if keep:
                self.replies.set(key, body)
            return body
        claim = "wx:reply:" + "\x1f".join(map(str, key))
        deadline = time.monotonic() + CLAIM_LEASE + 1.0  # past the lease: a dead holder's claim is taken over
        while True:
            try:
                state, body = await run_in_threadpool(self.store.claim, claim, CLAIM_LEASE, 2 * TIMESTAMP_WINDOW)
            except self.store.Error as exc:
                log.warning("wechat: resend memory not checked: the database did not answer (%s)",
                            " ".join(str(exc).split()))
                state, body = "mine", None
                claim = ""
            if state == "done":
                self.replies.set(key, body)
                return body
            if state == "mine":
                break
            if time.monotonic() > deadline:
                # Still being answered by a live process: its reply goes out on the first request.
                log.warning("wechat: a resend found its message still being answered elsewhere")
                return SUCCESS
            await asyncio.sleep(SHARED_POLL)
        try:
            body, keep = await make()
        except BaseException:
            if claim:
                await run_in_threadpool(self._release, claim)
            raise
        if claim:
            await run_in_threadpool(self._settle if keep else self._release, claim, *((body,) if keep else ()))
        if keep:
            self.replies.set(key, body)
        return body

    def _settle(self, claim: str, body: str) -> None:
        try:
            self.store.settle(claim, body, 2 * TIMESTAMP_WINDOW)
        except self.store.Error as exc:
            log.warning("wechat: a reply could not be remembered for resends (%s)", " ".join(str(exc).split()))

    def _release(self, claim: str) -> None:
        try:
            self.store.release(claim)
        except self.store.Error as exc:
            log.warning("wechat: a claim could not be released (%s)", " ".join(str(exc).split()))

    def reply_key(self, message: Any) -> tuple:
        raw = message._data
        if raw.get("MsgId"):
            return ("msg", raw["FromUserName"], raw["MsgId"])
        # Events have no MsgId: WeChat's own advice is sender and CreateTime.
        return ("event", raw["FromUserName"], raw.get("CreateTime", ""), (raw.get("Event") or "").lower())

    def reply_to(self, message: Any) -> str:
        """The reply's XML (or "success"), the same for every resend of one message."""
        key = self.reply_key(message)
        cached = self.replies.get(key)
        if cached is not None:
            return cached
        body = self.make_reply(message)
        self.replies.set(key, body)
        return body

    def make_reply(self, message: Any) -> str:
        """A new reply's XML (or "success"); a failure is logged and answered "success"."""
        raw = message._data
        started = time.monotonic()
        try:
            body = self.answer(message)
        except StoreUnavailable as exc:  # too many writes waiting for the database: say so, no traceback
            log.warning("wechat: a message was not answered: %s", exc)
            body = self.not_saved(message)
        except Exception:
            # "success" so that WeChat does not resend a message that fails every time.
            log.exception("wechat: could not answer a %s message", raw.get("MsgType"))
            body = SUCCESS
        elapsed = time.monotonic() - started
        if elapsed > 2.0:
            log.warning("wechat: a reply took %.1f s (WeChat waits 5 s)", elapsed)
        return body

    def not_saved(self, message: Any) -> str:
        """The reply that says what the follower sent could not be saved just now."""
        lang = self.conversation.language("wx:" + message._data["FromUserName"])
        return self.text_reply(message, self.kb.text("web_not_saved", lang))

    async def reply_to_picture(self, message: Any) -> str:
        """An image message's reply: what the picture says and the reply to it, or a request for the text."""
        raw = message._data
        key = ("msg", raw["FromUserName"], raw.get("MsgId") or raw.get("CreateTime", ""))
        cached = self.replies.get(key)
        if cached is not None:
            return cached
        return await self.answered_once(key, lambda: self._picture_reply(message))

    async def _picture_reply(self, message: Any) -> tuple[str, bool]:
        raw = message._data
        user = "wx:" + raw["FromUserName"]
        allowed = await run_in_threadpool(self.limiter.check, user) if self.shared else self.limiter.check(user)
        if allowed == "drop":
            return SUCCESS, True
        lang = self.conversation.language(user)
        if allowed == "notify":
            body = self.text_reply(message, self.kb.text("rate_limited", lang))
        else:
            try:
                content = self.render(await self.read_picture(user, valid_text(raw.get("PicUrl")), lang))
            except PictureError as exc:
                key_text = "picture_send_text" if exc.key in ("picture_busy", "picture_timeout") else exc.key
                content = self.kb.text(key_text, lang)
                if key_text == "picture_send_text" and self.public_url:
                    content += "\n" + self.kb.text("picture_send_text_page", lang) + " " + self.public_url + "/"
            except Exception:
                log.exception("wechat: could not answer an image message")
                content = self.kb.text("picture_send_text", lang)
            body = self.text_reply(message, content)
        return body, True

    async def read_picture(self, user: str, url: str, lang: str) -> Reply:
        """Download the picture (in memory, size-limited, from WeChat's picture hosts only) and read it,
        all within WeChat's wait."""
        started = time.monotonic()
        reader = self.conversation.pictures
        if reader.pending > PICTURE_QUEUE:  # it would wait for others: it cannot be read in time
            raise PictureError("picture_busy", "other pictures are being read")
        if not url.strip():
            raise PictureError("picture_not_image", "the message has no picture address")
        try:
            data = await self.fetcher.fetch(url, PICTURE_DOWNLOAD)
        except Refused as exc:
            log.warning("wechat: refused to download a picture: %s", exc)
            raise
        left = PICTURE_BUDGET - (time.monotonic() - started)
        reading = await reader.read_async(data, user, time_limit=max(left, 0.1))
        return self.conversation.picture(user, reading, lang=None)

    def answer(self, message: Any) -> str:
        raw = message._data
        user = "wx:" + raw["FromUserName"]
        kind = (raw.get("MsgType") or "").lower()
        if kind == "event":
            event = (raw.get("Event") or "").lower()
            if event in SILENT_EVENTS:
                return SUCCESS
            lang = self.conversation.language(user)
            key = "wechat_welcome" if event in WELCOME_EVENTS else "wechat_hint"
            return self.text_reply(message, self.fill(self.kb.text(key, lang), lang))
        allowed = self.limiter.check(user)
        if allowed == "drop":
            return SUCCESS
        if allowed == "notify":
            return self.text_reply(message, self.kb.text("rate_limited", self.conversation.language(user)))
        if kind == "text":
            return self.text_reply(message, self.respond(user, raw.get("Content") or ""))
        if kind == "voice":
            heard = valid_text(raw.get("Recognition")).strip()
            if heard:
                return self.text_reply(message, self.respond(user, heard))
            lang = self.conversation.language(user)
            return self.text_reply(message, self.kb.text("wechat_voice_empty", lang))
        lang = self.conversation.language(user)
        return self.text_reply(message, self.fill(self.kb.text("wechat_hint", lang), lang))

    def respond(self, user: str, text: str) -> str:
        """What a follower's text gets: a command's reply, else the conversation's."""
        text = valid_text(text)[:MAX_TEXT]
        command, rest = self.command(text)
        talk = self.conversation
        if command in ("menu", "banned", "cancel"):
            # A word ("菜单", "checklist") says the language; "/banned" and "?" do not.
            neutral = text.strip().startswith(("/", "?", "？"))
            lang = talk.language(user, None if neutral else text)
            if command == "menu":
                return self.menu(user, lang)
            reply: Reply = talk.checklist_start(user, lang) if command == "banned" else talk.cancel(user, lang)
        elif command == "check":
            reply = talk.check(user, rest)
        else:
            reply = talk.receive(user, text)
        return self.render(reply)

    def command(self, text: str) -> tuple[str | None, str]:
        stripped = text.strip()
        head, rest = (stripped.split(maxsplit=1) + ["", ""])[:2]
        if head.lower() == "/check":
            return "check", rest
        if stripped in COMMAND_ALIASES:
            return COMMAND_ALIASES[stripped], ""
        return self.commands.get(stripped.strip(_AROUND_COMMAND).lower()), ""

    def menu(self, user: str, lang: str) -> str:
        """How to use the account, and every topic numbered: a number then opens it."""
        self.conversation.offer(user, list(self.kb.topics), lang)
        text = self.fill(self.kb.text("wechat_menu", lang), lang) + "\n" + render_topic_list_text(self.kb, lang)
        return fit_utf8(text, MAX_REPLY_BYTES)

    def render(self, reply: Reply, limit: int = MAX_REPLY_BYTES) -> str:
        """A reply as a text that fits one passive reply: short cards with a link, choices numbered."""
        kb, lang = self.kb, reply.lang
        if isinstance(reply, Pictured):
            head = [kb.text("picture_read", lang).replace("{text}", reply.excerpt)] if reply.text else []
            if isinstance(reply.reply, Checked):
                head += [f"• {line}" for line in link_lines(kb, reply.reply.links, lang)]
            head_text = "\n".join(head + ([""] if head else []))
            room = limit - len(head_text.encode("utf-8")) - 1
            return fit_utf8(head_text + "\n" + self.render(reply.reply, room) if head else self.render(reply.reply, limit), limit)
        if isinstance(reply, Card):
            footer = (self.fill(kb.text("wechat_banned_hint", lang), lang),) if reply.offers_checklist else ()
            text = render_card_short_text(kb, reply.topic, lang, self.link(reply.topic.id, lang), footer,
                                          limit, situation=reply.situation)
        elif isinstance(reply, Choices):
            text = reply_first(kb, reply) + "\n\n" + render_numbered_text(
                kb, kb.text("did_you_mean", lang), [t.title.get(lang) for t in reply.topics], lang)
        elif isinstance(reply, ChecklistQuestion):
            question = kb.text("banned_ask_platform" if reply.step == "platform" else "banned_ask_notice", lang)
            if reply.step == "platform":
                question += kb.text("banned_cancel_hint", lang)  # "/cancel" is one of the cancel words here too
            text = render_numbered_text(kb, question, [label for _, label in reply.options], lang)
        elif isinstance(reply, Checked):
            link = self.link(reply.verdict.topics[0], lang) if reply.verdict.topics else None
            text = render_verdict_text(kb, reply.verdict, lang, link, limit, flags=MAX_FLAGS, channels=2,
                                       related=False)
        elif isinstance(reply, Checklist):
            text = render_checklist_short_text(kb, reply, self.public_url or None, limit)
        elif isinstance(reply, NoAnswer):
            text = render_none_short_text(kb, lang, self.fill(kb.text("wechat_menu_hint", lang), lang), reply.fallback)
        elif isinstance(reply, Notice):
            text = kb.text(reply.key, lang)
        else:
            raise TypeError(f"not a reply: {reply!r}")
        return fit_utf8(text, limit)

    def fill(self, text: str, lang: str) -> str:
        """A WeChat string with its command words ({menu}, {banned}, {cancel}) in the same language."""
        for key, command in COMMAND_WORDS.items():
            text = text.replace("{" + command + "}", self.kb.text(key, lang))
        return text

    def link(self, topic_id: str, lang: str) -> str | None:
        """A card's page, opened in the reply's language and script."""
        return f"{self.public_url}/t/{topic_id}?lang={lang}" if self.public_url else None

    def text_reply(self, message: Any, content: str) -> str:
        """The passive text reply's XML: to the sender, from the account, content cut to 2,048 bytes."""
        content = fit_utf8(_NOT_XML.sub("", valid_text(content)), MAX_REPLY_BYTES)
        # wechatpy wraps the content in one CDATA section, which "]]>" would end.
        content = content.replace("]]>", "]]]]><![CDATA[>")
        return TextReply(message=message, content=content).render()


def _crypto(token: str, key: str, app_id: str) -> WeChatCrypto | None:
    """The encrypted mode's cipher, or None for the plain mode; a bad key or a missing AppID is a UserError."""
    if not key:
        return None
    if not app_id:
        raise UserError("wechat.encoding_aes_key is set but wechat.app_id is empty: the encrypted mode needs both "
                        "(or leave the key empty for the plain mode)")
    if len(key) != 43:
        raise UserError(f"wechat.encoding_aes_key must be the 43 characters of the account's server settings "
                        f"(got {len(key)})")
    try:
        return WeChatCrypto(token, key, app_id)
    except (ValueError, AssertionError):
        raise UserError("wechat.encoding_aes_key is not a valid EncodingAESKey (43 letters and digits)") from None

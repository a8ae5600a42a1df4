"""Pictures in, text and links out: OCR and QR codes read on this machine, and what a link really points to.

Reading knows no channel and decides nothing: it returns the text a picture
shows, the QR codes it holds and facts about every address (the real domain,
official or not, lookalike, shortener, payment code, group invitation, contact
card). The conversation decides what the text is. The OCR models (RapidOCR's,
shipped inside its wheel, on ONNX Runtime) load on the first picture and stay;
nothing is downloaded and no picture is stored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import ipaddress
import io
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .knowledge import Domains, KnownPrefix, Localized

if TYPE_CHECKING:
    import numpy as np

# Bad input is refused before it costs anything: the byte size first, then the
# pixel count the header claims, before a single pixel is decoded.
MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
# A picture taller than this many widths is read in overlapping slices: a long
# screenshot shrunk whole to the detector's size would leave its text a few pixels high.
SLICE_RATIO = 2.0
SLICE_OVERLAP = 0.2  # of a slice's height
# The text detector works on the picture shrunk to this long side (RapidOCR's
# default enlarges small pictures to 736 pixels on the short side, which cost
# twice the time on phone screenshots and read no more; 960 read the labelled
# set of bench/bench_pictures.py no better than 736, at 13% more time).
DETECT_SIDE = 736
# Reading runs in worker threads, never on the event loop; at most this many
# pictures wait or run at once (more are refused at once), and a person may
# have at most PER_PERSON of them.
QUEUE_LIMIT = 8
PER_PERSON = 2
TIME_LIMIT = 10.0  # seconds a channel waits for one picture

Kind = Literal["url", "payment", "group", "contact", "text"]
Warning = Literal["lookalike", "punycode", "ip", "shortener", "download"]

# Second-level public suffixes under which the registrable domain has three labels.
_SECOND_LEVEL = frozenset({
    "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn", "ac.cn", "com.hk", "org.hk", "net.hk", "gov.hk",
    "com.tw", "org.tw", "net.tw", "gov.tw", "edu.tw", "com.mo", "co.uk", "org.uk", "com.au", "co.jp",
    "com.sg", "com.my", "co.kr",
})
# A web address in free text: with a scheme, or a bare host with a common top-level domain.
_URL_CHARS = r"[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]"
_TLDS = ("com|cn|net|org|top|xyz|cc|vip|info|shop|site|online|club|app|link|live|me|io|ly|co|tk|icu|work|"
         "fun|ink|pro|biz|asia|hk|tw|mo|wang|ltd|store|tech|cloud|life|today|win|bet")
_URL = re.compile(
    rf"(?:(?:https?|wxp)://{_URL_CHARS}+"
    rf"|(?<![\w.@-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+(?:{_TLDS})(?![A-Za-z0-9-])(?:[:/?#]{_URL_CHARS}*)?"
    rf"|(?<![\w.])\d{{1,3}}(?:\.\d{{1,3}}){{3}}(?::\d{{2,5}})?(?:/{_URL_CHARS}*)?)",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}'\""


class PictureError(Exception):
    """A picture that cannot be read: `key` names the one-line reply (ui.yaml), the message says it in English."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class LinkFact:
    """One address or QR payload, and what it is."""

    data: str  # as found
    kind: Kind
    domain: str | None  # the registrable domain: the part that says who owns the address
    host: str | None
    official: bool | None  # on the list of official domains; None where the question does not apply
    warning: Warning | None = None
    imitates: str | None = None  # the official domain a lookalike borrows
    name: Localized | None = None  # the official site's name, or what a payment, group or contact code is
    in_qr: bool = False

    @property
    def risk(self) -> Literal["high", "medium"] | None:
        """What the address alone says: a disguised address is high risk, a hidden destination medium."""
        if self.warning in ("lookalike", "punycode", "ip", "download"):
            return "high"
        if self.warning == "shortener":
            return "medium"
        return None


@dataclass(frozen=True)
class Reading:
    """What a picture shows: its text, line by line, and its QR codes."""

    text: str
    codes: tuple[LinkFact, ...] = ()
    ms: int = 0  # wall-clock time of the reading
    cpu_ms: int = 0  # processor time of the whole process meanwhile (all of it the reading's, in the command line)
    # A chat screenshot whose reader's own bubbles (on the right) could be told apart: the other side's words
    # alone, what a verdict is about ("好的，怎么退？" under a fake refund is no part of the offer); "" otherwise.
    others: str = ""


# -- addresses --------------------------------------------------------------------------


def registrable_domain(host: str) -> str:
    """The domain a person registers (safe-login.top of weixin.qq.com.safe-login.top)."""
    labels = host.split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def _host_of(address: str) -> str | None:
    rest = re.sub(r"^[a-z][a-z0-9+.-]*://", "", address.strip(), flags=re.IGNORECASE)
    host = re.split(r"[/?#\\]", rest, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]  # user:password@host
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.strip().rstrip(".").lower()
    return host or None


def _prefixed(lowered: str, known: tuple[KnownPrefix, ...]) -> KnownPrefix | None:
    for item in known:
        if lowered.startswith(item.prefix) or (item.prefix.startswith("https://")
                                               and lowered.startswith("http://" + item.prefix[8:])):
            return item
    return None


def explain(data: str, domains: Domains, in_qr: bool = False) -> LinkFact:
    """What an address or QR payload is: its kind, real domain, official or not, and what disguises it."""
    lowered = data.strip().lower()
    payment = _prefixed(lowered, domains.payment)
    if payment is not None:
        host = _host_of(lowered) if "://" in lowered and not lowered.startswith("wxp://") else None
        return LinkFact(data, "payment", registrable_domain(host) if host else None, host, None, name=payment.name,
                        in_qr=in_qr)
    for kind, known in (("group", domains.groups), ("contact", domains.contacts)):
        item = _prefixed(lowered, known)
        if item is not None:
            host = _host_of(lowered) if "://" in lowered else None
            return LinkFact(data, kind, registrable_domain(host) if host else None, host, None, name=item.name,
                            in_qr=in_qr)
    if not _looks_like_address(lowered):
        return LinkFact(data, "text", None, None, None, in_qr=in_qr)
    host = _host_of(lowered)
    if host is None:
        return LinkFact(data, "text", None, None, None, in_qr=in_qr)
    return _judge_host(data, host, domains, in_qr)


def _looks_like_address(lowered: str) -> bool:
    if re.match(r"^(https?|ftp)://", lowered):
        return True
    match = _URL.fullmatch(lowered)
    return match is not None


def _judge_host(data: str, host: str, domains: Domains, in_qr: bool) -> LinkFact:
    try:
        ipaddress.ip_address(host)
        return LinkFact(data, "url", host, host, False, "ip", in_qr=in_qr)
    except ValueError:
        pass
    if any(ord(c) > 127 for c in host):
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            return LinkFact(data, "url", host, host, False, "punycode", in_qr=in_qr)
    domain = registrable_domain(host)
    for official in domains.official:
        if host == official.domain or host.endswith("." + official.domain):
            return LinkFact(data, "url", domain, host, True, name=official.name, in_qr=in_qr)
    if any(label.startswith("xn--") for label in host.split(".")):
        return LinkFact(data, "url", domain, host, False, "punycode", in_qr=in_qr)
    owner = next((o for o in domains.owners if domain == o.domain), None)
    if owner is not None:
        # The company's own address (mp.weixin.qq.com, docs.qq.com): no lookalike, though not a channel of the list.
        return LinkFact(data, "url", domain, host, False, name=owner.name, in_qr=in_qr)
    imitated = _imitated(host, domain, domains)
    if imitated is not None:
        return LinkFact(data, "url", domain, host, False, "lookalike", imitates=imitated, in_qr=in_qr)
    if host in domains.shorteners or domain in domains.shorteners:
        return LinkFact(data, "url", domain, host, False, "shortener", in_qr=in_qr)
    if _APK.search(data):
        return LinkFact(data, "url", domain, host, False, "download", in_qr=in_qr)
    return LinkFact(data, "url", domain, host, False, in_qr=in_qr)


# An Android installation package to download: an app from outside the app store.
_APK = re.compile(r"\.apk(?:$|[?#])", re.IGNORECASE)


def _near(word: str, name: str) -> bool:
    """One letter changed, added, dropped or two swapped: weixln, wechatt, tencnet."""
    if abs(len(word) - len(name)) > 1 or word == name:
        return word == name
    if len(word) == len(name):
        diff = [i for i, (a, b) in enumerate(zip(word, name)) if a != b]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and word[diff[0]] == name[diff[1]] and word[diff[1]] == name[diff[0]])
    short, long = sorted((word, name), key=len)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


def _borrowed_brand(host: str, domains: Domains) -> str | None:
    """The owner's domain whose brand a host's name carries: qq-aq.com.cn, 110-qq.cc, weixln.x.com, tencent-x.top."""
    labels = host.split(".")
    suffix = len(registrable_domain(host).split(".")) - 1  # the public suffix's labels say nothing
    words = [w for label in labels[:len(labels) - suffix] for w in re.split(r"[^a-z]+", label) if w]
    for owner in domains.owners:
        for brand in owner.brands:
            # A short brand (qq) only as a word of its own; a long one (weixin) inside a word or one letter off.
            if any(w == brand or len(brand) >= 5 and (brand in w or _near(w, brand)) for w in words):
                return owner.domain
    return None


def _imitated(host: str, domain: str, domains: Domains) -> str | None:
    """The official domain a host borrows the look of: its owner's domain inside another's host, or its name."""
    labels = host.split(".")
    for official in domains.official:
        owner = registrable_domain(official.domain)
        if domain == owner:
            continue  # the owner's own sub-domain (weixin.qq.com): not official, not a lookalike
        owner_labels = owner.split(".")
        n = len(owner_labels)
        if any(labels[i:i + n] == owner_labels for i in range(len(labels) - n)):
            return owner  # weixin.qq.com.safe-login.top borrows qq.com
        # weixin110-qq.com, 12377-cn.top: the distinctive name inside another domain's name.
        names = [part for part in official.domain.split(".") if len(part) >= 5]
        if any(name in domain.split(".")[0] for name in names):
            return official.domain
    return _borrowed_brand(host, domains) or _domain_inside(host)


# Top-level domains that, inside a host's name and followed by more labels, dress one domain up as another.
_INNER_TLDS = frozenset({"com", "cn", "net", "org", "gov", "edu"})


def _domain_inside(host: str) -> str | None:
    """A whole domain worn as the start of another's name (etax-gov.cn.tuishui-cx.top wears etax-gov.cn):
    the address looks like the first, and belongs to the second."""
    labels = host.split(".")
    outer = len(registrable_domain(host).split("."))
    inner = labels[:len(labels) - outer]
    for i in range(1, len(inner)):
        if inner[i] in _INNER_TLDS and inner[i - 1] not in _INNER_TLDS:
            worn = inner[i - 1:i + 1] + (inner[i + 1:i + 2] if i + 1 < len(inner) and inner[i + 1] in _INNER_TLDS else [])
            return ".".join(worn)
    return None


def links_in(text: str, domains: Domains, limit: int = 10) -> tuple[LinkFact, ...]:
    """Every web address, payment code or group link in a text, explained; at most `limit`."""
    found: list[LinkFact] = []
    seen: set[str] = set()
    for match in _URL.finditer(text or ""):
        address = match.group(0).rstrip(_TRAILING)
        if not address or address.lower() in seen or "@" in address.split("/")[0] and "://" not in address:
            continue
        seen.add(address.lower())
        found.append(explain(address, domains))
        if len(found) >= limit:
            break
    return tuple(found)


# -- pictures ---------------------------------------------------------------------------


def open_picture(data: bytes):
    """The picture as RGB pixels, or PictureError: too big, too many pixels, not a picture, or broken."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(data) > MAX_BYTES:
        raise PictureError("picture_too_big", f"the picture is over {MAX_BYTES // (1024 * 1024)} MB")
    if not data:
        raise PictureError("picture_not_image", "the file is empty")
    try:
        picture = Image.open(io.BytesIO(data), formats=FORMATS)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PictureError("picture_not_image", "the file is not a picture (JPEG, PNG, WebP, GIF or BMP)") from None
    except Image.DecompressionBombError:
        raise PictureError("picture_too_many_pixels", _too_many()) from None
    width, height = picture.size
    if width * height > MAX_PIXELS:
        raise PictureError("picture_too_many_pixels", _too_many())
    try:
        picture.load()
        picture = ImageOps.exif_transpose(picture) or picture  # a phone photo taken sideways
        return picture.convert("RGB")
    except Image.DecompressionBombError:
        raise PictureError("picture_too_many_pixels", _too_many()) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise PictureError("picture_broken", "the picture is broken or cut short") from None


def _too_many() -> str:
    return f"the picture has over {MAX_PIXELS // 1_000_000} million pixels"


class _Engine:
    """RapidOCR with the models of its own wheel, loaded once per process on first use."""

    _lock = threading.Lock()
    _ocr = None

    @classmethod
    def get(cls):
        if cls._ocr is None:
            with cls._lock:
                if cls._ocr is None:
                    import rapidocr
                    from rapidocr import RapidOCR

                    _quiet_onnxruntime_threads()
                    models = Path(rapidocr.__file__).resolve().parent / "models"
                    # Explicit model paths: RapidOCR downloads only when given none.
                    cls._ocr = RapidOCR(params={
                        "Global.log_level": "error",
                        "Global.use_cls": False,  # screenshots and posters are upright
                        "Det.model_path": str(models / "PP-OCRv6_det_small.onnx"),
                        "Rec.model_path": str(models / "PP-OCRv6_rec_small.onnx"),
                        "Cls.model_path": str(models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx"),
                        "Det.limit_type": "max",
                        "Det.limit_side_len": DETECT_SIDE,
                    })
        return cls._ocr


@dataclass(frozen=True)
class _Line:
    left: float
    right: float
    top: float
    bottom: float
    text: str


def _quiet_onnxruntime_threads() -> None:
    """ONNX Runtime's worker threads spin while they wait for work: measured on the labelled set,
    that is 40% more processor time per picture (629 against 384 ms), taken from the bot's other
    work. RapidOCR builds its sessions' options in one place; they get spinning turned off there."""
    from rapidocr.inference_engine.onnxruntime import main as ort

    build = ort.OrtInferSession._init_sess_opts
    if getattr(build, "quiet", False):
        return

    def quiet_options(cfg):
        options = build(cfg)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        return options

    quiet_options.quiet = True
    ort.OrtInferSession._init_sess_opts = staticmethod(quiet_options)


def ocr_lines(rgb: "np.ndarray") -> tuple[list[str], list[str]]:
    """The text of a picture as paragraphs, top to bottom, and a chat's other side's paragraphs alone
    (empty unless the reader's own bubbles are told apart: _readers_lines); tall pictures are read in slices."""
    height, width = rgb.shape[:2]
    engine = _Engine.get()
    bgr = rgb[:, :, ::-1]
    if height <= SLICE_RATIO * width * 1.25:
        lines = _lines_of(engine(bgr), 0, 0, height)
    else:
        size = int(SLICE_RATIO * width)
        step = int(size * (1 - SLICE_OVERLAP))
        margin = (size - step) // 2
        lines = []
        top = 0
        while True:
            bottom = min(top + size, height)
            # A line belongs to the slice whose middle part holds its centre: read once, never twice.
            keep_from = top + margin if top else 0
            keep_to = bottom - margin if bottom < height else height
            lines += _lines_of(engine(bgr[top:bottom]), top, keep_from, keep_to)
            if bottom >= height:
                break
            top += step
    screenshot = _is_screenshot(lines, width, height)
    lines = _without_chrome(lines, width, height)
    readers = _readers_lines(lines, width) if screenshot else []
    others = paragraphs([line for line in lines if line not in readers], rgb) if readers else []
    return paragraphs(lines, rgb), others


# A chat screenshot puts the other side's bubbles against the left (after their avatar), all starting at one
# text column, and the reader's own against the right, ending at one column; times and system lines are
# centred and short. A line counts as the reader's when it ends at the right column, starts clearly right of the left
# one and is not centred; and only in a phone screenshot (its status bar's clock read) with both columns in it.
SIDE_TOLERANCE = 0.03  # of the width: how far a line's edge may stray from its column
CENTRED = 0.04  # of the width: a line whose middle is this close to the picture's is centred


def _readers_lines(lines: list[_Line], width: int) -> list[_Line]:
    """The reader's own lines of a chat screenshot's lines ([] when the sides cannot be told)."""
    # Times and system lines are short and centred; a bubble's full line can be nearly centred too, but wide.
    sided = [line for line in lines if abs((line.left + line.right) / 2 - width / 2) > CENTRED * width
             or line.right - line.left > 0.5 * width]
    if len(sided) < 2:
        return []
    left = min(line.left for line in sided)
    right = max(line.right for line in sided)
    near = SIDE_TOLERANCE * width
    theirs = [line for line in sided if line.left - left <= near]
    readers: list[_Line] = []
    for line in lines:
        last = readers[-1] if readers else None
        # A bubble's last line is left-aligned under its first: the short end of the reader's wrapped message.
        under = last is not None and abs(line.left - last.left) <= near \
            and -0.5 * (last.bottom - last.top) <= line.top - last.bottom <= last.bottom - last.top  # boxes may touch
        if line in sided and line.left - left > near and (right - line.right <= near or under):
            readers.append(line)
    return readers if theirs and readers else []


def _lines_of(result, offset: int, keep_from: int, keep_to: int) -> list[_Line]:
    boxes = getattr(result, "boxes", None)
    texts = getattr(result, "txts", None)
    if boxes is None or texts is None:
        return []
    kept = []
    for box, text in zip(boxes, texts):
        xs = [float(point[0]) for point in box]
        ys = [float(point[1]) + offset for point in box]
        centre = sum(ys) / len(ys)
        if keep_from <= centre < keep_to and text.strip():
            kept.append(_Line(min(xs), max(xs), min(ys), max(ys), text.strip()))
    return kept


# A phone screenshot shows the status bar's clock in its top few per cent; under it, the app's title bar
# holds the chat's name, centred. The name is who the chat is with, not what was said: it stays out of
# the text, as it does when the person types the messages (a name such as "小鹿出票" had tipped a
# ticket seller's chat from a verdict to a card). A poster or a dialog shows no status bar.
STATUS_BAR = 0.05  # of the picture's height
TITLE_BAR = 0.11


def _is_screenshot(lines: list[_Line], width: int, height: int) -> bool:
    """A phone screenshot: taller than wide, the status bar's clock read in its top few per cent."""
    return height >= 1.6 * width and any(line.bottom <= STATUS_BAR * height and _CLOCK.match(line.text) for line in lines)


def _without_chrome(lines: list[_Line], width: int, height: int) -> list[_Line]:
    """The lines that carry words: the phone's and the chat app's own words dropped, and a screenshot's chat name."""
    screenshot = _is_screenshot(lines, width, height)
    return [line for line in lines if not _CHROME.match(line.text) and not (
        screenshot and line.bottom <= TITLE_BAR * height and abs((line.left + line.right) / 2 - width / 2) <= 0.15 * width)]


_CLOCK = re.compile(r"^\d{1,2}[:：]\d{2}$")


# What a phone and a chat app draw around the words says nothing about the message, and read as
# text it tips the checker (a harmless English chat with its title bar's "< (1)" came out medium):
# the status bar and time stamps ("9:41", "87%", "昨天 21:08"); the title bar's back arrow, unread
# count and menu ("< (3)", "微信(12)", "···"); the input bar ("发送", "按住 说话", its icons read as
# "○+"); the labels of transfer, red-packet and voice bubbles ("微信转账", "¥500.00", "已收款", '15"');
# the chat's system lines (a contact added, a message recalled, "拍了拍"); a dialog's buttons. Whole lines only:
# a bubble that says more than the label is kept.
_CHROME = re.compile(
    r"^(?:[<>‹›«»|·•…\-—_=+*#]{1,2}|\d{1,3}\s?%|(?:昨天|今天|前天|星期.|周.|早上|上午|中午|下午|傍晚|晚上|凌晨|yesterday|today)?\s*\d{1,2}[:：]\d{2}"
    r"(?:\s?(?:am|pm))?"
    # A chat's date stamp with its time ("3月2日晚上10:15", "2025年3月2日 22:15", "2025/3/2 22:15").
    r"|(?:(?:\d{4}年)?\d{1,2}月\d{1,2}日|\d{4}[/-]\d{1,2}[/-]\d{1,2})\s*(?:星期.|周.)?\s*(?:早上|上午|中午|下午|傍晚|晚上|凌晨)?\s*\d{1,2}[:：]\d{2}"
    r"|[<‹]?\s*(?:微信|weixin|wechat)?\s*[(（]\d{1,3}\+?[)）]|[<‹]\s*(?:微信|weixin|wechat)|[·.…]{2,3}"
    r"|发送|send|按住\s?说话|hold to talk|[○◯◎⊕☺+\s]{1,4}"
    # A dialog's buttons ("确定", "我知道了"): the notice's words are above them.
    r"|确定|取消|我知道了|知道了|ok|cancel|got it"
    r"|微信转账|微信红包|weixin transfer|red packet|(?:你|对方)?已(?:被)?(?:收款|接收|领取)|转账给你|请收款|[¥￥]\s?\d[\d,]*(?:\.\d{1,2})?"
    r"|恭喜发财[，,]?\s?大吉大利|[(（\s]*\d{1,2}\s?[\"″”'’]{1,2}[\s)）]*"
    r"|你已添加了.{1,30}[，,]现在可以开始聊天了[。.]?|以下(?:为|是)新消息|以上是打招呼的(?:内容|消息)"
    r"|(?:你|对方|[\"“].{1,20}[\"”])\s?撤回了一条消息|[\"“]?.{1,20}?[\"”]?\s?拍了拍.{0,20})$", re.IGNORECASE)


def paragraphs(lines: list[_Line], rgb: "np.ndarray | None" = None) -> list[str]:
    """Lines a text wrapped joined back into one: a line that reached its block's right edge,
    followed by one starting at the same left edge just below it, is the same sentence, unless
    the ground changes between them (`rgb`, the picture): the end of one chat bubble and the next."""
    out: list[str] = []
    last: _Line | None = None  # the line read last: a paragraph goes on from its last line, not from all of it
    for line in lines:
        if last is not None and _continues(last, line, lines) and not _ground_changes(rgb, last, line):
            glue = " " if out[-1][-1:].isascii() and line.text[:1].isascii() else ""
            out[-1] += glue + line.text
        else:
            out.append(line.text)
        last = line
    return out


def _continues(previous: _Line, line: _Line, lines: list[_Line]) -> bool:
    height = max(previous.bottom - previous.top, 1.0)
    if previous.text.endswith(_SENTENCE_END):
        return False
    if not (-0.5 * height <= line.top - previous.bottom <= 0.9 * height):
        return False
    if abs(line.left - previous.left) > 0.6 * height:
        return False
    # A wrapped line is full (a short line is a line of its own) and goes on in the same size of letters (a
    # poster's title is not continued by the line under it); boxes of one size of letters differ by up to a
    # third in height (descenders, 了), a title's are half as high again as the lines under it.
    low = min(height, max(line.bottom - line.top, 1.0))
    if previous.right - previous.left < WRAPPED_MIN_WIDTH * low or max(height, line.bottom - line.top) > 1.45 * low:
        return False
    # The wrapped line ran to the width of its block: as wide as the widest neighbour at that left edge.
    widest = max((other.right for other in lines if abs(other.left - previous.left) <= 0.6 * height
                  and abs(other.top - previous.top) <= 6 * height), default=previous.right)
    # Words wrap whole: an English line ends short of the edge by up to the width of the word that went on.
    first = line.text.split(" ", 1)[0] if line.text[:1].isascii() else line.text[:1]
    word = (line.right - line.left) * len(first) / max(len(line.text), 1)
    return previous.right >= widest - max(1.5 * height, word)


_SENTENCE_END = tuple("。！？!?…~；;：:」』）)")
# A line that wrapped is at least this many times as wide as the lower of the two lines' boxes is high:
# about seven Chinese characters or twenty letters (a chat bubble wraps after 13-15 characters, a notice
# or a poster after 15-18).
WRAPPED_MIN_WIDTH = 6


# How much a row's colour (median over the lines' common width, any channel) may vary between two
# lines of one block: JPEG noise and a gentle gradient stay under it; a bubble's edge (white on
# #ededed, dark grey on black, green on grey) is 18 or more.
GROUND_CHANGE = 10


def _ground_changes(rgb: "np.ndarray | None", previous: _Line, line: _Line) -> bool:
    """True when the rows between two lines are not all of one colour: each lies in its own bubble or box."""
    if rgb is None:
        return False
    import numpy as np

    top, bottom = int(previous.bottom) + 1, int(line.top)
    left, right = int(max(previous.left, line.left)), int(min(previous.right, line.right))
    if bottom - top < 3 or right - left < 8:
        return False
    rows = np.median(rgb[top:bottom, left:right].astype(np.int16), axis=1)
    return int((rows.max(axis=0) - rows.min(axis=0)).max()) > GROUND_CHANGE


# OCR puts a space where a printed address breaks or its letters stand apart ("http://jf- 10086.top"):
# after a scheme, a space that follows a hyphen or a dot, or comes before one, is no space of the address.
_BROKEN_LINK = re.compile(r"((?:https?|wxp)://[A-Za-z0-9._~%/-]*?)(?:([-.])\s+(?=[A-Za-z0-9])|\s+(?=[-.][A-Za-z0-9]))")


def mend_links(text: str) -> str:
    """The text read, with the addresses OCR broke at a hyphen or a dot joined again."""
    while True:
        mended = _BROKEN_LINK.sub(lambda m: m.group(1) + (m.group(2) or ""), text, count=1)
        if mended == text:
            return text
        text = mended


def qr_payloads(rgb: "np.ndarray") -> list[str]:
    """The payloads of the QR codes in a picture (a code alone, or one inside a poster).

    The picture as it is first, with both of OpenCV's detectors; then the views a
    plain pass misses (measured on 400 codes drawn into posters, sent as JPEG at
    quality 60-75: 304 decoded by the first pass alone, 376 with these): the picture
    inverted (a light code on a dark poster) and enlarged twice (a code whose modules
    are two or three pixels wide), by ArUco's detector only, which costs a few
    milliseconds where the other costs tens.
    """
    import cv2

    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    found: list[str] = []
    for image, detectors in _qr_views(gray):
        for detector in detectors:
            try:
                ok, payloads, _, _ = detector.detectAndDecodeBytesMulti(image)
            except cv2.error:
                continue
            if ok:
                found += [p for p in (_text_of(bytes(b)) for b in payloads) if p and p not in found]
            if found:
                return found
    return found


def _text_of(raw: bytes) -> str:
    """A code's payload as text. OpenCV hands over a byte-mode code without a declared encoding read as
    Latin-1 (the standard's default), so Chinese bytes come as Latin-1 letters, and a Kanji-mode code
    (Shift JIS, in which generators write Chinese characters too: 王小明) as its raw bytes."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _legacy(raw, strict=False) or raw.decode("latin-1")
    if any("\x80" <= c <= "\xff" for c in text) and all(ord(c) <= 0xFF for c in text):
        # Control characters (0x80-0x9f) are never Latin-1 text: then the bytes are surely something else.
        return _legacy(text.encode("latin-1"), strict=not any("\x80" <= c <= "\x9f" for c in text)) or text
    return text


def _legacy(raw: bytes, strict: bool) -> str | None:
    """The bytes as GB18030 or Shift JIS text: the one that reads as common Simplified Chinese (GB2312); else,
    unless `strict`, Shift JIS (what Kanji mode is), else GB18030."""
    readings = []
    for codec in ("gb18030", "shift_jis"):
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError:
            continue
        if not any(ord(c) > 0x2E7F for c in text):
            continue
        try:
            text.encode("gb2312")
            return text
        except UnicodeEncodeError:
            readings.append(text)
    return None if strict or not readings else readings[-1]


def _qr_views(gray):
    import cv2

    both, aruco = (cv2.QRCodeDetectorAruco(), cv2.QRCodeDetector()), (cv2.QRCodeDetectorAruco(),)
    yield gray, both
    height, width = gray.shape[:2]
    if max(height, width) > 1600:
        scale = 1600 / max(height, width)
        gray = cv2.resize(gray, (int(width * scale), int(height * scale)), interpolation=cv2.INTER_AREA)
        yield gray, both
    yield 255 - gray, aruco  # light modules on a dark ground
    # A small code: enlarged, its finder patterns are found and its modules told apart.
    large = cv2.resize(gray, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    yield large, aruco
    if gray.mean() < 128:  # a dark picture: a small light code on it
        yield 255 - large, aruco


def read_picture(data: bytes, domains: Domains) -> Reading:
    """A picture's text and QR codes; PictureError for bad input. Runs wherever it is called: keep it off an event loop."""
    import numpy as np

    started, cpu = time.perf_counter(), time.process_time()
    rgb = np.asarray(open_picture(data))
    codes = tuple(explain(payload, domains, in_qr=True) for payload in qr_payloads(rgb))
    every, others = ocr_lines(rgb)
    text = mend_links("\n".join(every))
    return Reading(text, codes, int((time.perf_counter() - started) * 1000), int((time.process_time() - cpu) * 1000),
                   others=mend_links("\n".join(others)))


class PictureReader:
    """Reads pictures in worker threads: a bounded queue, a few per person, a time limit per picture."""

    def __init__(self, domains: Domains, workers: int = 1, queue_limit: int = QUEUE_LIMIT,
                 per_person: int = PER_PERSON, time_limit: float = TIME_LIMIT) -> None:
        self.domains = domains
        self.queue_limit = queue_limit
        self.per_person = per_person
        self.time_limit = time_limit
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="picture")
        self._lock = threading.Lock()
        self._pending = 0
        self._by_person: dict[str, int] = {}

    @property
    def pending(self) -> int:
        """Pictures waiting or being read now."""
        return self._pending

    def read(self, data: bytes) -> Reading:
        """Read one picture in the calling thread (the command line)."""
        return read_picture(data, self.domains)

    async def read_async(self, data: bytes, person: str = "", time_limit: float | None = None) -> Reading:
        """Read one picture off the event loop; PictureError("picture_busy" / "picture_timeout") when it cannot be now."""
        with self._lock:
            if self._pending >= self.queue_limit or self._by_person.get(person, 0) >= self.per_person:
                raise PictureError("picture_busy", "too many pictures are being read: try again in a minute")
            self._pending += 1
            self._by_person[person] = self._by_person.get(person, 0) + 1
        future = self._pool.submit(read_picture, data, self.domains)
        # The slot is freed when the reading really ends, not when a caller stops waiting.
        future.add_done_callback(lambda _: self._release(person))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), time_limit or self.time_limit)
        except asyncio.TimeoutError:
            raise PictureError("picture_timeout", "reading the picture took too long") from None

    def _release(self, person: str) -> None:
        with self._lock:
            self._pending -= 1
            left = self._by_person.get(person, 1) - 1
            if left > 0:
                self._by_person[person] = left
            else:
                self._by_person.pop(person, None)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

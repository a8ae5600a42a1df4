"""Masking of personal data (numbers, e-mail addresses, WeChat ids, passwords) before anything is stored or logged."""

from __future__ import annotations

import logging
import re
import unicodedata
from typing import Callable, Iterable

# Mainland ID card: 17 digits and a digit or X (the X is why it has its own pattern).
_ID_CARD = re.compile(r"(?<!\d)\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dA-Za-z])")
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-][A-Za-z0-9.-]{0,250}\.[A-Za-z]{2,}", re.ASCII)
_WXID = re.compile(r"(?<![A-Za-z])wxid_[A-Za-z0-9_-]{4,}", re.IGNORECASE)
# "vx: abc123", "微信号：lily_88", "加v abc123", "我的微信是 tiger_2020": a WeChat id is 6-20
# letters, digits, _ or -, from a letter.
_HANDLE = r"([A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])"
_WECHAT_ID = re.compile(
    r"(?<![A-Za-z])(微信号?|vx号?|v信|薇信?|威信|wx号?|weixin|wechat(?: ?id)?|加v|v号)"
    r"(\s*(?:是|为|為|[:=])\s*|\s+|(?<=[信号薇v])(?=[A-Za-z]))" + _HANDLE,
    re.IGNORECASE,
)
# A bare "V" only before a colon ("V: lily_88"): a word that starts with v is no cue.
_V_COLON = re.compile(r"(?<![A-Za-z])(v)(\s*[:=]\s*)" + _HANDLE, re.IGNORECASE)
# Cues that name the id itself: whatever follows is masked, not only what looks like an id.
_STRONG_CUES = ("微信号", "vx号", "wx号", "v号", "wechat id", "wechatid")
# "密码是 Hunter2Secret!", "password: …": the word after the cue (a comma ends it).
_PASSWORD = re.compile(
    r"(密码|密碼|口令|(?<![A-Za-z])(?:password|passwd|pwd))(\s*(?:是|为|為|[:=])\s*|\s+is\s+|\s+)([!-+\--~]{4,64})",
    re.IGNORECASE,
)
# Passports (E12345678, EA1234567), Hong Kong and Macau permits (H1234567890).
_PASSPORT = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,2}\d{7,10}(?![A-Za-z0-9])", re.ASCII)

# A number as people type it: digits, full-width digits or Chinese numerals, with
# up to three spaces, dots, commas, dashes, tildes or brackets between them ("138 1234 5678",
# "010-12345678", "138, 1234, 5678", "一三八一二三四五六七八").
_CN_DIGITS = "零〇一二三四五六七八九幺两壹贰叁肆伍陆柒捌玖"
_CN_VALUE = {c: str(v) for v, group in enumerate(("零〇", "一幺壹", "二两贰", "三叁", "四肆", "五伍", "六陆", "七柒", "八捌", "九玖"))
             for c in group}
_SEPARATORS = " \\-.·_/()（）,~‐‑‒–—―−"
_NUMBER = re.compile(rf"\+?[\d{_CN_DIGITS}](?:[{_SEPARATORS}]{{1,3}}(?=[\d{_CN_DIGITS}])|[\d{_CN_DIGITS}])*")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}")
_THOUSANDS = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_SPACES = re.compile(r" +")
_QQ_BEFORE = re.compile(r"(qq|扣扣|企鹅|q号)\D{0,4}$", re.IGNORECASE)
_MONEY_BEFORE = re.compile(r"[¥￥$]\s?$")
_MONEY_AFTER = re.compile(r"\s?(元|块|万|千|百|亿|rmb|yuan|usdt|usd|美元|刀|%|w\b|k\b)", re.IGNORECASE)
# 5-digit public hotlines: 95xxx and 96xxx service numbers, 100xx carriers, 123xx government.
_SERVICE_PREFIXES = ("95", "96", "100", "123")
# Characters nobody sees, put inside a number or an address to slip past a pattern.
_INVISIBLE = frozenset("\u00ad\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff")
# What stands in for a masked stretch while the next patterns run: no pattern matches it.
_HIDDEN = "\ue000"

Span = tuple[int, int, str]  # start, end, label


def _digits_of(run: str) -> str:
    return "".join(str(int(c)) if c.isdecimal() else _CN_VALUE.get(c, "") for c in run)


def _number_spans(match: re.Match[str]) -> Iterable[Span]:
    run, start = match.group(0), match.start()
    if _DATE.search(run) and not _DATE.fullmatch(run):
        # "2024-05-01 13812345678": the date stays, the rest is judged on its own.
        offset = 0
        for chunk in run.split(" "):
            if chunk and not _DATE.fullmatch(chunk):
                label = _number_label(chunk, match.string, start + offset, start + offset + len(chunk))
                if label:
                    yield start + offset, start + offset + len(chunk), label
            offset += len(chunk) + 1
        return
    label = _number_label(run, match.string, start, match.end())
    if label:
        yield start, match.end(), label


def _number_label(run: str, text: str, start: int, end: int) -> str | None:
    digits = _digits_of(run)
    written_in_digits = any(c.isdecimal() for c in run)
    if len(digits) < 5 or (not written_in_digits and len(digits) < 7) or _DATE.fullmatch(run):
        return None  # prices, years, dates, "一五一十"
    if _THOUSANDS.fullmatch(run) or ("," in run and not written_in_digits):
        return None  # 1,380,000; 一,二,三…
    after_qq = _QQ_BEFORE.search(text, max(0, start - 8), start)
    if len(digits) == 5 and digits.startswith(_SERVICE_PREFIXES) and not after_qq:
        return None  # 96110, 12377, 95017: numbers people should call
    if _MONEY_BEFORE.search(text, max(0, start - 2), start) or _MONEY_AFTER.match(text, end):
        return None
    local = digits[4:] if digits.startswith("0086") else digits[2:] if digits.startswith("86") else digits
    if len(local) == 11 and local[0] == "1" and local[1] in "3456789":
        return "[手机号]"
    if 13 <= len(digits) <= 19 and not digits.startswith("0"):
        return "[银行卡号]"
    if digits.startswith("0") and 10 <= len(digits) <= 12:
        return "[电话]"
    return "[号码]"


def _wechat_id_spans(match: re.Match[str]) -> Iterable[Span]:
    cue, separator, handle = match.groups()
    strong = cue.lower() in _STRONG_CUES or separator.strip() != ""
    # "my wechat account": after a weak cue, only an id that looks like one (digits, _ or -) is masked.
    if strong or re.search(r"[-_\d]", handle):
        yield match.start(3), match.end(3), "[微信号]"


def _password_spans(match: re.Match[str]) -> Iterable[Span]:
    _, separator, secret = match.groups()
    # "password is wrong": after "is" or a space, only a word with a digit or a sign is a password.
    if separator.strip() not in ("", "is") or re.search(r"[^A-Za-z]", secret):
        yield match.start(3), match.end(3), "[密码]"


def _whole(label: str) -> Callable[[re.Match[str]], Iterable[Span]]:
    return lambda match: ((match.start(), match.end(), label),)


_PASSES: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], Iterable[Span]]], ...] = (
    (_ID_CARD, _whole("[身份证号]")),
    (_EMAIL, _whole("[邮箱]")),
    (_WXID, _whole("[微信号]")),
    (_WECHAT_ID, _wechat_id_spans),
    (_V_COLON, _wechat_id_spans),
    (_PASSWORD, _password_spans),
    (_PASSPORT, _whole("[证件号]")),
    (_NUMBER, _number_spans),
)


def _fold(text: str) -> tuple[str, list[int] | None]:
    """The text as the patterns read it (NFKC, invisible characters removed), and where each character came from."""
    if text.isascii():
        return text, None
    parts: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        if char in _INVISIBLE:
            continue
        folded = char if char < "\u00a0" else unicodedata.normalize("NFKC", char)
        parts.append(folded)
        origin.extend([i] * len(folded))
    return "".join(parts), origin


def mask_personal_data(text: str) -> str:
    """Replace phone, ID-card, bank-card, QQ and passport numbers, e-mail addresses, WeChat ids and passwords.

    The patterns read the text folded (full-width letters and digits as ASCII, invisible
    characters removed), so that ＠, ｑｑ or a zero-width space do not hide anything; what
    is not masked is kept exactly as written.
    """
    folded, origin = _fold(text)
    spans: list[Span] = []
    for pattern, spans_of in _PASSES:
        found = [span for match in pattern.finditer(folded) for span in spans_of(match)]
        if found:
            spans += found
            chars = list(folded)
            for start, end, _ in found:
                chars[start:end] = _HIDDEN * (end - start)
            folded = "".join(chars)
    if not spans:
        return text
    out, done = [], 0
    for start, end, label in sorted(spans):
        if origin is not None:
            start, end = origin[start], origin[end - 1] + 1
        start = max(start, done)
        if start < end:
            out += [text[done:start], label]
            done = end
    out.append(text[done:])
    return "".join(out)


class MaskPersonalData(logging.Filter):
    """Masks every log record, its arguments and its traceback, whatever the level (DEBUG logs whole updates)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_personal_data(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask_personal_data(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True

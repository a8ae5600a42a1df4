"""Masking of personal data (numbers, e-mail addresses, WeChat ids) before anything is stored or logged."""

from __future__ import annotations

import logging
import re

# Mainland ID card: 17 digits and a digit or X (the X is why it has its own pattern).
_ID_CARD = re.compile(r"(?<!\d)\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dA-Za-z])")
_EMAIL = re.compile(r"(?<![\w.%+-])[\w.%+-]+@[A-Za-z0-9-][A-Za-z0-9.-]{0,250}\.[A-Za-z]{2,}", re.ASCII)
_WXID = re.compile(r"(?<![A-Za-z])wxid_[A-Za-z0-9_-]{4,}", re.IGNORECASE)
# "vx: abc123", "微信号：lily_88", "加v abc123": a WeChat id is 6-20 letters, digits, _ or -, from a letter.
_WECHAT_ID = re.compile(
    r"(?<![A-Za-z])(微信号?|vx|v信|薇信?|威信|wx|weixin|wechat(?: ?id)?|加v|v号)(\s*[:：]\s*|\s+|(?<=[信号薇v])(?=[A-Za-z]))"
    r"([A-Za-z][-_A-Za-z0-9]{5,19})(?![-_A-Za-z0-9])",
    re.IGNORECASE,
)
# Passports (E12345678, EA1234567), Hong Kong and Macau permits (H1234567890).
_PASSPORT = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,2}\d{7,10}(?![A-Za-z0-9])", re.ASCII)

# A number as people type it: digits, full-width digits or Chinese numerals, with
# single spaces, dots, dashes or brackets between them ("138 1234 5678",
# "010-12345678", "一三八一二三四五六七八").
_CN_DIGITS = "零〇一二三四五六七八九幺两壹贰叁肆伍陆柒捌玖"
_CN_VALUE = {c: str(v) for v, group in enumerate(("零〇", "一幺壹", "二两贰", "三叁", "四肆", "五伍", "六陆", "七柒", "八捌", "九玖"))
             for c in group}
_NUMBER = re.compile(rf"\+?[\d{_CN_DIGITS}](?:[ \-.·_/()（）]?[\d{_CN_DIGITS}])*")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}")
_SPACES = re.compile(r" +")
_QQ_BEFORE = re.compile(r"(qq|扣扣|企鹅|q号)\D{0,4}$", re.IGNORECASE)
_MONEY_BEFORE = re.compile(r"[¥￥$]\s?$")
_MONEY_AFTER = re.compile(r"\s?(元|块|万|千|百|亿|rmb|yuan|usdt|usd|美元|刀|%|w\b|k\b)", re.IGNORECASE)
# 5-digit public hotlines: 95xxx and 96xxx service numbers, 100xx carriers, 123xx government.
_SERVICE_PREFIXES = ("95", "96", "100", "123")


def _digits_of(run: str) -> str:
    return "".join(str(int(c)) if c.isdecimal() else _CN_VALUE.get(c, "") for c in run)


def _mask_number(match: re.Match[str]) -> str:
    run = match.group(0)
    if _DATE.search(run) and not _DATE.fullmatch(run):
        # "2024-05-01 13812345678": the date stays, the rest is judged on its own.
        return _SPACES.sub(" ", " ".join(
            chunk if _DATE.fullmatch(chunk) else _masked(chunk, match.string, match.start(), match.end())
            for chunk in run.split(" ")
        ))
    return _masked(run, match.string, match.start(), match.end())


def _masked(run: str, text: str, start: int, end: int) -> str:
    digits = _digits_of(run)
    written_in_digits = any(c.isdecimal() for c in run)
    if len(digits) < 5 or (not written_in_digits and len(digits) < 7) or _DATE.fullmatch(run):
        return run  # prices, years, dates, "一五一十"
    after_qq = _QQ_BEFORE.search(text, max(0, start - 8), start)
    if len(digits) == 5 and digits.startswith(_SERVICE_PREFIXES) and not after_qq:
        return run  # 96110, 12377, 95017: numbers people should call
    if _MONEY_BEFORE.search(text, max(0, start - 2), start) or _MONEY_AFTER.match(text, end):
        return run
    local = digits[4:] if digits.startswith("0086") else digits[2:] if digits.startswith("86") else digits
    if len(local) == 11 and local[0] == "1" and local[1] in "3456789":
        return "[手机号]"
    if 13 <= len(digits) <= 19 and not digits.startswith("0"):
        return "[银行卡号]"
    if digits.startswith("0") and 10 <= len(digits) <= 12:
        return "[电话]"
    return "[号码]"


def _mask_wechat_id(match: re.Match[str]) -> str:
    cue, separator, handle = match.groups()
    # "my wechat account": without a colon, only an id that looks like one (digits, _ or -) is masked.
    if ":" not in separator and "：" not in separator and not re.search(r"[-_\d]", handle):
        return match.group(0)
    return f"{cue}{separator}[微信号]"


def mask_personal_data(text: str) -> str:
    """Replace phone, ID-card, bank-card, QQ and passport numbers, e-mail addresses and WeChat ids."""
    text = _ID_CARD.sub("[身份证号]", text)
    text = _EMAIL.sub("[邮箱]", text)
    text = _WXID.sub("[微信号]", text)
    text = _WECHAT_ID.sub(_mask_wechat_id, text)
    text = _PASSPORT.sub("[证件号]", text)
    return _NUMBER.sub(_mask_number, text)


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

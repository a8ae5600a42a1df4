"""Masking of personal numbers before anything is stored or logged."""

from __future__ import annotations

import re

# Mainland ID card: 17 digits and a digit or X. Bank cards: 13-19 digits, often
# grouped by spaces or dashes. Mobile numbers: 1[3-9] and 9 more digits, with an
# optional +86. Order matters: the longest patterns first.
_ID_CARD = re.compile(r"(?<!\d)\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?![\dA-Za-z])")
_BANK_CARD = re.compile(r"(?<!\d)\d{4}(?:[ -]?\d{3,5}){2,4}(?!\d)")
_LONG_DIGITS = re.compile(r"(?<!\d)\d{9,}(?!\d)")
_PHONE = re.compile(r"(?<!\d)(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)")


def mask_personal_numbers(text: str) -> str:
    """Replace ID-card, bank-card and mobile numbers with placeholders."""
    text = _ID_CARD.sub("[身份证号]", text)
    text = _PHONE.sub("[手机号]", text)

    def bank(m: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", m.group(0))
        return "[银行卡号]" if 13 <= len(digits) <= 19 else m.group(0)

    text = _BANK_CARD.sub(bank, text)
    # Any other long run of digits (a QQ number, an account number) is personal too.
    return _LONG_DIGITS.sub("[号码]", text)

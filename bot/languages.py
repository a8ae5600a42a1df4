"""Languages and scripts of answers: the one place that names and chooses them.

The knowledge base and the interface strings are written in Simplified Chinese
and English. Traditional Chinese is derived from the Simplified text with
OpenCC, with Taiwan wording (s2twp) or Hong Kong wording (s2hk). Everything
else asks this module: which base text a language reads, how to convert it,
and which language a question is written in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import opencc

from .pinyin import reads_as_pinyin
from .text import has_cjk


@dataclass(frozen=True)
class Language:
    code: str  # what --lang, /lang, the web page and JSON use
    base: str  # the knowledge base's text it is made from: "zh" or "en"
    opencc: str | None  # OpenCC configuration that derives it from the base, if any
    label: str  # its own name, for language menus


LANGUAGES: dict[str, Language] = {
    "zh": Language("zh", "zh", None, "简体中文"),
    "zh-Hant": Language("zh-Hant", "zh", "s2twp", "繁體中文"),
    "zh-HK": Language("zh-HK", "zh", "s2hk", "繁體中文（香港）"),
    "en": Language("en", "en", None, "English"),
}
DEFAULT = "zh"
# What a person may type for a language (--lang, /lang, ?lang=): the codes and common aliases.
ALIASES = {
    "zh": "zh", "zh-cn": "zh", "zh-hans": "zh", "zh-sg": "zh", "cn": "zh", "sc": "zh", "简体": "zh",
    "zh-hant": "zh-Hant", "zh-tw": "zh-Hant", "tw": "zh-Hant", "tc": "zh-Hant", "繁體": "zh-Hant", "繁体": "zh-Hant",
    "zh-hk": "zh-HK", "zh-mo": "zh-HK", "hk": "zh-HK", "yue": "zh-HK",
    "en": "en", "english": "en",
}
# Words OpenCC leaves in a form the region does not use (s2twp writes 賬號 where Taiwan writes 帳號,
# and 釋出, a software release, for 发布 an announcement), or gets wrong in both
# (借手机卡, "lend a SIM card", becomes 藉手機卡, "by means of").
_BOTH = {"藉手機": "借手機"}
WORDING = {
    "zh-Hant": {"賬號": "帳號", "賬戶": "帳戶", "賬單": "帳單", "釋出": "發布", **_BOTH},
    "zh-HK": dict(_BOTH),
}
# Written Cantonese: characters that standard written Chinese does not use.
_CANTONESE = re.compile(r"[咗冇嘅佢啲嚟喺咩畀搵揾睇攞嘢乜咁噉嗰哋唔係]|點算|得唔得|俾人")


@lru_cache(maxsize=None)
def converter(config: str) -> opencc.OpenCC:
    """One OpenCC converter per configuration for the whole process (each costs a few ms to load)."""
    return opencc.OpenCC(config)


def normalize_code(value: str | None) -> str | None:
    """A language code from what someone typed ("zh-TW", "繁體", "en-US"), or None if unknown."""
    if not value:
        return None
    key = value.strip().lower().replace("_", "-")
    if key in ALIASES:
        return ALIASES[key]
    head = key.split("-")[0]
    if head == "en":
        return "en"
    if head == "zh":
        return "zh-Hant" if "hant" in key else "zh"
    return None


def base_of(code: str) -> str:
    """The knowledge base's text a language reads: "zh" or "en"."""
    return LANGUAGES.get(code, LANGUAGES[DEFAULT]).base


def localize(text: str, code: str) -> str:
    """A base-language text in the given language's script and wording."""
    language = LANGUAGES.get(code)
    if language is None or language.opencc is None or not text:
        return text
    return _convert(code, text)


@lru_cache(maxsize=8192)
def _convert(code: str, text: str) -> str:
    text = converter(LANGUAGES[code].opencc).convert(text)
    for old, new in WORDING.get(code, {}).items():
        text = text.replace(old, new)
    return text


_SCRIPT_OF: dict[str, int] = {}  # character -> 1 Traditional only, -1 Simplified only, 0 both or neither


def _script_of(char: str) -> int:
    found = _SCRIPT_OF.get(char)
    if found is None:
        if converter("t2s").convert(char) != char:
            found = 1
        elif converter("s2t").convert(char) != char:
            found = -1
        else:
            found = 0
        if len(_SCRIPT_OF) < 50_000:  # the CJK block has about 21,000 characters
            _SCRIPT_OF[char] = found
    return found


def detect(text: str) -> str:
    """The language a question is written in: en, zh, zh-Hant (Taiwan) or zh-HK (Cantonese).

    A question typed in pinyin ("weixin bei feng le") is Chinese, answered in Simplified.
    """
    if not has_cjk(text):
        return "zh" if reads_as_pinyin(text) else "en"
    sample = text[:400]
    # Characters of one script only count; the many shared ones say nothing.
    if sum(_script_of(c) for c in sample if "\u4e00" <= c <= "\u9fff") <= 0:
        return "zh"
    return "zh-HK" if _CANTONESE.search(sample) else "zh-Hant"


def menu() -> list[tuple[str, str]]:
    """(code, label) of the languages a person chooses between."""
    return [(code, LANGUAGES[code].label) for code in ("zh", "zh-Hant", "en")]

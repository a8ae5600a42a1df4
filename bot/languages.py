"""Languages and scripts of answers: the one place that names and chooses them.

The knowledge base and the interface strings are written in Simplified Chinese
and English. Traditional Chinese is derived from the Simplified text with
OpenCC, with Taiwan wording (s2twp) or Hong Kong wording (s2hk); text quoted in
「…」 (a notice, a source, an app's menu label) and titles in 《…》 keep their own
words and only change script; the knowledge base's `traditional.yaml` corrects the
converter's known mistakes. Everything else asks this module: which base text
a language reads, how to convert it, and which language a question is written in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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
    # OpenCC configuration for quoted text (「…」, 《…》): the script changes, the words do not
    # (s2twp would reword a quoted notice's 微信号 into 微訊號 and a menu's 登录 into 登入).
    verbatim: str | None = None


LANGUAGES: dict[str, Language] = {
    "zh": Language("zh", "zh", None, "简体中文"),
    "zh-Hant": Language("zh-Hant", "zh", "s2twp", "繁體中文", "s2tw"),
    "zh-HK": Language("zh-HK", "zh", "s2hk", "繁體中文（香港）", "s2hk"),
    "en": Language("en", "en", None, "English"),
}
# The languages derived by conversion: the ones traditional.yaml may correct.
CONVERTED = tuple(code for code, language in LANGUAGES.items() if language.opencc)
# Quoted words and titles: a source's or an app's own wording, a law's or a document's name,
# converted in script only.
QUOTED = re.compile(r"「[^「」\n]*」|《[^《》\n]*》")
DEFAULT = "zh"
# What a person may type for a language (--lang, /lang, ?lang=): the codes and common aliases.
ALIASES = {
    "zh": "zh", "zh-cn": "zh", "zh-hans": "zh", "zh-sg": "zh", "cn": "zh", "sc": "zh", "简体": "zh",
    "zh-hant": "zh-Hant", "zh-tw": "zh-Hant", "tw": "zh-Hant", "tc": "zh-Hant", "繁體": "zh-Hant", "繁体": "zh-Hant",
    "zh-hk": "zh-HK", "zh-mo": "zh-HK", "hk": "zh-HK", "yue": "zh-HK",
    "en": "en", "english": "en",
}


@dataclass(frozen=True, eq=False)  # hashed by identity: one per loaded knowledge base
class Wording:
    """Corrections of the converter's output (traditional.yaml): per language, (wrong, right), longest first."""

    fixes: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)

    def apply(self, code: str, text: str) -> str:
        for wrong, right in self.fixes.get(code, ()):
            text = text.replace(wrong, right)
        return text

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


def localize(text: str, code: str, wording: Wording | None = None) -> str:
    """A base-language text in the given language's script and wording, corrected by `wording`."""
    language = LANGUAGES.get(code)
    if language is None or language.opencc is None or not text:
        return text
    return _convert(code, text, wording)


@lru_cache(maxsize=8192)
def _convert(code: str, text: str, wording: Wording | None) -> str:
    language = LANGUAGES[code]
    words, quoted = converter(language.opencc), converter(language.verbatim or language.opencc)
    parts, start = [], 0
    for found in QUOTED.finditer(text):
        parts += [words.convert(text[start:found.start()]), quoted.convert(found.group(0))]
        start = found.end()
    parts.append(words.convert(text[start:]))
    converted = "".join(parts)
    return wording.apply(code, converted) if wording is not None else converted


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

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
_BLOCK_FIRST, _BLOCK_LAST = 0x4E00, 0x9FFF  # the characters detect() weighs
_MARK_OF = {1: "T", -1: "S", 0: "."}
_VALUE_OF = {"T": 1, "S": -1, ".": 0}


def _script_of(char: str) -> int:
    """1 when only Traditional Chinese writes the character, -1 when only Simplified does, 0 otherwise."""
    offset = ord(char) - _BLOCK_FIRST if len(char) == 1 else -1
    if 0 <= offset <= _BLOCK_LAST - _BLOCK_FIRST:
        return _VALUE_OF[_script_table()[offset]]
    found = _SCRIPT_OF.get(char)
    if found is None:
        found = _converted_script(char)
        if len(_SCRIPT_OF) < 50_000:
            _SCRIPT_OF[char] = found
    return found


def _converted_script(char: str) -> int:
    if converter("t2s").convert(char) != char:
        return 1
    if converter("s2t").convert(char) != char:
        return -1
    return 0


@lru_cache(maxsize=1)
def _script_table() -> str:
    """_converted_script of every character of the block as a mark (T, S or .), built once per OpenCC install.

    Loading OpenCC's s2t tables took 70 ms of the first answer to every
    Simplified question; the table is cached as plain text, keyed by OpenCC's
    installed files and this module.
    """
    import hashlib
    import os
    from pathlib import Path

    from .loadcache import package_stamp
    from .text import _remove_stale, default_cache_dir

    size = _BLOCK_LAST - _BLOCK_FIRST + 1
    key = hashlib.sha256(package_stamp("opencc").encode() + Path(__file__).read_bytes()).hexdigest()[:16]
    cache_dir = default_cache_dir()
    path = cache_dir / f"script-{key}.txt"
    try:
        table = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        table = ""
    if len(table) == size and set(table) <= set(_VALUE_OF):
        return table
    table = "".join(_MARK_OF[_converted_script(chr(code))] for code in range(_BLOCK_FIRST, _BLOCK_LAST + 1))
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(table, encoding="ascii")
        os.replace(tmp, path)
        _remove_stale(cache_dir, "script-", keep=path)
    except OSError:
        pass  # a read-only cache still detects, only without the fast start
    return table


def detect(text: str) -> str:
    """The language a question is written in: en, zh, zh-Hant (Taiwan) or zh-HK (Cantonese).

    A question typed in pinyin ("weixin bei feng le") is Chinese, answered in Simplified.
    """
    if not has_cjk(text):
        return "zh" if reads_as_pinyin(text) else "en"
    sample = text[:400]
    # Characters of one script only count; the many shared ones say nothing.
    table = _script_table()
    marks = [table[ord(c) - _BLOCK_FIRST] for c in sample if "\u4e00" <= c <= "\u9fff"]
    if marks.count("T") - marks.count("S") <= 0:
        return "zh"
    return "zh-HK" if _CANTONESE.search(sample) else "zh-Hant"


def menu() -> list[tuple[str, str]]:
    """(code, label) of the languages a person chooses between."""
    return [(code, LANGUAGES[code].label) for code in ("zh", "zh-Hant", "en")]

"""Traditional Chinese reads as a person in Taiwan or Hong Kong writes it, and quotes keep their words.

Every string the bot can show (cards in every form, titles, summaries, paths,
warnings, sources, themes, red-flag labels, interface strings, and any other
text field a topic carries) is rendered in zh-Hant and zh-HK and searched for
the converter's known wrong forms. Found a new one? Correct it in
knowledge/traditional.yaml and add it here, so that it never comes back.
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from bot.knowledge import Localized, load_knowledge
from bot.languages import _script_of, localize
from bot.render import render_card_html, render_card_short_html, render_card_text

from .fake_bot_api import parse_html

# Wrong in both Traditional languages: OpenCC's misreadings.
KNOWN_WRONG = (
    "微訊號",  # 微信号 read as 微 + 信号 "signal"
    "物件",  # 对象 (a partner, a target) as a programming object
    "版本里", "報道里", "頁面里", "號里", "群里",  # 里 "in" left as the 里 of 公里
    "解封后", "被封后", "凍結后", "登記后",  # 后 "queen" for 後 "after"
    "回復",  # a reply is 回覆
    "藉手機",  # 借 "lend" as 藉 "by means of"
    "型別",  # 类型 as a programming type
    "許可權",  # 权限 as a Windows permission
    "影片號",  # 视频号, WeChat Channels' name
    "釋出",  # 发布 an announcement as a software release
)
# Wrong in Taiwan wording (zh-Hant) only: mainland forms s2twp leaves, and names it rewrites.
KNOWN_WRONG_TW = (
    "賬", "轉賬", "團伙", "發佈", "公佈", "稽核", "營銷", "反饋", "渠道", "報道",
    "工業和資訊化部", "資訊網路犯罪", "個人資訊罪", "反電信網路詐騙法",
)
# 后, 里 and 干 stand alone in Traditional text only in these words; anywhere else they are a missed conversion.
LONE = {"后": ("皇后", "王后", "太后"), "里": ("公里", "里程", "鄰里", "英里"), "干": ("干涉", "干擾", "若干", "干預")}
# Characters OpenCC's s2t would still change that are the region's own standard form.
REGIONAL_FORMS = {"zh-Hant": set("群"), "zh-HK": set("伙台户税群")}
TRADITIONAL = ("zh-Hant", "zh-HK")


def localized_strings(value, where: str):
    """Every Localized inside a knowledge-base object (dataclasses, tuples, dicts), with where it sits."""
    if isinstance(value, Localized):
        yield where, value
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from localized_strings(getattr(value, f.name), f"{where}.{f.name}")
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from localized_strings(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from localized_strings(item, f"{where}.{key}")


def everything_shown(kb, lang: str):
    """(where, text) of every string and every card rendering, in `lang`."""
    for where, value in localized_strings(kb.topics, "topics"):
        yield where, value.get(lang)
    for name in ("themes", "situation_kinds", "fallbacks"):
        for where, value in localized_strings(getattr(kb, name, ()), name):
            yield where, value.get(lang)
    for flag in kb.red_flags.flags:
        yield f"red_flags.{flag.id}", flag.label.get(lang)
    for key, value in kb.ui.items():
        yield f"ui.{key}", value.get(lang)
    for topic in kb.topics.values():
        yield f"card {topic.id}", render_card_text(kb, topic, lang)
        yield f"html {topic.id}", "\n".join(parse_html(p)[0] for p in render_card_html(kb, topic, lang))
        yield f"short {topic.id}", parse_html(render_card_short_html(kb, topic, lang, None, "more"))[0]


def problems(text: str, lang: str) -> list[str]:
    found = [w for w in KNOWN_WRONG if w in text]
    if lang == "zh-Hant":
        found += [w for w in KNOWN_WRONG_TW if w in text]
    for char, words in LONE.items():
        rest = text
        for word in words:
            rest = rest.replace(word, "")
        found += [f"lone {char}: …{rest[max(0, m.start() - 6):m.end() + 3]}…" for m in re.finditer(char, rest)]
    left = {c for c in text if "\u4e00" <= c <= "\u9fff" and _script_of(c) == -1} - REGIONAL_FORMS[lang]
    found += [f"Simplified {c}" for c in sorted(left)]
    return found


@pytest.mark.parametrize("lang", TRADITIONAL)
def test_no_known_wrong_form_in_anything_the_bot_shows(kb, lang):
    shown = 0
    for where, text in everything_shown(kb, lang):
        shown += 1
        assert not problems(text, lang), (lang, where, problems(text, lang))
    assert shown > 300


@pytest.mark.parametrize("lang", TRADITIONAL)
def test_the_checks_catch_what_opencc_gets_wrong_without_the_corrections(kb, lang):
    # Without traditional.yaml the same texts show the wrong forms: the corrections and the list above are real.
    raw = {where: localize(value.zh, lang) for where, value in localized_strings(kb.topics, "topics")}
    caught = {p for text in raw.values() for p in problems(text, lang)}
    assert caught, lang
    if lang == "zh-Hant":
        assert {"物件", "微訊號", "賬"} <= caught


def test_quotes_and_titles_change_script_only(kb):
    # A quoted notice or menu label reads as on the screen; a law keeps its name.
    assert localize("入口在「登录遇到问题」里", "zh-Hant", kb.wording) == "入口在「登錄遇到問題」裡"
    assert localize("「该微信号因涉及欺诈」", "zh-Hant", kb.wording) == "「該微信號因涉及欺詐」"
    assert localize("《反电信网络诈骗法》规定", "zh-Hant", kb.wording) == "《反電信網絡詐騙法》規定"
    assert localize("网络赌博", "zh-Hant", kb.wording) == "網路賭博"  # outside quotes: Taiwan wording
    assert localize("网恋对象", "zh-Hant", kb.wording) == "網戀對象"
    assert localize("解封后转账", "zh-Hant", kb.wording) == "解封後轉帳"
    assert localize("解封后转账", "zh-HK", kb.wording) == "解封後轉賬"


def test_a_bad_correction_table_is_a_load_error(kb_copy):
    from bot.knowledge import KnowledgeError

    path = kb_copy / "traditional.yaml"
    path.write_text("fixes:\n  zh-TW:\n    物件: 對象\n  all:\n    回復: 回復\napp_labels: [投诉, 投诉]\n", encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(kb_copy)
    text = "\n".join(info.value.problems)
    assert "'fixes.zh-TW'" in text and "unknown language" in text
    assert "'回復'" in text and "equals the wrong one" in text
    assert "'app_labels'" in text and "twice" in text

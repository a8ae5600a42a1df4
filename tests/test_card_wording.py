"""Every card, in every language and every form a user meets it, says only what holds for the reader.

Rendered as plain text (terminal), full Telegram HTML and the short card (groups,
inline): no word of how the knowledge base is made, source lines in the card's
language, the law with its thresholds, no unsupported promise about money, the
2019 procedure labelled as that operation's, menu paths hedged.
"""

from __future__ import annotations

import re

import opencc
import pytest

from bot.knowledge import Localized
from bot.render import render_card_html, render_card_short_html, render_card_text, source_lines
from bot.text import has_cjk

from .fake_bot_api import parse_html

# Traditional output arrives through Localized.get (OpenCC); test it as soon as it exists.
LANGUAGES = ["zh", "en"] + (["zh-Hant"] if has_cjk(Localized("后台", "back end").get("zh-Hant")) else [])
_to_simplified = opencc.OpenCC("t2s").convert

CURATOR_WORDING = re.compile(
    r"种子|seed|\bcurator|未注明|未给出日期|日期未给出|未写明年份|not dated|date not given|year not given"
    r"|我们依据|我们的资料|网上教程|how-to (?:guides|pages)|\bour sources"  # how the knowledge base was made (issue 16)
    r"|[（(][^（）()\n]*\d{4}\s*年?(?:媒体)?报道[^（）()\n]*[)）]"  # "（2014年媒体报道）"-style captions
    r"|\(reported(?: in)? \d{4}",
    re.I,
)
UNSUPPORTED_MONEY = re.compile(
    r"被封不等于钱没了|does not mean your money is gone|仍可提取|仍能取回|still be (?:withdrawn|retrieved)"
    r"|weixin110[^\n]*询问|ask (?:here|via weixin110)",
    re.I,
)
OPERATION_2019 = re.compile(r"临时登录入口|temporary login entrance", re.I)
MENU_PATH = re.compile(r"→")
HEDGE = re.compile(r"菜单|版本|页面|menu|version|screen", re.I)


def rendered(kb, topic, lang: str) -> dict[str, str]:
    """The card as each surface shows it, in Simplified Chinese or English for the checks."""
    link = f"https://t.me/bot?start={topic.id}"
    forms = {
        "text": render_card_text(kb, topic, lang),
        "html": "\n\n".join(parse_html(part)[0] for part in render_card_html(kb, topic, lang, link)),
        "short": parse_html(render_card_short_html(kb, topic, lang, link, kb.text("read_more", lang)))[0],
    }
    return {name: _to_simplified(text) for name, text in forms.items()}


def every_rendering(kb):
    for topic in kb.topics.values():
        for lang in LANGUAGES:
            for form, text in rendered(kb, topic, lang).items():
                yield topic, lang, form, text


def check_criminal_law(line: str) -> None:
    """Art. 253-1 (and 287-2, 225) with the threshold before the penalty, detention, '5 years or more'."""
    if re.search(r"253", line):
        if has_cjk(line):
            assert re.search(r"253条之一.*情节严重的，处三年以下有期徒刑或者?拘役", line), line
        else:
            assert re.search(r"253-1.*\bif serious\b.*\bup to 3 years\b.*\bor detention\b", line), line
    if re.search(r"287", line) and not has_cjk(line):
        assert re.search(r"287-2.*\bif serious\b.*\bup to 3 years\b.*\bor detention\b", line), line
    if re.search(r"225", line):
        if has_cjk(line):
            assert re.search(r"情节严重的，处五年以下有期徒刑或者?拘役.*情节特别严重的，处五年以上有期徒刑", line), line
        else:
            assert re.search(r"\bup to 5 years or detention\b.*\b5 years or more\b", line), line
    assert not re.search(r"\bover 5 years\b", line), line


def test_languages_include_what_the_cards_can_be_shown_in():
    assert {"zh", "en"} <= set(LANGUAGES)


def test_no_curator_wording_reaches_a_user(kb):
    for topic, lang, form, text in every_rendering(kb):
        found = CURATOR_WORDING.search(text)
        assert not found, (topic.id, lang, form, found.group(0))
    for key, value in kb.ui.items():
        for lang in LANGUAGES:
            text = _to_simplified(value.get(lang))
            assert not CURATOR_WORDING.search(text), (key, lang)
            assert not re.search(r"QQ\s*的公告|QQ announcements|cover WeChat and QQ", text), (key, lang)


def test_source_lines_speak_the_cards_language(kb):
    for topic in kb.topics.values():
        for line in source_lines(topic, "en"):
            assert not has_cjk(line), (topic.id, line)
        for topic_, lang, form, text in ((topic, "en", f, t) for f, t in rendered(kb, topic, "en").items()):
            for line in text.splitlines():
                if line.startswith(kb.text("sources", "en") + ":"):
                    assert not has_cjk(line), (topic_.id, form, line)
        for line in source_lines(topic, "zh"):
            assert has_cjk(line), (topic.id, line)


def test_the_criminal_law_is_stated_with_its_thresholds(kb):
    seen = set()
    for topic, lang, form, text in every_rendering(kb):
        for line in text.splitlines():
            check_criminal_law(line)
            if "253" in line:
                seen.add(lang)
    assert seen == set(LANGUAGES)  # the check above did run on the SIM-card card in every language


def test_no_unsupported_promise_about_money(kb):
    for topic, lang, form, text in every_rendering(kb):
        found = UNSUPPORTED_MONEY.search(text)
        assert not found, (topic.id, lang, form, found.group(0))


def test_the_2019_temporary_login_entrance_is_labelled_wherever_it_is_shown(kb):
    for topic, lang, form, text in every_rendering(kb):
        for line in text.splitlines():
            if OPERATION_2019.search(line):
                assert re.search(r"2019|那次|that operation", line, re.I), (topic.id, lang, form, line)
    for topic in kb.topics.values():
        for lang in ("zh", "en"):
            summary = topic.summary.get(lang)
            assert not OPERATION_2019.search(summary) or re.search(r"2019|那次|that operation", summary)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_menu_paths_in_short_cards_and_channels_carry_their_hedge(kb, lang):
    for topic in kb.topics.values():
        texts = [("summary", topic.summary.get(lang))]
        texts += [(f"official_paths[{i}]", p.how.get(lang)) for i, p in enumerate(topic.official_paths)]
        for where, text in texts:
            if MENU_PATH.search(text):
                assert HEDGE.search(text), (topic.id, where, text)


def test_the_regional_card_says_when_it_applies_and_sends_everyone_else_to_the_appeal(kb):
    topic = kb.topics["regional-fraud-ban"]
    assert "只适用于" in topic.summary.zh and "申诉" in topic.summary.zh
    assert topic.summary.en.startswith("Only for") and "appeal" in topic.summary.en
    first = topic.official_paths[0]  # the short card's channel: not the 2019 police workstation
    assert not re.search(r"派出所|公安|police", first.name.zh + first.name.en)

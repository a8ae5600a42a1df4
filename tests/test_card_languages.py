"""Chinese and English say the same thing, item by item; Traditional is the Chinese in another script.

The same numbered steps in the same order, and in each step, summary, path and
warning the same hotlines, rule and article numbers and years: a step that
names 96110 or rule 1.3.3 in Chinese names it in English too.
"""

from __future__ import annotations

import re

import pytest

NUMBERED = re.compile(r"^(\d+)\.\s", re.M)
# Numbers a reader acts on or checks: hotlines, rule numbers, law articles, years, statistics' digits aside.
KEY_NUMBER = re.compile(
    r"(?<!\d)(?<!\d\.)(96110|12377|110|1\.[23]\.3|287|253|225|303|20[12]\d)(?!\d|\.\d)"
    r"|(?:第|art\. )(31)(?=[条條]|\b)"
)
TRADITIONAL = ("zh-Hant", "zh-HK")


def items(answer: str) -> dict[int, str]:
    """The numbered steps of an answer, by number."""
    parts = NUMBERED.split(answer)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def key_numbers(text: str) -> set[str]:
    return {a or b for a, b in KEY_NUMBER.findall(text)}


def pairs(topic):
    """(where, zh, en) of every text of a card that must say the same in both languages."""
    yield "title", topic.title.zh, topic.title.en
    yield "summary", topic.summary.zh, topic.summary.en
    for i, p in enumerate(topic.official_paths):
        yield f"official_paths[{i}]", p.name.zh + " " + p.how.zh, p.name.en + " " + p.how.en
    for i, w in enumerate(topic.warnings):
        yield f"warnings[{i}]", w.zh, w.en
    yield "first", topic.first.zh, topic.first.en
    for situation in topic.situations:
        yield f"situations.{situation.id}.first", situation.first.zh, situation.first.en


def test_every_answer_has_the_same_steps_in_every_language(kb):
    for topic in kb.topics.values():
        zh, en = items(topic.answer.zh), items(topic.answer.en)
        assert list(zh) == list(en) and list(zh) == list(range(1, len(zh) + 1)), (topic.id, list(zh), list(en))
        # Unnumbered lines (a note before or after the steps) exist in both too.
        plain = [len([l for l in a.splitlines() if l.strip() and not NUMBERED.match(l)]) for a in (topic.answer.zh, topic.answer.en)]
        assert plain[0] == plain[1], (topic.id, plain)


def test_each_step_names_the_same_numbers_in_both_languages(kb):
    compared = 0
    for topic in kb.topics.values():
        zh, en = items(topic.answer.zh), items(topic.answer.en)
        for n in zh:
            assert key_numbers(zh[n]) == key_numbers(en[n]), (topic.id, n, key_numbers(zh[n]), key_numbers(en[n]))
            compared += bool(key_numbers(zh[n]))
        for where, zh_text, en_text in pairs(topic):
            assert key_numbers(zh_text) == key_numbers(en_text), (topic.id, where, key_numbers(zh_text), key_numbers(en_text))
    assert compared > 40


@pytest.mark.parametrize("lang", TRADITIONAL)
def test_traditional_keeps_every_step_and_number(kb, lang):
    for topic in kb.topics.values():
        zh, converted = items(topic.answer.zh), items(topic.answer.get(lang))
        assert list(zh) == list(converted), (topic.id, lang)
        for n in zh:
            assert key_numbers(zh[n]) == key_numbers(converted[n]), (topic.id, lang, n)


def test_the_step_check_sees_a_missing_step():
    assert list(items("1. a\n2. b\n3. c\n")) == [1, 2, 3]
    assert key_numbers("拨打110，或打96110；1.3.3；第31条；2019年") == {"110", "96110", "1.3.3", "31", "2019"}
    assert key_numbers("call 110 or 96110; rule 1.3.3; art. 31; in 2019.") == {"110", "96110", "1.3.3", "31", "2019"}
    assert key_numbers("rule 1.2.3 and 1.3.3") == {"1.2.3", "1.3.3"} and key_numbers("1.06亿元") == set()

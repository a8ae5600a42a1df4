"""Any string at all, at every text entry point: no exception, bounded time, HTML that Telegram accepts."""

from __future__ import annotations

import io
import json
import re
import time
from datetime import timedelta

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.__main__ import main
from bot.privacy import mask_personal_data
from bot.render import render_verdict_html
from bot.utf8 import valid_text

from .fake_bot_api import parse_html

# Every code point, surrogates included (JSON escapes and undecodable bytes produce them).
ANY_CHAR = st.characters(codec=None, exclude_categories=())
# Pieces that reach the interesting paths: scam words, numbers, markup, runs.
FRAGMENTS = st.sampled_from([
    "收手机卡", "一张200元", "日结", "加V: abc123", "扫码", "辅助注册", "解封", "微信被封了", "怎么申诉", "吗？", "!!", "【招聘】",
    "http://x.cn", "www.a.com", "<b>", "</code>", "&amp;", "&", "<", ">", "\"", "13812345678", "138 1234 5678",
    "一三八一二三四五六七八", "lily@qq.com", "wxid_abc123", "E12345678", "\n", "\\n", " ", "\u200b", "\ufeff", "\ud800",
    "😀", "👍🏽", "ｆｕｌｌ", "繁體被封", "buy sim", "guaranteed 20% a week", "1" * 50, "。" * 30,
])
TEXT = st.one_of(
    st.text(ANY_CHAR, max_size=300),
    st.lists(st.one_of(FRAGMENTS, st.text(ANY_CHAR, max_size=5)), max_size=60).map("".join),
    st.tuples(FRAGMENTS, st.integers(1, 800)).map(lambda t: t[0] * t[1]),  # long runs, up to about 40,000 characters
)
PROPERTIES = settings(max_examples=150, deadline=timedelta(seconds=2),
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@PROPERTIES
@given(TEXT)
def test_matcher_answers_any_text(matcher, text):
    # Every entry point (bot.utf8) replaces lone surrogates first: OpenCC cannot encode them.
    text = valid_text(text)
    match = matcher.match_question(text)
    assert match.decision in ("answer", "suggest", "none")
    assert (match.topic is None) == (match.decision == "none") or match.decision == "none"
    followup = matcher.match_followup(text, "ban-appeal")
    assert followup.decision in ("answer", "suggest", "none")


@PROPERTIES
@given(TEXT)
def test_checker_judges_any_text_in_bounded_time(checker, text):
    start = time.perf_counter()
    verdict = checker.check_message(text)
    checker.reads_like_a_message(text, verdict)
    assert time.perf_counter() - start < 0.5
    assert verdict.risk in ("high", "medium", "low")
    json.dumps(verdict.as_json(), ensure_ascii=False).encode("utf-8", "surrogatepass")


@PROPERTIES
@given(TEXT, st.sampled_from(["zh", "zh-Hant", "en"]))
def test_the_verdict_any_text_gets_is_html_telegram_accepts(checker, kb, text, lang):
    verdict = checker.check_message(text)
    body = render_verdict_html(kb, verdict, lang)
    body.encode("utf-8")  # no lone surrogate reaches Telegram
    visible, _ = parse_html(body)  # raises on markup Telegram would refuse
    assert 0 < len(visible) <= 4096
    assert all(t in kb.topics for t in verdict.topics)


@PROPERTIES
@given(TEXT)
def test_masking_any_text(text):
    text = valid_text(text)
    masked = mask_personal_data(text)
    masked.encode("utf-8")
    assert len(masked) <= len(text) + 8 * len(re.findall(r"\d+|@", text)) + 8
    assert sum(c.isdecimal() for c in masked) <= sum(c.isdecimal() for c in text)


@PROPERTIES
@given(st.text(ANY_CHAR, max_size=40), st.text(ANY_CHAR, max_size=40),
       st.from_regex(r"[a-z][a-z0-9._]{0,15}@[a-z0-9]{1,10}\.(com|cn|net|org)", fullmatch=True))
def test_an_email_address_never_survives_masking(before, after, email):
    masked = mask_personal_data(valid_text(f"{before} {email} {after}"))
    assert email not in masked


@PROPERTIES
@given(st.text(ANY_CHAR, max_size=40), st.text(ANY_CHAR, max_size=40),
       st.from_regex(r"1[3-9]\d{9}", fullmatch=True), st.sampled_from(["", " ", "-", "."]))
def test_a_mobile_number_never_survives_masking(before, after, mobile, separator):
    written = separator.join((mobile[:3], mobile[3:7], mobile[7:]))
    masked = mask_personal_data(f"{before}，{written}，{after}")
    assert mobile not in re.sub(r"\D", "", masked.replace(before, "").replace(after, ""))


@settings(max_examples=60, deadline=timedelta(seconds=5),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.sampled_from([["ask"], ["ask", "--json"], ["check-message"], ["check-message", "--json"]]), TEXT)
def test_the_command_line_answers_any_argument(command, text):
    # "-" means standard input; "--" lets a text that starts with "-" be the question.
    assume(text != "-")
    out = io.StringIO()
    assert main([*command, "--", text], out) == 0
    printed = out.getvalue()
    printed.encode("utf-8")
    if "--json" in command:
        json.loads(printed)

"""/banned, every path (platform × reason): the chosen platform's channels, the appeal first, no reporting advice."""

from __future__ import annotations

import json
import re

import pytest

from bot.conversation import PATH_PLATFORM, PLATFORMS, REASONS

from .fake_bot_api import parse_html

# Advice on reporting other people (12377, in-app complaints, Tencent 110, the
# anti-fraud app's reports) has no place in a banned user's own checklist.
REPORTING = re.compile(r"12377|举报|投诉|腾讯110|Tencent 110|国家反诈中心|report|complain", re.I)
# The 2019 operation's channels are reached only through the regional card.
REGIONAL_2019 = re.compile(r"临时登录入口|temporary login|普洱|Pu'er|派出所|police station", re.I)


def buttons(params) -> list[str]:
    markup = params.get("reply_markup")
    markup = json.loads(markup) if isinstance(markup, str) else markup or {}
    return [b.get("callback_data") for row in markup.get("inline_keyboard", []) for b in row]


def path_line(path, lang: str) -> str:
    return f"• {path.name.get(lang)}: {path.how.get(lang)}"


def run_flow(fake, user_id: int, platform: str, reason: str, language_code: str) -> dict:
    fake.private_message(user_id, "/banned", language_code=language_code)
    fake.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == user_id)
    fake.callback_query(user_id, f"b:p:{platform}")
    fake.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == user_id, count=2)
    fake.callback_query(user_id, f"b:n:{reason}")
    calls = fake.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == user_id, count=3)
    return calls[-1].params


@pytest.mark.parametrize("reason", REASONS)
@pytest.mark.parametrize("platform", PLATFORMS)
def test_checklist_shows_only_the_platforms_channels_and_no_reporting_advice(bot_runner, kb, platform, reason):
    fake, _ = bot_runner
    wanted = PATH_PLATFORM[platform]
    for user_id, language_code, lang in ((9100, "zh-hans", "zh"), (9101, "en", "en")):
        params = run_flow(fake, user_id, platform, reason, language_code)
        visible, _ = parse_html(params["text"])
        shown = [line for line in visible.splitlines() if line.startswith("• ")]
        allowed = {path_line(p, lang) for t in kb.topics.values() for p in t.official_paths if p.suits(wanted)}
        foreign = {path_line(p, lang) for t in kb.topics.values() for p in t.official_paths if not p.suits(wanted)}
        assert shown or platform == "other", (platform, reason, lang)  # other platforms: advice, no app paths
        for line in shown:
            assert line in allowed and line not in foreign, (platform, reason, lang, line)
        if platform == "qq":
            assert "aq.qq.com" in visible
        if platform == "wechat":
            assert "登录遇到问题" in visible and "aq.qq.com" not in visible
        if platform == "other":
            assert "登录遇到问题" not in visible and "aq.qq.com" not in visible  # no WeChat menu, no QQ site
            assert kb.text("banned_other_note", lang) in visible
        assert not REPORTING.search(visible), (platform, reason, lang, REPORTING.search(visible))
        assert not REGIONAL_2019.search(visible), (platform, reason, lang, REGIONAL_2019.search(visible))
        if platform == "wechat" or reason == "fraud":
            assert kb.text(f"banned_reason_{reason}", lang) in visible
        else:  # WeChat's rules, said to be WeChat's: the WeChat wording is not shown as this platform's
            assert kb.text(f"banned_reason_{reason}_elsewhere", lang) in visible
            assert kb.text(f"banned_reason_{reason}", lang) not in visible
        ids = buttons(params)
        assert ids[0] == "t:ban-appeal"  # every reason, "fraud" included, starts with the appeal
        assert not [i for i in ids if i and i.startswith("t:report-")]
        if reason == "fraud":
            assert ids[-1] == "t:regional-fraud-ban"  # only a pointer, after the general steps
        assert not fake.rejections, fake.summary()


def test_a_pasted_suspected_fraud_notice_leads_to_the_appeal(bot_runner):
    fake, _ = bot_runner
    fake.private_message(9200, "/banned")
    fake.wait_for("sendMessage")
    fake.callback_query(9200, "b:p:wechat")
    fake.wait_for("sendMessage", count=2)
    fake.private_message(9200, "该微信号涉嫌诈骗，已被限制登录")
    calls = fake.wait_for("sendMessage", count=3)
    checklist = calls[-1].params
    ids = buttons(checklist)
    assert ids[0] == "t:ban-appeal"
    visible, _ = parse_html(checklist["text"])
    assert not REGIONAL_2019.search(visible) and not REPORTING.search(visible)

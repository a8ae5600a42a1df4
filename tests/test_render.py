"""Cards as Telegram HTML: every string escaped, every message parseable and under 4,096 characters."""

from __future__ import annotations

import dataclasses

from bot.knowledge import Localized
from bot.render import TELEGRAM_LIMIT, render_card_html, render_card_short_html, split_html_blocks

from .fake_bot_api import parse_html


def test_every_real_card_is_valid_html_in_one_message(kb):
    for topic in kb.topics.values():
        for lang in ("zh", "en"):
            parts = render_card_html(kb, topic, lang, f"https://t.me/bot?start={topic.id}")
            assert len(parts) == 1, topic.id
            visible, _ = parse_html(parts[0])
            assert len(visible) <= TELEGRAM_LIMIT
            short = render_card_short_html(kb, topic, lang, f"https://t.me/bot?start={topic.id}", "more")
            parse_html(short)


def test_hostile_knowledge_text_is_escaped_and_a_huge_card_is_split(kb):
    topic = kb.topics["ban-appeal"]
    nasty = "<b>not bold</b> & <script>x</script> " * 10 + "\n"
    huge = dataclasses.replace(topic, answer=Localized(nasty * 60, nasty * 60), title=Localized("<i>", "a & b"))
    parts = render_card_html(kb, huge, "zh", "https://t.me/bot?start=ban-appeal&x=<1>")
    assert len(parts) > 1
    for part in parts:
        assert len(part) <= TELEGRAM_LIMIT
        visible, _ = parse_html(part)  # raises if Telegram could not parse it
        assert "<script>" not in part
    assert "&lt;script&gt;" in "".join(parts)


def test_a_single_line_longer_than_a_message_is_cut_without_breaking_entities():
    line = "&amp;" * 2000
    parts = split_html_blocks([line])
    assert all(len(p) <= TELEGRAM_LIMIT for p in parts)
    for part in parts:
        parse_html(part)
    assert "".join(parts) == line


def test_a_short_card_shows_each_apps_first_channel(kb):
    # The short plain card (WeChat replies, text channels) reaches WeChat and QQ users alike: a card that
    # opens with a WeChat menu and has a QQ path shows that too, and one with only WeChat paths shows an
    # any-app path if it has one.
    from bot.render import render_card_short_text

    checked = 0
    for topic in kb.topics.values():
        for lang in ("zh", "en"):
            visible = render_card_short_text(kb, topic, lang)
            for app in ("wechat", "qq"):
                serving = [p for p in topic.official_paths if p.platform in (app, "any")]
                if serving:
                    assert serving[0].name.get(lang) in visible, (topic.id, lang, app)
                    checked += app == "qq" and topic.official_paths[0].platform == "wechat"
    assert checked >= 8  # the banned-account cards, in both languages

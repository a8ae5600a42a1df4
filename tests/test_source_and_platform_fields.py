"""A curator's mistake in `sources` or an official path's `platform` is named precisely, one line per bad field."""

from __future__ import annotations

from .test_knowledge_validation import edit_topic, problems_of


def test_a_source_needs_both_languages(kb_copy):
    edit_topic(kb_copy, "sell-sim-card", lambda d: d["sources"][0].pop("en"))
    [problem] = problems_of(kb_copy)
    assert "sell-sim-card" in problem and "'sources[0].en'" in problem and "missing" in problem


def test_the_old_note_field_is_unknown(kb_copy):
    def change(d):
        d["sources"][0]["note"] = "种子未注明日期"
    edit_topic(kb_copy, "report-gambling", change)
    [problem] = problems_of(kb_copy)
    assert "'sources[0].note'" in problem and "unknown field" in problem


def test_an_english_source_line_in_chinese_is_an_error(kb_copy):
    edit_topic(kb_copy, "ban-appeal", lambda d: d["sources"][0].update(en="微信安全中心公告"))
    [problem] = problems_of(kb_copy)
    assert "ban-appeal" in problem and "'sources[0].en'" in problem and "Chinese" in problem


def test_each_bad_source_field_is_its_own_line(kb_copy):
    def change(d):
        d["sources"][0].update(zh="", en="说中文")
    edit_topic(kb_copy, "ban-appeal", change)
    problems = problems_of(kb_copy)
    assert len(problems) == 2
    assert any("'sources[0].zh'" in p for p in problems) and any("'sources[0].en'" in p for p in problems)


def test_an_unknown_platform_is_an_error(kb_copy):
    edit_topic(kb_copy, "ban-appeal", lambda d: d["official_paths"][0].update(platform="weixin"))
    [problem] = problems_of(kb_copy)
    assert "'official_paths[0].platform'" in problem and "wechat, qq, any" in problem and "'weixin'" in problem


def test_platform_is_optional_and_defaults_to_any(kb):
    paths = [p for t in kb.topics.values() for p in t.official_paths]
    assert {p.platform for p in paths} == {"wechat", "qq", "any"}
    police = next(p for p in kb.topics["report-fraud-general"].official_paths if "110" in p.name.zh)
    assert police.platform == "any" and police.suits("wechat") and police.suits("qq") and police.suits("any")
    qq = next(p for p in kb.topics["ban-appeal"].official_paths if p.platform == "qq")
    assert qq.suits("qq") and not qq.suits("wechat") and not qq.suits("any")


def test_every_path_that_names_one_app_says_so(kb):
    # A WeChat menu or mini program, or the QQ site, untagged would reach QQ users or "other" ones.
    for topic in kb.topics.values():
        for i, path in enumerate(topic.official_paths):
            text = path.name.zh + path.how.zh
            if "aq.qq.com" in text:
                assert path.platform == "qq", (topic.id, i)
            elif any(w in text for w in ("微信", "腾讯110", "登录遇到问题", "···")):
                assert path.platform == "wechat", (topic.id, i)

"""The knowledge base keeps its public contract and its promises about facts."""

from __future__ import annotations

import re

import yaml

from bot.knowledge import MAX_ANSWER, TOPIC_FIELDS, question_key
from bot.text import question_language

from .conftest import DATA, ROOT, SEEDS_NAMES

# The public contract of shared/topics.md: these ids never change once shipped.
REQUIRED_TOPICS = (
    "ban-appeal", "regional-fraud-ban", "banned-funds-withdrawal", "banned-data-recovery",
    "ban-types-duration", "paid-unseal-service", "unseal-helper-job", "scan-code-stranger",
    "buy-sell-accounts", "sell-sim-card", "report-gambling", "gambling-consequences",
    "report-porn-contraband", "pig-butchering-scam", "suspicious-links-apps", "report-fraud-general",
)
# Numbers and sites the knowledge base may name: well-established public facts or seed/A/B sources
# (hotlines; articles of the Criminal Law: 287-2, 253-1, 225, 303 on gambling).
ALLOWED_NUMBERS = {"110", "96110", "12377", "315", "287", "253", "225", "303"}
ALLOWED_HOSTS = {"weixin110.qq.com", "110.qq.com", "aq.qq.com", "12377.cn", "t.me"}


def all_topic_text(topic) -> str:
    parts = [topic.title.zh, topic.title.en, topic.summary.zh, topic.summary.en, topic.answer.zh, topic.answer.en]
    for p in topic.official_paths:
        parts += [p.name.zh, p.name.en, p.how.zh, p.how.en]
    parts += [w.zh for w in topic.warnings] + [w.en for w in topic.warnings]
    return "\n".join(parts)


def test_every_public_topic_id_exists(kb):
    missing = [t for t in REQUIRED_TOPICS if t not in kb.topics]
    assert not missing


def test_topics_have_enough_phrasings_in_both_languages(kb):
    for topic in kb.topics.values():
        langs = [question_language(q) for q in topic.questions]
        assert len(topic.questions) >= 12, topic.id
        assert langs.count("en") >= 3 and langs.count("zh") >= 6, topic.id


def test_answers_fit_a_phone_screen_budget(kb):
    for topic in kb.topics.values():
        assert len(topic.answer.zh) <= MAX_ANSWER and len(topic.answer.en) <= MAX_ANSWER, topic.id
        assert "<" not in topic.answer.zh + topic.answer.en, f"{topic.id}: answers are plain text"


def test_every_source_is_a_seed_file_or_a_published_public_fact(kb):
    for topic in kb.topics.values():
        assert any(source.seed for source in topic.sources), topic.id  # every card rests on a source document
        for source in topic.sources:
            assert source.supports.strip(), (topic.id, "a source says what it supports")
            if source.seed is not None:
                assert source.seed in SEEDS_NAMES and source.public is None, (topic.id, source.seed)
            else:
                assert source.public and len(source.public) > 20, (topic.id, "a public fact names where it is published")


def test_no_invented_phone_numbers_or_sites(kb):
    for topic in kb.topics.values():
        text = all_topic_text(topic)
        # Hotlines and phone numbers are runs of 5+ digits; statistics are written
        # with separators (200,000) and years have four digits.
        for m in re.finditer(r"(?<![\d,.])\d{5,}(?![\d,.])", text):
            # A statistic says what it counts right after the number; a phone number does not.
            counted = re.match(r"\s?(?:[个元起人名万]|accounts|groups|cases|yuan)", text[m.end():])
            assert m.group(0) in ALLOWED_NUMBERS or counted, (topic.id, m.group(0))
        for m in re.finditer(r"(?<![\d,.])\d{3}(?![\d,.])", text):
            number, context = m.group(0), text[max(0, m.start() - 8): m.end() + 12]
            assert number in ALLOWED_NUMBERS or re.search(r"[元个万亿人名起件条]|yuan|accounts|groups|cases|million|percent|%", context), (topic.id, number, context)
        for host in re.findall(r"(?<![a-z0-9.-])((?:[a-z0-9-]+\.)+(?:com|cn|net|org|xyz|me))(?![a-z0-9])", text.lower()):
            assert host in ALLOWED_HOSTS, (topic.id, host)


def test_historical_police_numbers_are_not_listed(kb):
    for topic in kb.topics.values():
        assert not re.search(r"1[3-9]\d{9}", all_topic_text(topic)), topic.id


def test_dev_questions_are_not_pasted_into_the_knowledge_base(kb):
    dev = yaml.safe_load((DATA / "dev.yaml").read_text(encoding="utf-8"))["cases"]
    dev_keys = {question_key(c["q"]) for c in dev}
    pasted = [q for t in kb.topics.values() for q in t.questions if question_key(q) in dev_keys]
    pasted += [q for q in kb.out_of_scope if question_key(q) in dev_keys]
    assert not pasted


def test_every_topic_field_is_documented_for_curators():
    readme = (ROOT / "knowledge" / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_]+)` \|(.*)$", readme, flags=re.M))
    assert set(TOPIC_FIELDS) <= set(rows), set(TOPIC_FIELDS) - set(rows)
    # The sub-fields a topic field takes ({seed, zh, en}, {name, how, platform}) are named in its row.
    for name, (_, meaning) in TOPIC_FIELDS.items():
        inside = meaning[meaning.find("{"): meaning.rfind("}") + 1]
        for key in re.findall(r"\b([a-z_]+)(?=\s*[:,}])", inside):
            assert f"{key}" in rows[name], (name, key)


def test_every_theme_lists_at_least_one_topic(kb):
    for theme in kb.themes:
        assert kb.topics_in_theme(theme.id), theme.id


def test_every_red_flag_field_and_cue_list_is_documented_for_curators():
    from bot.knowledge import RED_FLAG_CUES, RED_FLAG_FIELDS

    readme = (ROOT / "knowledge" / "README.md").read_text(encoding="utf-8")
    missing = [name for name in (*RED_FLAG_FIELDS, *RED_FLAG_CUES) if f"`{name}`" not in readme]
    assert not missing

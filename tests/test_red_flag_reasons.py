"""True reasons: a red flag shown to the user quotes words that say what its label says, and holds.

Each flag in knowledge/red_flags.yaml carries `examples`: texts it must fire on and
near misses it must stay silent on. They are run through the real checker here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.checker import MessageChecker
from bot.knowledge import KnowledgeError, default_kb_dir, load_knowledge

FLAG_IDS = [f["id"] for f in yaml.safe_load((default_kb_dir() / "red_flags.yaml").read_text(encoding="utf-8"))["flags"]]


@pytest.fixture(scope="module")
def checker(kb):
    return MessageChecker(kb)


def flag(kb, flag_id):
    return next(f for f in kb.red_flags.flags if f.id == flag_id)


def hit(checker, text, flag_id):
    return next((h for h in checker.check_message(text).flags if h.id == flag_id), None)


def test_every_flag_has_at_least_two_examples_of_each_kind(kb):
    thin = [f.id for f in kb.red_flags.flags if len(f.fires_on) < 2 or len(f.silent_on) < 2]
    assert not thin, f"flags with fewer than two 'fires' or 'silent' examples: {thin}"


@pytest.mark.parametrize("flag_id", FLAG_IDS)
def test_flag_fires_on_its_examples_and_quotes_their_words(kb, checker, flag_id):
    problems = []
    for text in flag(kb, flag_id).fires_on:
        found = hit(checker, text, flag_id)
        if found is None:
            fired = [(h.id, h.trigger) for h in checker.check_message(text).flags]
            problems.append(f"silent on {text!r} (fired: {fired})")
        elif found.trigger not in text and found.trigger not in checker.normalise(text):
            problems.append(f"trigger {found.trigger!r} is not words of {text!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("flag_id", FLAG_IDS)
def test_flag_stays_silent_on_its_near_misses(kb, checker, flag_id):
    wrong = []
    for text in flag(kb, flag_id).silent_on:
        found = hit(checker, text, flag_id)
        if found is not None:
            wrong.append(f"fired on {text!r} with trigger {found.trigger!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("text, flag_id", [
    ("新号，每次80元，即时转", "impersonation"),
    ("新号，每次80元，即时转", "urgent-transfer"),
    ("内部渠道", "guaranteed-investment"),
    ("您的账号存在异常，将于24小时内冻结", "freeze-threat-link"),
    ("QQ冻结、微信封号急解，技术团队一对一处理，请加客服", "freeze-threat-link"),
])
def test_the_false_reasons_found_in_issue_8_are_not_shown(checker, text, flag_id):
    assert hit(checker, text, flag_id) is None


def test_a_link_that_threatens_a_freeze_is_still_named(checker):
    found = hit(checker, "您的微信账号存在异常，请点击链接 http://wx-safe.xyz 验证身份，否则将永久冻结", "freeze-threat-link")
    assert found is not None and "异常" in found.trigger


def test_bad_examples_are_reported_one_line_each_with_file_and_flag(kb_copy: Path):
    path = kb_copy / "red_flags.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["flags"][0]["examples"] = {"fires": ["扫码送鸡蛋", "", 3], "silent": "扫码登录", "misses": []}
    data["flags"][1]["examples"] = ["辅助解封"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(kb_copy)
    problems = info.value.problems
    assert len(problems) == 5, problems
    assert all("red_flags.yaml" in p for p in problems)
    first, second = data["flags"][0]["id"], data["flags"][1]["id"]
    assert sum(first in p and "examples.fires[" in p for p in problems) == 2
    assert any(first in p and "examples.silent" in p for p in problems)
    assert any(first in p and "examples.misses" in p and "unknown" in p for p in problems)
    assert any(second in p and "'examples'" in p for p in problems)


def test_examples_are_optional(kb_copy: Path):
    path = kb_copy / "red_flags.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    for item in data["flags"]:
        item.pop("examples", None)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    kb = load_knowledge(kb_copy)
    assert all(f.fires_on == () and f.silent_on == () for f in kb.red_flags.flags)


def test_the_examples_field_is_documented():
    from bot.knowledge import RED_FLAG_EXAMPLE_KINDS, RED_FLAG_OPTIONAL

    readme = (default_kb_dir() / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in RED_FLAG_OPTIONAL)
    assert all(kind in readme for kind in RED_FLAG_EXAMPLE_KINDS)

"""A curator's mistake in knowledge/ is named precisely, and nothing half-valid is served."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.knowledge import KnowledgeError, load_knowledge


def edit_topic(kb_dir: Path, topic_id: str, change) -> None:
    path = kb_dir / "topics" / f"{topic_id}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems_of(kb_dir: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(kb_dir)
    return info.value.problems


def test_real_knowledge_base_is_valid(kb):
    assert len(kb.topics) >= 16


def test_missing_field_names_file_topic_and_field(kb_copy):
    edit_topic(kb_copy, "ban-appeal", lambda d: d.pop("answer"))
    [problem] = problems_of(kb_copy)
    assert "topics/ban-appeal.yaml" in problem and "'ban-appeal'" in problem and "'answer'" in problem
    assert "missing" in problem


def test_unknown_field_is_an_error(kb_copy):
    edit_topic(kb_copy, "sell-sim-card", lambda d: d.update(anwser={"zh": "x", "en": "y"}))
    [problem] = problems_of(kb_copy)
    assert "sell-sim-card" in problem and "'anwser'" in problem and "unknown field" in problem


def test_missing_language_of_a_localised_field(kb_copy):
    edit_topic(kb_copy, "report-gambling", lambda d: d["title"].pop("en"))
    [problem] = problems_of(kb_copy)
    assert "'title.en'" in problem and "report-gambling" in problem


def test_over_long_answer_names_length_and_limit(kb_copy):
    edit_topic(kb_copy, "ban-appeal", lambda d: d["answer"].update(zh="很长" * 700))
    [problem] = problems_of(kb_copy)
    assert "'answer.zh'" in problem and "1,400 characters" in problem and "1,200" in problem


def test_duplicate_id_is_reported(kb_copy):
    src = kb_copy / "topics" / "ban-appeal.yaml"
    (kb_copy / "topics" / "ban-appeal-copy.yaml").write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    problems = problems_of(kb_copy)
    assert any("ban-appeal-copy.yaml" in p and "'id'" in p for p in problems)


def test_same_question_under_two_topics(kb_copy, kb):
    question = kb.topics["ban-appeal"].questions[0]
    edit_topic(kb_copy, "sell-sim-card", lambda d: d["questions"].append(question))
    problems = problems_of(kb_copy)
    assert any("sell-sim-card" in p and "'questions'" in p and "ban-appeal" in p for p in problems)


def test_related_id_that_does_not_exist(kb_copy):
    edit_topic(kb_copy, "pig-butchering-scam", lambda d: d["related"].append("no-such-topic"))
    [problem] = problems_of(kb_copy)
    assert "pig-butchering-scam" in problem and "'related'" in problem and "no-such-topic" in problem


def test_yaml_syntax_error_names_the_line(kb_copy):
    path = kb_copy / "topics" / "scan-code-stranger.yaml"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "title: [unclosed")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    [problem] = problems_of(kb_copy)
    assert "scan-code-stranger.yaml:" in problem and "YAML syntax error" in problem
    line = int(problem.split("scan-code-stranger.yaml:")[1].split(":")[0])
    assert 3 <= line <= 6


def test_duplicate_key_is_not_silently_dropped(kb_copy):
    path = kb_copy / "topics" / "buy-sell-accounts.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\ntheme: banned\n", encoding="utf-8")
    [problem] = problems_of(kb_copy)
    assert "buy-sell-accounts.yaml:" in problem and "duplicate key 'theme'" in problem


def test_invalid_utf8_file(kb_copy):
    (kb_copy / "topics" / "ban-appeal.yaml").write_bytes(b"id: ban-appeal\ntitle: \xff\xfe\n")
    [problem] = problems_of(kb_copy)
    assert "ban-appeal.yaml" in problem and "UTF-8" in problem


def test_every_problem_is_reported_not_only_the_first(kb_copy):
    edit_topic(kb_copy, "ban-appeal", lambda d: d.pop("sources"))
    edit_topic(kb_copy, "sell-sim-card", lambda d: d.pop("keywords"))
    problems = problems_of(kb_copy)
    assert any("ban-appeal" in p for p in problems) and any("sell-sim-card" in p for p in problems)


def test_check_command_exits_non_zero_with_one_line_per_problem(kb_copy):
    edit_topic(kb_copy, "ban-appeal", lambda d: d.pop("answer"))
    result = subprocess.run(
        [sys.executable, "-m", "bot", "check", str(kb_copy)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "'answer'" in lines[0]


def test_check_command_passes_on_the_real_knowledge_base():
    result = subprocess.run([sys.executable, "-m", "bot", "check"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("OK:")


def test_ask_refuses_to_answer_from_a_broken_knowledge_base(kb_copy):
    (kb_copy / "synonyms.yaml").write_text("synonyms: [not, a, mapping\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--kb", str(kb_copy), "ask", "微信被封了"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert "synonyms.yaml" in result.stderr and "Traceback" not in result.stderr

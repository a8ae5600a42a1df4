"""The knowledge base as open data: `python -m bot export` and `GET /api/kb`."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from bot.conversation import Conversation
from bot.export import TABLES, export
from bot.store import Store
from bot.web.app import WebSettings, build_app

from .conftest import ROOT


def run_cli(args, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_export_holds_every_phrasing_with_its_topic_and_situation(kb, tmp_path):
    counts = export(kb, tmp_path, "jsonl", "v1")
    phrasings = read_jsonl(tmp_path / "phrasings.jsonl")
    expected = {(q, t.id, None) for t in kb.topics.values() for q in t.questions}
    expected |= {(q, t.id, s.id) for t in kb.topics.values() for s in t.situations for q in s.questions}
    assert {(r["text"], r["topic"], r["situation"]) for r in phrasings} == expected
    assert len(phrasings) == counts["phrasings"] == sum(len(t.all_questions) for t in kb.topics.values())
    assert [r["text"] for r in read_jsonl(tmp_path / "out_of_scope.jsonl")] == list(kb.out_of_scope)
    messages = read_jsonl(tmp_path / "messages.jsonl")
    assert [(r["text"], r["topic"]) for r in messages] == [(m.text, m.topic) for m in kb.messages]
    assert any(r["topic"] is None for r in messages) and any(r["topic"] for r in messages)
    # Every row has exactly the fields the card documents.
    for name, fields in TABLES.items():
        for row in read_jsonl(tmp_path / f"{name}.jsonl"):
            assert list(row) == [f for f, _ in fields]
    assert {r["lang"] for r in phrasings} == {"zh", "zh-Hant", "zh-HK", "en"}


def test_csv_export_reads_back_as_the_jsonl_rows(kb, tmp_path):
    export(kb, tmp_path / "j", "jsonl")
    export(kb, tmp_path / "c", "csv")
    for name in TABLES:
        with open(tmp_path / "c" / f"{name}.csv", encoding="utf-8", newline="") as fh:
            from_csv = list(csv.DictReader(fh))
        from_jsonl = [{k: "" if v is None else v for k, v in row.items()}
                      for row in read_jsonl(tmp_path / "j" / f"{name}.jsonl")]
        assert from_csv == from_jsonl, name
    # A message with a line break survives the CSV quoting.
    assert any("\n" in m.text for m in kb.messages)


def test_the_dataset_card_names_fields_counts_licence_and_making(kb, tmp_path):
    export(kb, tmp_path, "csv", "abc123")
    card = (tmp_path / "README.md").read_text(encoding="utf-8")
    for name, fields in TABLES.items():
        assert f"`{name}.csv` ({len(read_csv(tmp_path / f'{name}.csv')):,} rows)" in card
        for field, _ in fields:
            assert f"| `{field}` |" in card
    for topic in kb.topics.values():
        n = len(topic.all_questions)
        assert f"| `{topic.id}` | {topic.title.en} | {n} |" in card
    assert "## Licence" in card and "MIT" in card and "## How it was made" in card and "abc123" in card
    assert "Nothing here comes from a user's question unless a curator" in card


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_export_is_the_same_bytes_every_time(kb, tmp_path):
    export(kb, tmp_path / "a", "jsonl", "v")
    export(kb, tmp_path / "b", "jsonl", "v")
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def test_users_questions_are_not_exported_unless_a_curator_added_them(kb_copy, tmp_path):
    """The bot's database holds what people asked; the export reads the knowledge folder alone."""
    work = tmp_path / "work"
    work.mkdir()
    store = Store(work / "data" / "bot.sqlite3")  # where `stats` and the services look by default
    store.record_unanswered("紫色河马口令能不能解封我的号", "zh")
    store.record_unanswered("my purple hippo password unseal trick", "en")
    store.close()
    result = run_cli(["--kb", str(kb_copy), "export", "--format", "jsonl", "--out", "out"], work)
    assert result.returncode == 0, result.stderr
    assert "phrasings.jsonl" in result.stdout and "README.md" in result.stdout
    exported = "".join(p.read_text(encoding="utf-8") for p in (work / "out").iterdir())
    assert "紫色河马" not in exported and "purple hippo" not in exported
    # Once a curator adds it to a topic, it is knowledge like any other phrasing.
    topic = kb_copy / "topics" / "paid-unseal-service.yaml"
    topic.write_text(topic.read_text(encoding="utf-8").replace("questions:\n", "questions:\n  - 紫色河马口令能不能解封我的号\n", 1),
                     encoding="utf-8")
    result = run_cli(["--kb", str(kb_copy), "export", "--format", "csv", "--out", "out2"], work)
    assert result.returncode == 0, result.stderr
    rows = read_csv(work / "out2" / "phrasings.csv")
    assert {"text": "紫色河马口令能不能解封我的号", "topic": "paid-unseal-service", "situation": "", "lang": "zh"} in rows


def test_export_into_a_file_is_one_clear_line(tmp_path):
    (tmp_path / "taken").write_text("x", encoding="utf-8")
    result = run_cli(["export", "--out", "taken"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: taken: exists and is not a folder"]


# -- GET /api/kb ---------------------------------------------------------------------------


@pytest.fixture
def client(matcher, checker, tmp_path):
    store = Store(tmp_path / "web.sqlite3")
    app = build_app(Conversation(matcher, checker, store), WebSettings(public_url="https://help.example.org"))
    with TestClient(app) as c:
        yield c
    store.close()


def test_api_kb_serves_every_card_in_both_languages(client, kb):
    response = client.get("/api/kb")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    data = response.json()
    assert [t["id"] for t in data["topics"]] == list(kb.topics)
    assert data["licence"] == "MIT" and [th["id"] for th in data["themes"]] == [th.id for th in kb.themes]
    card = next(t for t in data["topics"] if t["id"] == "ban-appeal")
    topic = kb.topics["ban-appeal"]
    assert card["title"] == {"zh": topic.title.zh, "en": topic.title.en}
    assert card["answer"]["en"] == topic.answer.en and card["first"]["zh"] == topic.first.zh
    assert card["url"] == "https://help.example.org/t/ban-appeal"
    assert card["sources"] == [{"zh": s.citation.zh, "en": s.citation.en} for s in topic.sources]
    assert [s["id"] for s in card["situations"]] == [s.id for s in topic.situations]
    # Cards, not training data, and nothing of how the knowledge base is made.
    text = response.text
    assert topic.questions[0] not in text and "seed" not in text and ".txt" not in text


def test_api_kb_in_one_language_and_cached_by_version(client, kb):
    response = client.get("/api/kb?lang=zh-Hant")
    data = response.json()
    assert data["lang"] == "zh-Hant"
    card = next(t for t in data["topics"] if t["id"] == "ban-appeal")
    assert card["title"] == kb.topics["ban-appeal"].title.get("zh-Hant")
    english = client.get("/api/kb?lang=en").json()
    assert next(t for t in english["topics"] if t["id"] == "ban-appeal")["title"] == kb.topics["ban-appeal"].title.en
    assert response.headers["access-control-allow-origin"] == "*"
    # The version of the knowledge base is the ETag: unchanged cards are not sent again.
    etag = response.headers["etag"]
    assert client.get("/api/kb?lang=zh-Hant", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/api/kb", headers={"If-None-Match": etag}).status_code == 200

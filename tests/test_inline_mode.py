"""Inline mode: '@bot <query>' in any chat offers topic cards as articles."""

from __future__ import annotations

import json


def results_of(call) -> list[dict]:
    results = call.params["results"]
    return json.loads(results) if isinstance(results, str) else results


def test_query_returns_matching_cards(bot_runner):
    fake, _ = bot_runner
    fake.inline_query(4001, "收手机卡")
    [call] = fake.wait_for("answerInlineQuery")
    results = results_of(call)
    assert 1 <= len(results) <= 5
    assert results[0]["id"] == "sell-sim-card" and results[0]["type"] == "article"
    content = results[0]["input_message_content"]
    assert content["parse_mode"] == "HTML" and "?start=sell-sim-card" in content["message_text"]
    assert not fake.rejections


def test_empty_query_returns_the_most_used_topics(bot_runner):
    fake, runner = bot_runner
    for _ in range(3):
        runner.store.record_view("pig-butchering-scam")
    runner.store.record_view("report-gambling")
    runner.store.flush()  # views are written in the background
    fake.inline_query(4002, "")
    [call] = fake.wait_for("answerInlineQuery")
    ids = [r["id"] for r in results_of(call)]
    assert ids[:2] == ["pig-butchering-scam", "report-gambling"] and len(ids) == 5


def test_english_query_gets_english_cards(bot_runner):
    fake, _ = bot_runner
    fake.inline_query(4003, "how long does a ban last")
    [call] = fake.wait_for("answerInlineQuery")
    first = results_of(call)[0]
    assert first["id"] == "ban-types-duration" and first["title"].isascii()


def test_out_of_scope_query_returns_no_cards(bot_runner):
    fake, _ = bot_runner
    fake.inline_query(4004, "今天天气怎么样")
    [call] = fake.wait_for("answerInlineQuery")
    assert results_of(call) == []

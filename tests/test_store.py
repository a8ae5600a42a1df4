"""The SQLite store: personal numbers never stored, settings survive a restart, stats for curators."""

from __future__ import annotations

from bot.privacy import mask_personal_data
from bot.store import Store


def test_personal_numbers_are_masked_before_storage(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    store.record_unanswered("我手机13812345678，身份证11010519491231002X，卡号6222 0212 3456 7890 123，QQ 3282123456", "zh")
    store.close()
    raw = (tmp_path / "db.sqlite3").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("db.sqlite3-*"))
    for secret in (b"13812345678", b"11010519491231002X", b"6222 0212", b"3282123456"):
        assert secret not in raw
    [(question, _)] = Store(tmp_path / "db.sqlite3").top_unanswered()
    assert "[手机号]" in question and "[身份证号]" in question and "[银行卡号]" in question


def test_masking_leaves_ordinary_numbers_alone():
    assert mask_personal_data("2019年10月14日，一张200元，110 和 96110") == "2019年10月14日，一张200元，110 和 96110"
    assert mask_personal_data("call +86 138 1234 5678") == "call [手机号]"


def test_settings_survive_a_restart_and_deleting_works(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    store.put("lang:1", "en")
    store.put("guard:-100", "on")
    store.put("guard:-100", None)
    store.close()
    again = Store(tmp_path / "db.sqlite3")
    assert again.get("lang:1") == "en" and again.get("guard:-100") is None


def test_votes_and_views(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    for user, vote in ((1, 1), (2, 1), (3, -1)):
        store.record_vote("ban-appeal", vote, user)
    for topic in ("a", "b", "b"):
        store.record_view(topic)
    assert store.votes_by_topic() == {"ban-appeal": (2, 1)}
    assert store.most_viewed(5) == ["b", "a"]


def test_retention_deletes_old_questions_votes_and_abandoned_flows(tmp_path):
    import sqlite3
    import time

    store = Store(tmp_path / "db.sqlite3", retention_days=90)
    store.record_unanswered("旧问题", "zh")
    store.record_unanswered("新问题", "zh")
    store.record_vote("ban-appeal", 1, 1)
    store.record_vote("ban-appeal", -1, 2)
    store.put("flow:banned:1", '{"step": "notice"}')
    store.put("flow:banned:2", '{"step": "notice"}')
    store.put("lang:1", "en")
    store.close()
    old = time.time() - 91 * 86400
    db = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    db.execute("PRAGMA secure_delete=ON")  # as the bot's connections: no stale copy of the row
    db.execute("UPDATE unanswered SET at = ? WHERE question = '旧问题'", (old,))
    db.execute("UPDATE votes SET at = ? WHERE vote = -1", (old,))
    db.execute("UPDATE kv SET at = ? WHERE key IN ('flow:banned:1', 'lang:1')", (time.time() - 2 * 86400,))
    db.close()
    again = Store(tmp_path / "db.sqlite3", retention_days=90)
    again.prune_now()
    assert again.top_unanswered() == [("新问题", 1)]
    assert again.votes_by_topic() == {"ban-appeal": (1, 0)}
    assert again.get("flow:banned:1") is None and again.get("flow:banned:2") is not None
    assert again.get("lang:1") == "en"  # a setting is not an abandoned flow
    again.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("db.sqlite3*"))
    assert "旧问题".encode() not in raw  # deleted rows are overwritten, not left in free pages


def test_writes_do_not_wait_for_a_locked_database(tmp_path):
    import sqlite3
    import time

    store = Store(tmp_path / "db.sqlite3")
    holder = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        start = time.perf_counter()
        store.record_unanswered("问题", "zh")
        store.put("lang:9", "en")
        assert time.perf_counter() - start < 0.1
        assert store.get("lang:9") == "en"  # read back before it is written
    finally:
        holder.execute("COMMIT")
        holder.close()
    assert store.top_unanswered() == [("问题", 1)]
    store.close()

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

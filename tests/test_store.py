"""The store, on SQLite and on PostgreSQL: personal numbers never stored, settings survive a restart, stats for
curators, one schema history (an older database migrated, a newer one refused), state shared between processes."""

from __future__ import annotations

import time

import pytest

from bot.errors import UserError
from bot.privacy import mask_personal_data
from bot.store import SCHEMA_VERSION, Store


def all_text(backend) -> str:
    """Every stored text of the database, as an operator dumping it would see it."""
    rows = backend.sql("SELECT question FROM unanswered") + backend.sql("SELECT key || value FROM kv")
    return "\n".join(str(value) for row in rows for value in row)


def test_personal_numbers_are_masked_before_storage(backend, tmp_path):
    store = backend.open()
    store.record_unanswered("我手机13812345678，身份证11010519491231002X，卡号6222 0212 3456 7890 123，QQ 3282123456", "zh")
    store.close()
    stored = all_text(backend)
    raw = b""
    if backend.name == "sqlite":
        raw = (tmp_path / "db.sqlite3").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("db.sqlite3-*"))
    for secret in ("13812345678", "11010519491231002X", "6222 0212", "3282123456"):
        assert secret not in stored and secret.encode() not in raw
    [(question, _)] = backend.open().top_unanswered()
    assert "[手机号]" in question and "[身份证号]" in question and "[银行卡号]" in question


def test_masking_leaves_ordinary_numbers_alone():
    assert mask_personal_data("2019年10月14日，一张200元，110 和 96110") == "2019年10月14日，一张200元，110 和 96110"
    assert mask_personal_data("call +86 138 1234 5678") == "call [手机号]"


def test_settings_survive_a_restart_and_deleting_works(backend):
    store = backend.open()
    store.put("lang:1", "en")
    store.put("guard:-100", "on")
    store.put("guard:-100", None)
    store.close()
    again = backend.open()
    assert again.get("lang:1") == "en" and again.get("guard:-100") is None
    again.close()


def test_votes_and_views(backend):
    store = backend.open()
    for user, vote in ((1, 1), (2, 1), (3, -1), (3, 1)):  # user 3 changes their mind: one vote each
        store.record_vote("ban-appeal", vote, user)
    for topic in ("a", "b", "b"):
        store.record_view(topic)
    assert store.votes_by_topic() == {"ban-appeal": (3, 0)}
    assert store.most_viewed(5) == ["b", "a"]
    store.close()


def test_retention_deletes_old_questions_votes_and_abandoned_flows(backend, tmp_path):
    store = backend.open(retention_days=90)
    store.record_unanswered("旧问题", "zh")
    store.record_unanswered("新问题", "zh")
    store.record_vote("ban-appeal", 1, 1)
    store.record_vote("ban-appeal", -1, 2)
    store.put("flow:banned:1", '{"step": "notice"}')
    store.put("flow:banned:2", '{"step": "notice"}')
    store.put("lang:1", "en")
    store.close()
    old = time.time() - 91 * 86400
    backend.sql("UPDATE unanswered SET at = ? WHERE question = '旧问题'", old)
    backend.sql("UPDATE votes SET at = ? WHERE vote = -1", old)
    backend.sql("UPDATE kv SET at = ? WHERE key IN ('flow:banned:1', 'lang:1')", time.time() - 2 * 86400)
    again = backend.open(retention_days=90)
    again.prune_now()
    assert again.top_unanswered() == [("新问题", 1)]
    assert again.votes_by_topic() == {"ban-appeal": (1, 0)}
    assert again.get("flow:banned:1") is None and again.get("flow:banned:2") is not None
    assert again.get("lang:1") == "en"  # a setting is not an abandoned flow
    again.close()
    if backend.name == "sqlite":
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("db.sqlite3*"))
        assert "旧问题".encode() not in raw  # deleted rows are overwritten, not left in free pages


def test_writes_do_not_wait_for_a_locked_database(tmp_path):
    import sqlite3

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


def test_writes_do_not_wait_for_a_locked_table_on_postgresql(pg_url):
    import psycopg

    from bot.pgstore import PostgresStore

    store = PostgresStore(pg_url)
    holder = psycopg.connect(pg_url)
    holder.execute("LOCK TABLE unanswered, kv IN ACCESS EXCLUSIVE MODE")
    try:
        start = time.perf_counter()
        store.record_unanswered("问题", "zh")
        store.put("lang:9", "en")
        assert time.perf_counter() - start < 0.1
        assert store.get("lang:9") == "en"  # read back before it is written
    finally:
        holder.commit()
        holder.close()
    assert store.top_unanswered() == [("问题", 1)]
    store.close()


# -- the schema's history -------------------------------------------------------------------------

def test_a_new_database_is_at_the_current_schema_version(backend):
    backend.open().close()
    assert backend.sql("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_a_database_from_before_the_version_table_is_migrated_and_keeps_its_rows(tmp_path):
    """A file the bot wrote before schema versions (no voter column, no kind, no version table)."""
    import sqlite3

    db = sqlite3.connect(tmp_path / "db.sqlite3")
    db.executescript("""
        CREATE TABLE votes (id INTEGER PRIMARY KEY, topic TEXT NOT NULL, vote INTEGER NOT NULL, at REAL NOT NULL);
        CREATE TABLE unanswered (id INTEGER PRIMARY KEY, question TEXT NOT NULL, lang TEXT NOT NULL, at REAL NOT NULL);
        CREATE TABLE topic_views (topic TEXT PRIMARY KEY, views INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, at REAL NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
    """)
    now = time.time()
    db.execute("INSERT INTO votes (topic, vote, at) VALUES ('ban-appeal', 1, ?)", (now,))
    db.execute("INSERT INTO unanswered (question, lang, at) VALUES ('老问题', 'zh', ?)", (now,))
    db.execute("INSERT INTO kv (key, value, at) VALUES ('lang:1', 'en', ?)", (now,))
    db.commit()
    db.close()
    store = Store(tmp_path / "db.sqlite3")
    try:
        assert store.get("lang:1") == "en" and store.top_unanswered() == [("老问题", 1)]
        store.record_vote("ban-appeal", -1, 7)
        assert store.votes_by_topic() == {"ban-appeal": (1, 1)}
        assert store.take_token("k", 2, 1.0) == "ok"  # the tables of version 2 are there
    finally:
        store.close()
    from tests.conftest import Backend

    assert Backend("sqlite", tmp_path).sql("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_a_database_at_version_1_is_migrated_on_start(backend):
    backend.open().close()
    backend.sql("DROP TABLE once")
    backend.sql("DROP TABLE rate_buckets")
    backend.sql("UPDATE schema_version SET version = 1")
    store = backend.open()
    try:
        assert store.remember("wx:nonce:1", "a", 60) is None
    finally:
        store.close()
    assert backend.sql("SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


def test_a_database_of_a_newer_version_is_refused_in_one_line(backend):
    backend.open().close()
    backend.sql("UPDATE schema_version SET version = ?", SCHEMA_VERSION + 1)
    with pytest.raises(UserError) as error:
        backend.open()
    message = str(error.value)
    assert f"schema is version {SCHEMA_VERSION + 1}, newer than this program's ({SCHEMA_VERSION})" in message
    assert "\n" not in message
    if backend.url:
        from urllib.parse import urlsplit

        assert urlsplit(backend.url).password not in message and "***" in message


# -- state several processes share ----------------------------------------------------------------

def test_remember_keeps_the_first_value_until_it_expires(backend):
    first, second = backend.open(), backend.open()  # two processes on one database
    try:
        assert first.remember("nonce:1", "body-a", 60) is None
        assert second.remember("nonce:1", "body-b", 60) == "body-a"
        assert second.remember("nonce:2", "body-b", 0.05) is None
        time.sleep(0.1)
        assert first.remember("nonce:2", "body-c", 60) is None  # expired: taken anew
    finally:
        first.close()
        second.close()


def test_a_claim_is_answered_once_and_taken_over_when_its_holder_died(backend):
    first, second = backend.open(), backend.open()
    try:
        assert first.claim("msg:1", lease=5, ttl=60) == ("mine", None)
        assert second.claim("msg:1", lease=5, ttl=60) == ("busy", None)
        first.settle("msg:1", "<xml>reply</xml>", ttl=60)
        assert second.claim("msg:1", lease=5, ttl=60) == ("done", "<xml>reply</xml>")
        # A claim whose holder never settled it (killed) is taken over after its lease.
        assert first.claim("msg:2", lease=0.1, ttl=60) == ("mine", None)
        assert second.claim("msg:2", lease=0.1, ttl=60) == ("busy", None)
        time.sleep(0.2)
        assert second.claim("msg:2", lease=0.1, ttl=60) == ("mine", None)
        # Released (the answer could not be saved): the next claim answers afresh.
        second.release("msg:2")
        assert first.claim("msg:2", lease=5, ttl=60) == ("mine", None)
    finally:
        first.close()
        second.close()


def test_a_token_bucket_is_shared_between_processes(backend):
    first, second = backend.open(), backend.open()
    try:
        verdicts = [store.take_token("web:1.2.3.4", capacity=3, rate=0.001) for store in (first, second) * 3]
        assert verdicts == ["ok", "ok", "ok", "notify", "drop", "drop"]
        assert first.take_token("web:5.6.7.8", capacity=3, rate=0.001) == "ok"  # another address: its own
        time.sleep(0.3)
        assert second.take_token("fast", capacity=1, rate=100.0) == "ok"
        assert first.take_token("fast", capacity=1, rate=100.0) in ("ok", "notify")
        time.sleep(0.05)  # refilled at 100 a second
        assert second.take_token("fast", capacity=1, rate=100.0) == "ok"
    finally:
        first.close()
        second.close()


def test_only_one_process_holds_a_lock_and_a_closed_one_frees_it(backend):
    first, second = backend.open(), backend.open()
    try:
        held = first.try_lock("telegram poller")
        assert held is not None and held.held()
        assert second.try_lock("telegram poller") is None
        assert second.try_lock("another bot") is not None
        held.release()
        again = second.try_lock("telegram poller")
        assert again is not None and again.held()
        again.release()
    finally:
        first.close()
        second.close()


def test_retention_deletes_expired_memories_and_idle_buckets(backend):
    store = backend.open()
    try:
        store.remember("nonce:old", "x", 0.01)
        store.remember("nonce:new", "y", 600)
        store.take_token("idle", 3, 1.0)
        store.take_token("busy", 3, 1.0)
        backend.sql("UPDATE rate_buckets SET at = ? WHERE key = 'idle'", time.time() - 2 * 86400)
        time.sleep(0.05)
        store.prune_now()
        assert backend.sql("SELECT key FROM once") == [("nonce:new",)]
        assert backend.sql("SELECT key FROM rate_buckets") == [("busy",)]
    finally:
        store.close()


def test_a_storage_url_that_is_not_postgresql_is_one_clear_error(tmp_path):
    from bot.config import load_config
    from bot.store import open_store

    config = load_config(None, environ={"STORAGE_URL": "mysql://bot:secret-pw@db/bot"})
    with pytest.raises(UserError, match="storage.url must be a PostgreSQL URL") as error:
        open_store(config)
    assert "secret-pw" not in str(error.value)

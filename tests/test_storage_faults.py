"""The store when the disk is full, unwritable or slow, or its server is gone: nothing confirmed is lost, errors are
one line, files are private, every row expires (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import resource
import sqlite3
import stat
import subprocess
import sys
import time

import pytest

from bot.errors import UserError
from bot.store import Store, StoreUnavailable

from .conftest import ROOT
from .test_bot_process import free_port


class SmallDisk(Store):
    """A store whose database may not grow past its size at start: SQLite's own "database or disk is full"."""

    full = True

    def _connect(self) -> sqlite3.Connection:
        db = super()._connect()
        if threading_name() == "store-writer":
            self.writer_db = db
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")
        return db

    def make_room(self) -> None:
        self.writer_db.execute("PRAGMA max_page_count = 1073741823")


def threading_name() -> str:
    import threading

    return threading.current_thread().name


def on_disk(path, sql: str, *params) -> list[tuple]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def test_a_confirmed_write_is_committed_when_the_confirmation_comes(backend):
    store = backend.open()
    try:
        store.put("lang:wx:o1", "en")
        store.record_vote("ban-appeal", 1, "web:abc")
        started = time.perf_counter()
        store.confirmation().result(timeout=5)
        elapsed = time.perf_counter() - started
        # Read by another connection, as after a crash: the rows are in the database.
        assert backend.sql("SELECT value FROM kv WHERE key = 'lang:wx:o1'") == [("en",)]
        assert backend.sql("SELECT COUNT(*) FROM votes") == [(1,)]
        assert elapsed < 0.15  # a confirmation does not wait out the batch delay
    finally:
        store.close()


def test_a_full_disk_keeps_the_writes_reports_the_error_and_saves_them_once_there_is_room(tmp_path):
    store = SmallDisk(tmp_path / "db.sqlite3")
    try:
        for i in range(300):
            store.put(f"lang:wx:o{i}", "en" + "x" * 200)
        with pytest.raises(StoreUnavailable, match="full"):
            store.confirmation().result(timeout=5)
        status = store.status()
        assert status["failing"] and "full" in status["last_error"] and status["queue"] >= 1
        assert store.get("lang:wx:o7").startswith("en")  # still what the person chose, and it is kept
        with pytest.raises(StoreUnavailable):  # a new write is not confirmed while the disk is full
            store.put("lang:wx:late", "zh")
            store.confirmation().result(timeout=5)
        store.make_room()
        deadline = time.monotonic() + 15
        while store.status()["failing"] and time.monotonic() < deadline:
            time.sleep(0.1)
        store.confirmation().result(timeout=15)
        assert not store.status()["failing"] and store.status()["last_error"]  # the last error stays for /healthz
        assert on_disk(tmp_path / "db.sqlite3", "SELECT COUNT(*) FROM kv") == [(301,)]
    finally:
        store.close()


def test_a_lost_database_server_keeps_the_writes_reports_the_error_and_saves_them_once_it_is_back(
        postgres_server, pg_url):
    from bot.pgstore import PostgresStore

    from .postgres import database_name

    name = database_name(pg_url)
    store = PostgresStore(pg_url)
    try:
        store.put("lang:wx:o0", "zh")
        store.confirmation().result(timeout=5)
        # The database refuses every connection and the bot's are cut, as when the server is gone.
        postgres_server.admin(f"ALTER DATABASE {name} CONNECTION LIMIT 0")
        postgres_server.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", name)
        for i in range(1, 50):
            store.put(f"lang:wx:o{i}", "en")
        with pytest.raises(StoreUnavailable, match="connection"):
            store.confirmation().result(timeout=15)
        status = store.status()
        assert status["failing"] and status["queue"] >= 1 and "\n" not in status["last_error"]
        assert store.get("lang:wx:o7") == "en"  # still what the person chose, and it is kept
        assert store.get("lang:wx:o0") is None  # a read the server cannot answer: "not known", no exception
        postgres_server.admin(f"ALTER DATABASE {name} CONNECTION LIMIT -1")
        deadline = time.monotonic() + 30
        while store.status()["failing"] and time.monotonic() < deadline:
            time.sleep(0.1)
        store.confirmation().result(timeout=15)
        assert not store.status()["failing"] and store.status()["last_error"]
        assert postgres_server.admin("SELECT COUNT(*) FROM kv", database=name) == [(50,)]
    finally:
        store.close()


@pytest.mark.parametrize("case", ["nothing listens", "wrong password"])
def test_a_postgresql_server_that_cannot_be_reached_is_one_clear_error_without_the_password(postgres_server, pg_url, case):
    from urllib.parse import urlsplit

    from bot.pgstore import PostgresStore

    from .postgres import free_port

    url = pg_url.replace(f":{postgres_server.port}/", f":{free_port()}/") if case == "nothing listens" \
        else pg_url.replace(f":{postgres_server.password}@", ":not-the-password@")
    with pytest.raises(UserError, match="cannot open the database") as error:
        PostgresStore(url)
    message = str(error.value)
    assert "\n" not in message and urlsplit(url).password not in message and "bot:***@127.0.0.1" in message
    assert ("refused" if case == "nothing listens" else "password authentication failed") in message


@pytest.mark.parametrize("make_path", [
    lambda tmp: tmp / "a-file" / "db.sqlite3",  # a folder that is a file
    lambda tmp: tmp / "a-folder",  # the database path is a folder
])
def test_a_database_that_cannot_be_opened_is_one_clear_error(tmp_path, make_path):
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    with pytest.raises(UserError, match="cannot open the database") as error:
        Store(make_path(tmp_path))
    assert "\n" not in str(error.value)


def full_disk() -> None:
    """In the child: no file may grow (as on a full disk); Python ignores SIGXFSZ, so writes fail with EFBIG."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))


@pytest.mark.parametrize("case", ["full disk", "folder is a file"])
def test_web_with_a_storage_problem_at_start_says_so_in_one_line_and_exits_2(tmp_path, case):
    (tmp_path / "blocker").write_text("a file where a folder should be")
    path = tmp_path / ("state/bot.sqlite3" if case == "full disk" else "blocker/bot.sqlite3")
    (tmp_path / "config.yaml").write_text(f"storage:\n  path: {path}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECHAT_"))}
    env["PYTHONPATH"] = str(ROOT)
    if case == "full disk":  # the trained models' cache must still be readable: it is, only growth fails
        (tmp_path / "state").mkdir()
    result = subprocess.run([sys.executable, "-m", "bot", "web", "--config", str(tmp_path / "config.yaml"),
                             "--port", str(free_port())], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                            preexec_fn=full_disk if case == "full disk" else None)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: cannot open the database"), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("case", ["newer schema", "nothing listens"])
def test_web_on_postgresql_with_a_storage_problem_at_start_says_so_in_one_line_and_exits_2(
        postgres_server, pg_url, tmp_path, case):
    from urllib.parse import urlsplit

    from bot.pgstore import PostgresStore
    from bot.store import SCHEMA_VERSION

    from .postgres import database_name, free_port as unused_port

    if case == "newer schema":
        PostgresStore(pg_url).close()
        postgres_server.admin(f"UPDATE schema_version SET version = {SCHEMA_VERSION + 1}", database=database_name(pg_url))
    else:
        pg_url = pg_url.replace(f":{postgres_server.port}/", f":{unused_port()}/")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECHAT_"))}
    env.update(PYTHONPATH=str(ROOT), STORAGE_URL=pg_url)
    result = subprocess.run([sys.executable, "-m", "bot", "web", "--port", str(free_port())], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: postgresql://bot:***@127.0.0.1:"), result.stderr
    assert ("newer than this program's" if case == "newer schema" else "cannot open the database") in lines[0]
    assert urlsplit(pg_url).password not in result.stderr and "Traceback" not in result.stderr


def test_database_files_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        store = Store(tmp_path / "new" / "db.sqlite3")
        store.put("lang:1", "en")
        store.flush()
        for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"):
            assert stat.S_IMODE((tmp_path / "new" / name).stat().st_mode) == 0o600, name
        assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
        store.close()
        # A database made by an older version, readable by everyone, is made private.
        (tmp_path / "new" / "db.sqlite3").chmod(0o644)
        Store(tmp_path / "new" / "db.sqlite3").close()
        assert stat.S_IMODE((tmp_path / "new" / "db.sqlite3").stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_settings_nobody_used_for_the_retention_period_are_deleted(backend):
    store = backend.open(retention_days=90)
    for key in ("lang:1", "lang:2", "lang:wx:o1", "guard:-100", "guard:-200"):
        store.put(key, "on")
    store.close()
    again = backend.open(retention_days=90)
    try:
        backend.sql("UPDATE kv SET at = ?", time.time() - 91 * 86400)  # last written 91 days ago
        # Still in use: a language and a group's guard read since.
        assert again.get("lang:2") == "on" and again.get("guard:-200") == "on"
        again.flush()
        again.prune_now()
        left = {key for (key,) in backend.sql("SELECT key FROM kv")}
        assert left == {"lang:2", "guard:-200"}
    finally:
        again.close()

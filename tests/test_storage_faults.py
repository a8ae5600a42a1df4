"""The store when the disk is full, unwritable or slow: nothing confirmed is lost, errors are one line, files are private, every row expires."""

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


def test_a_confirmed_write_is_committed_when_the_confirmation_comes(tmp_path):
    store = Store(tmp_path / "db.sqlite3")
    try:
        store.put("lang:wx:o1", "en")
        store.record_vote("ban-appeal", 1, "web:abc")
        started = time.perf_counter()
        store.confirmation().result(timeout=5)
        elapsed = time.perf_counter() - started
        # Read by another connection, as after a crash: the rows are in the file.
        assert on_disk(tmp_path / "db.sqlite3", "SELECT value FROM kv WHERE key = 'lang:wx:o1'") == [("en",)]
        assert on_disk(tmp_path / "db.sqlite3", "SELECT COUNT(*) FROM votes") == [(1,)]
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


def test_settings_nobody_used_for_the_retention_period_are_deleted(tmp_path):
    store = Store(tmp_path / "db.sqlite3", retention_days=90)
    for key in ("lang:1", "lang:2", "lang:wx:o1", "guard:-100", "guard:-200"):
        store.put(key, "on")
    store.close()
    again = Store(tmp_path / "db.sqlite3", retention_days=90)
    try:
        db = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
        db.execute("UPDATE kv SET at = ?", (time.time() - 91 * 86400,))  # last written 91 days ago
        db.close()
        # Still in use: a language and a group's guard read since.
        assert again.get("lang:2") == "on" and again.get("guard:-200") == "on"
        again.flush()
        again.prune_now()
        left = {key for (key,) in on_disk(tmp_path / "db.sqlite3", "SELECT key FROM kv")}
        assert left == {"lang:2", "guard:-200"}
    finally:
        again.close()

"""SQLite store of votes, unanswered questions, topic views and settings.

Personal data is masked on the way in, every kind of row expires, and every write
goes through one writer thread in batches, so the bot's event loop never waits for
the disk or for a lock held by another process (a curator running `stats`). A
channel that tells a person "saved" first waits for `confirmation()`: the commit.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import logging
import os
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from .cache import ExpiringLRU
from .errors import UserError
from .privacy import mask_personal_data
from .utf8 import valid_text

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS unanswered (
    id INTEGER PRIMARY KEY,
    question TEXT NOT NULL,
    lang TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS topic_views (
    topic TEXT PRIMARY KEY,
    views INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
"""
# Stored questions are cut: a curator needs the gist, not a pasted essay.
MAX_STORED_QUESTION = 500
# How long a lock held by another process (a curator's `stats`, a backup) may
# delay a write before it fails; the writer thread waits, the bot does not.
BUSY_TIMEOUT_MS = 5000
# How long a read may wait for a lock: a read holds up the person waiting for it
# (and, on the event loop, everyone), so it gives up soon and answers "not known".
READ_BUSY_TIMEOUT_MS = 250
# Settings read on every update (language, /banned step, guard) are cached; the
# cache is bounded so that memory does not grow with the number of users.
KV_CACHE_SIZE = 4096
KV_CACHE_TTL = 600.0
# Keys of guided flows ("flow:banned:<user>") left unfinished are deleted after a day.
FLOW_PREFIX = "flow:"
FLOW_RETENTION = 24 * 3600.0
# Every other setting (a language, a group's guard) is deleted once it has not been
# used for retention_days; a setting in use is marked as used at most once a day.
TOUCH_INTERVAL = 24 * 3600.0
TOUCH_MEMORY = 16_384
PRUNE_INTERVAL = 3600.0
# Seconds the writer waits after the first queued write, so that one transaction
# carries all the writes of a burst (a commit per answer cost a quarter of the
# bot's CPU under load). Nobody waits that long for a write they were promised:
# a confirmation asked for starts the commit at once.
BATCH_DELAY = 0.2
# Pending writes past this are refused rather than held in memory while the
# database cannot be written (disk full, locked for a long time).
MAX_PENDING_WRITES = 10_000
# After a failed commit the batch is kept and tried again, waiting this long (doubling).
RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 10.0
_MISSING = object()
# The questions a curator's queue gets: no answer ("none"), an unsure "did you mean"
# ("low"), and a message its sender said they meant as a question ("as_question").
UNANSWERED_KINDS = ("none", "low", "as_question")


class StoreUnavailable(Exception):
    """A write could not be saved (disk full, read-only, locked): the channel says so instead of "saved"."""


class Store:
    """One SQLite file. Reads run on the caller's thread; writes are queued for the writer thread."""

    def __init__(self, path: str | Path, retention_days: float = 90, voter_key: bytes = b"") -> None:
        self.path = Path(path)
        self.retention = retention_days * 86400.0
        try:
            self._db = self._open()
            secret = self._secret("store")
            self._prune(self._db, time.time())  # retention first, before anything is read
            self._db.execute(f"PRAGMA busy_timeout={READ_BUSY_TIMEOUT_MS}")
        except (OSError, sqlite3.Error) as exc:
            raise UserError(f"{self.path}: cannot open the database: {_reason(exc)}") from None
        # Votes are kept per voter as a keyed hash: the key never leaves this machine.
        self._voter_key = voter_key or hmac.new(secret, b"votes", hashlib.sha256).digest()
        self._secret_key = secret
        self._read_lock = threading.Lock()
        self._kv_cache: ExpiringLRU[str, str | None] = ExpiringLRU(KV_CACHE_SIZE, KV_CACHE_TTL)
        self._touched: ExpiringLRU[str, bool] = ExpiringLRU(TOUCH_MEMORY, TOUCH_INTERVAL)
        # Written but not yet committed: reads see these first.
        self._pending_kv: dict[str, tuple[int, str | None]] = {}
        self._queue: list[tuple[int, str, tuple]] = []
        self._views: dict[str, int] = {}  # topic views not yet written, added up
        self._touches: set[str] = set()  # settings read since their last mark
        self._waiters: list[tuple[int, concurrent.futures.Future]] = []
        self._queued = 0  # sequence number of the last queued write
        self._committed = 0
        self._closing = False
        self._failing: str | None = None  # the error of the last commit, while writes fail
        self._last_error: tuple[float, str] | None = None
        self._read_warned = 0.0
        self._cond = threading.Condition()
        self._writer = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self._writer.start()

    def _open(self) -> sqlite3.Connection:
        """The file created private (0600, its folder 0700), the schema in place."""
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # SQLite gives its -wal and -shm files the database file's permissions.
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        for name in (self.path, self.path.with_name(self.path.name + "-wal"),
                     self.path.with_name(self.path.name + "-shm")):
            if name.exists() and name.stat().st_mode & 0o077:
                name.chmod(0o600)
        db = self._connect()
        db.executescript(_SCHEMA)
        if "voter" not in {row[1] for row in db.execute("PRAGMA table_info(votes)")}:
            db.execute("ALTER TABLE votes ADD COLUMN voter TEXT")
        if "kind" not in {row[1] for row in db.execute("PRAGMA table_info(unanswered)")}:
            # What a curator's queue shows (bot/curation.py): UNANSWERED_KINDS.
            db.execute("ALTER TABLE unanswered ADD COLUMN kind TEXT NOT NULL DEFAULT 'none'")
        # One vote per user and card; rows from before voters were recorded have none.
        db.execute("CREATE UNIQUE INDEX IF NOT EXISTS votes_topic_voter ON votes (topic, voter)")
        return db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL: a commit survives a crash of the process (SIGKILL,
        # the out-of-memory killer); only a power cut can lose the last ones, and it
        # spares an fsync on every answer.
        db.execute("PRAGMA synchronous=NORMAL")
        # Pruned and deleted rows are overwritten, not left readable in free pages.
        db.execute("PRAGMA secure_delete=ON")
        return db

    def _secret(self, name: str) -> bytes:
        """A random key made once per database (every process on the file shares it)."""
        self._db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (name, secrets.token_bytes(32)))
        return bytes(self._db.execute("SELECT value FROM meta WHERE key = ?", (name,)).fetchone()[0])

    def key(self, purpose: str) -> bytes:
        """A key for `purpose` (signing visitor ids…), derived from the database's own secret."""
        return hmac.new(self._secret_key, purpose.encode(), hashlib.sha256).digest()

    # -- writes (queued) -----------------------------------------------------------

    def _enqueue(self, sql: str, params: tuple, kv_key: str | None = None, kv_value: str | None = None,
                 droppable: bool = False) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("store is closed")
            if len(self._queue) >= MAX_PENDING_WRITES:
                if droppable:
                    log.warning("database writes are backing up; a statistic was dropped")
                    return
                raise StoreUnavailable(f"{len(self._queue)} writes are waiting for the database")
            self._queued += 1
            self._queue.append((self._queued, sql, params))
            if kv_key is not None:
                self._pending_kv[kv_key] = (self._queued, kv_value)
                self._kv_cache.set(kv_key, kv_value)
            self._cond.notify_all()

    def voter(self, user_id: int | str) -> str:
        """The hash that stands for a voter in the database."""
        return hmac.new(self._voter_key, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]

    def record_vote(self, topic: str, vote: int, user_id: int | str) -> None:
        """One vote per user and topic: a second press replaces the first."""
        self._enqueue(
            "INSERT INTO votes (topic, vote, at, voter) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (topic, voter) DO UPDATE SET vote = excluded.vote, at = excluded.at",
            (topic, 1 if vote > 0 else -1, time.time(), self.voter(user_id)),
        )

    def record_unanswered(self, question: str, lang: str, kind: str = "none") -> None:
        """A question for curators (masked): no answer, an unsure one, or a message meant as a question."""
        masked = mask_personal_data(valid_text(question)[: MAX_STORED_QUESTION * 2])[:MAX_STORED_QUESTION]
        kind = kind if kind in UNANSWERED_KINDS else "none"
        self._enqueue("INSERT INTO unanswered (question, lang, at, kind) VALUES (?, ?, ?, ?)",
                      (masked, lang, time.time(), kind), droppable=True)

    def forget_unanswered(self, questions: list[str]) -> None:
        """Delete these stored questions (a curator answered, excluded or dismissed them)."""
        for question in questions:
            self._enqueue("DELETE FROM unanswered WHERE question = ?", (question,))

    def record_view(self, topic: str) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("store is closed")
            self._queued += 1
            self._views[topic] = self._views.get(topic, 0) + 1
            self._cond.notify_all()

    def put(self, key: str, value: str | None) -> None:
        if value is None:
            self._enqueue("DELETE FROM kv WHERE key = ?", (key,), key, None)
        else:
            self._enqueue(
                "INSERT INTO kv (key, value, at) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, at = excluded.at",
                (key, value, time.time()), key, value,
            )

    def confirmation(self) -> concurrent.futures.Future:
        """Done once every write queued so far is committed; StoreUnavailable if a commit of it failed.

        The writes stay queued after a failure and are tried again: "not confirmed" is not "lost".
        """
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._cond:
            target = self._queued
            if self._committed >= target:
                future.set_result(None)
            elif self._failing is not None:
                future.set_exception(StoreUnavailable(self._failing))
            else:
                self._waiters.append((target, future))
                self._cond.notify_all()
        return future

    def status(self) -> dict:
        """For /healthz: writes waiting, whether they are failing now, and the last error seen."""
        with self._cond:
            return {
                "queue": len(self._queue) + len(self._views),
                "failing": self._failing is not None,
                "last_error": self._last_error[1] if self._last_error else None,
                "last_error_at": round(self._last_error[0]) if self._last_error else None,
            }

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every write queued so far is committed; False on time-out."""
        with self._cond:
            target = self._queued
            self._waiters.append((target, concurrent.futures.Future()))  # no batch delay for this one
            self._cond.notify_all()
            return self._cond.wait_for(lambda: self._committed >= target or not self._writer.is_alive(), timeout)

    def close(self) -> None:
        """Commit what is queued, stop the writer thread, close the database."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        self._writer.join(BUSY_TIMEOUT_MS / 1000 * 4)
        with self._cond:
            if self._queue or self._views:
                log.error("%d write(s) could not be saved before the store closed: %s",
                          len(self._queue) + len(self._views), self._failing or "time-out")
        with self._read_lock:
            self._db.close()

    def _write_loop(self) -> None:
        db = self._connect()
        next_prune = time.monotonic() + PRUNE_INTERVAL  # the first ran at start
        retry = RETRY_DELAY
        try:
            while True:
                with self._cond:
                    pending = lambda: self._queue or self._views or self._touches  # noqa: E731
                    self._cond.wait_for(lambda: pending() or self._closing, timeout=max(0.0, next_prune - time.monotonic()))
                    if pending() and not self._closing and not self._waiters:
                        # Gather what the next moments bring: one transaction instead of one per answer.
                        self._cond.wait_for(lambda: self._closing or bool(self._waiters), timeout=BATCH_DELAY)
                    batch, self._queue = self._queue, []
                    views, self._views = self._views, {}
                    touches, self._touches = self._touches, set()
                    last = self._queued
                    closing = self._closing
                if batch or views or touches:
                    now = time.time()
                    statements = batch + [
                        (last, "INSERT INTO topic_views (topic, views) VALUES (?, ?) "
                               "ON CONFLICT(topic) DO UPDATE SET views = views + excluded.views", (topic, n))
                        for topic, n in views.items()
                    ] + [(last, "UPDATE kv SET at = ? WHERE key = ?", (now, key)) for key in touches]
                    if self._commit(db, statements, last):
                        retry = RETRY_DELAY
                    else:
                        with self._cond:  # kept, in order, ahead of what came since
                            self._queue = batch + self._queue
                            for topic, n in views.items():
                                self._views[topic] = self._views.get(topic, 0) + n
                            self._touches |= touches
                            self._cond.wait_for(lambda: self._closing, timeout=retry)
                            if self._closing:
                                return
                        retry = min(MAX_RETRY_DELAY, retry * 2)
                        continue
                if time.monotonic() >= next_prune:
                    self._prune(db, time.time())
                    next_prune = time.monotonic() + PRUNE_INTERVAL
                if closing and not batch:
                    with self._cond:
                        if not self._queue and not self._views:
                            return
        finally:
            db.close()

    def _commit(self, db: sqlite3.Connection, batch: list[tuple[int, str, tuple]], last: int) -> bool:
        """One transaction for the batch; False (the batch to be tried again) when the database cannot be written."""
        try:
            db.execute("BEGIN IMMEDIATE")
            for _, sql, params in batch:
                db.execute(sql, params)
            db.execute("COMMIT")
        except sqlite3.OperationalError as exc:  # full, read-only, locked, I/O error: the data is fine
            if db.in_transaction:
                db.execute("ROLLBACK")
            self._failed(exc, len(batch))
            return False
        except sqlite3.Error:  # a statement the database refuses: write the others, drop it
            if db.in_transaction:
                db.execute("ROLLBACK")
            try:
                self._commit_one_by_one(db, batch)
            except sqlite3.OperationalError as exc:
                self._failed(exc, len(batch))
                return False
        with self._cond:
            for key, (seq, _) in list(self._pending_kv.items()):
                if seq <= last:
                    del self._pending_kv[key]
            self._committed = last
            self._failing = None
            done = [f for target, f in self._waiters if target <= last]
            self._waiters = [(t, f) for t, f in self._waiters if t > last]
            self._cond.notify_all()
        for future in done:
            _settle(future)
        return True

    def _commit_one_by_one(self, db: sqlite3.Connection, batch: list[tuple[int, str, tuple]]) -> None:
        for _, sql, params in batch:
            try:
                with db:
                    db.execute(sql, params)
            except sqlite3.OperationalError:
                raise
            except sqlite3.Error:
                log.exception("the database refused a write; it was dropped")

    def _failed(self, exc: sqlite3.Error, count: int) -> None:
        reason = _reason(exc)
        with self._cond:
            first = self._failing is None
            self._failing = reason
            self._last_error = (time.time(), reason)
            failed = [f for _, f in self._waiters]
            self._waiters = []
            self._cond.notify_all()
        if first:
            log.error("could not write %d change(s) to the database (%s); kept, trying again", count, reason)
        for future in failed:
            _settle(future, StoreUnavailable(reason))

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        """Retention: old questions and votes, abandoned guided flows, settings nobody used for retention_days."""
        try:
            with db:
                db.execute("DELETE FROM unanswered WHERE at < ?", (now - self.retention,))
                db.execute("DELETE FROM votes WHERE at < ?", (now - self.retention,))
                db.execute("DELETE FROM kv WHERE key LIKE ? AND at < ?", (FLOW_PREFIX + "%", now - FLOW_RETENTION))
                db.execute("DELETE FROM kv WHERE at < ?", (now - self.retention,))
        except sqlite3.Error as exc:
            log.error("could not prune old rows: %s", _reason(exc))

    def prune_now(self) -> None:
        """Apply retention at once (tests, and the `stats` command before it reads)."""
        self.flush()
        with self._read_lock:
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            try:
                self._prune(self._db, time.time())
            finally:
                self._db.execute(f"PRAGMA busy_timeout={READ_BUSY_TIMEOUT_MS}")

    # -- reads ---------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        with self._cond:
            pending = self._pending_kv.get(key)
            if pending is not None:
                return pending[1]
            cached = self._kv_cache.get(key, _MISSING)  # type: ignore[arg-type]
            if cached is not _MISSING:
                if cached is not None:
                    self._touch(key)
                return cached  # type: ignore[return-value]
        try:
            with self._read_lock:
                row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        except sqlite3.OperationalError as exc:
            # Busy or unreadable: "not known" for this once (not cached); the person still gets an answer.
            if time.monotonic() - self._read_warned > 60:
                self._read_warned = time.monotonic()
                log.warning("could not read a setting from the database (%s)", _reason(exc))
            return None
        value = row[0] if row else None
        with self._cond:
            if key not in self._pending_kv:  # a put() raced this read: it wins
                self._kv_cache.set(key, value)
                if value is not None:
                    self._touch(key)
        return value

    def _touch(self, key: str) -> None:
        """Mark a setting as used (its retention starts again), at most once a TOUCH_INTERVAL."""
        if key.startswith(FLOW_PREFIX) or key in self._touched:
            return
        self._touched.set(key, True)
        self._touches.add(key)
        self._queued += 1
        self._cond.notify_all()

    def most_viewed(self, limit: int) -> list[str]:
        with self._read_lock:
            rows = self._db.execute("SELECT topic FROM topic_views ORDER BY views DESC, topic LIMIT ?", (limit,))
            return [r[0] for r in rows]

    def top_unanswered(self, limit: int = 20) -> list[tuple[str, int]]:
        self.flush()
        with self._read_lock:
            rows = self._db.execute(
                "SELECT question, COUNT(*) AS n FROM unanswered WHERE kind = 'none' "
                "GROUP BY question ORDER BY n DESC, MAX(at) DESC LIMIT ?",
                (limit,),
            )
            return [(q, n) for q, n in rows]

    def unanswered_for_curators(self, limit: int = 2000) -> list[tuple[str, str, str, int, float, float]]:
        """(question, kind, lang, count, first asked, last asked) of the most asked stored questions."""
        self.flush()
        with self._read_lock:
            rows = self._db.execute(
                "SELECT question, kind, MAX(lang), COUNT(*) AS n, MIN(at), MAX(at) FROM unanswered "
                "GROUP BY question, kind ORDER BY n DESC, MAX(at) DESC LIMIT ?", (limit,))
            return [(q, k, lang, n, first, last) for q, k, lang, n, first, last in rows]

    def votes_by_topic(self) -> dict[str, tuple[int, int]]:
        self.flush()
        with self._read_lock:
            rows = self._db.execute(
                "SELECT topic, SUM(vote = 1), SUM(vote = -1) FROM votes GROUP BY topic ORDER BY topic"
            )
            return {t: (int(up), int(down)) for t, up, down in rows}


def _settle(future: concurrent.futures.Future, error: Exception | None = None) -> None:
    """Resolve a confirmation, unless its waiter gave up on it (cancelled) meanwhile."""
    try:
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
    except concurrent.futures.InvalidStateError:
        pass


def _reason(exc: BaseException) -> str:
    """An error as one short line: what the system said, not a traceback."""
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror or exc}{where}"
    return str(exc) or type(exc).__name__

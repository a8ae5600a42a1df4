"""SQLite store of votes, unanswered questions, topic views and settings.

Personal data is masked on the way in, old rows are pruned, and every write goes
through one writer thread in batches, so the bot's event loop never waits for the
disk or for a lock held by another process (a curator running `stats`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
import threading
import time
from pathlib import Path

from .cache import ExpiringLRU
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
"""
# Stored questions are cut: a curator needs the gist, not a pasted essay.
MAX_STORED_QUESTION = 500
# How long a lock held by another process (a curator's `stats`, a backup) may
# delay a write before it fails; the writer thread waits, the bot does not.
BUSY_TIMEOUT_MS = 5000
# Settings read on every update (language, /banned step, guard) are cached; the
# cache is bounded so that memory does not grow with the number of users.
KV_CACHE_SIZE = 4096
KV_CACHE_TTL = 600.0
# Keys of guided flows ("flow:banned:<user>") left unfinished are deleted after a day.
FLOW_PREFIX = "flow:"
FLOW_RETENTION = 24 * 3600.0
PRUNE_INTERVAL = 3600.0
# Seconds the writer waits after the first queued write, so that one transaction
# carries all the writes of a burst (a commit per answer cost a quarter of the
# bot's CPU under load).
BATCH_DELAY = 0.2
# Pending writes past this are refused (and logged) rather than held in memory
# while the database is locked for a long time.
MAX_PENDING_WRITES = 10_000
_MISSING = object()
# The questions a curator's queue gets: no answer ("none"), an unsure "did you mean"
# ("low"), and a message its sender said they meant as a question ("as_question").
UNANSWERED_KINDS = ("none", "low", "as_question")


class Store:
    """One SQLite file. Reads run on the caller's thread; writes are queued for the writer thread."""

    def __init__(self, path: str | Path, retention_days: float = 90, voter_key: bytes = b"") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention = retention_days * 86400.0
        self._voter_key = voter_key or b"account-safety-bot"
        self._db = self._connect()
        self._db.executescript(_SCHEMA)
        if "voter" not in {row[1] for row in self._db.execute("PRAGMA table_info(votes)")}:
            self._db.execute("ALTER TABLE votes ADD COLUMN voter TEXT")
        if "kind" not in {row[1] for row in self._db.execute("PRAGMA table_info(unanswered)")}:
            # What a curator's queue shows (bot/curation.py): UNANSWERED_KINDS.
            self._db.execute("ALTER TABLE unanswered ADD COLUMN kind TEXT NOT NULL DEFAULT 'none'")
        # One vote per user and card; rows from before voters were recorded have none.
        self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS votes_topic_voter ON votes (topic, voter)")
        self._read_lock = threading.Lock()
        self._kv_cache: ExpiringLRU[str, str | None] = ExpiringLRU(KV_CACHE_SIZE, KV_CACHE_TTL)
        # Written but not yet committed: reads see these first.
        self._pending_kv: dict[str, tuple[int, str | None]] = {}
        self._queue: list[tuple[int, str, tuple]] = []
        self._views: dict[str, int] = {}  # topic views not yet written, added up
        self._queued = 0  # sequence number of the last queued write
        self._committed = 0
        self._closing = False
        self._cond = threading.Condition()
        self._writer = threading.Thread(target=self._write_loop, name="store-writer", daemon=True)
        self._writer.start()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL survives a crash of the bot; only a power cut
        # can lose the last few votes, and it spares an fsync on every answer.
        db.execute("PRAGMA synchronous=NORMAL")
        # Pruned and deleted rows are overwritten, not left readable in free pages.
        db.execute("PRAGMA secure_delete=ON")
        return db

    # -- writes (queued) -----------------------------------------------------------

    def _enqueue(self, sql: str, params: tuple, kv_key: str | None = None, kv_value: str | None = None) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("store is closed")
            if len(self._queue) >= MAX_PENDING_WRITES and kv_key is None:
                log.warning("database writes are backing up; a statistic was dropped")
                return
            self._queued += 1
            self._queue.append((self._queued, sql, params))
            if kv_key is not None:
                self._pending_kv[kv_key] = (self._queued, kv_value)
                self._kv_cache.set(kv_key, kv_value)
            self._cond.notify_all()

    def record_vote(self, topic: str, vote: int, user_id: int) -> None:
        """One vote per user and topic: a second press replaces the first."""
        voter = hmac.new(self._voter_key, str(user_id).encode(), hashlib.sha256).hexdigest()[:32]
        self._enqueue(
            "INSERT INTO votes (topic, vote, at, voter) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (topic, voter) DO UPDATE SET vote = excluded.vote, at = excluded.at",
            (topic, 1 if vote > 0 else -1, time.time(), voter),
        )

    def record_unanswered(self, question: str, lang: str, kind: str = "none") -> None:
        """A question for curators (masked): no answer, an unsure one, or a message meant as a question."""
        masked = mask_personal_data(valid_text(question))[:MAX_STORED_QUESTION]
        kind = kind if kind in UNANSWERED_KINDS else "none"
        self._enqueue("INSERT INTO unanswered (question, lang, at, kind) VALUES (?, ?, ?, ?)",
                      (masked, lang, time.time(), kind))

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

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every write queued so far is committed; False on time-out."""
        with self._cond:
            target = self._queued
            return self._cond.wait_for(lambda: self._committed >= target or not self._writer.is_alive(), timeout)

    def close(self) -> None:
        """Commit what is queued, stop the writer thread, close the database."""
        with self._cond:
            if self._closing:
                return
            self._closing = True
            self._cond.notify_all()
        self._writer.join(BUSY_TIMEOUT_MS / 1000 * 4)
        with self._read_lock:
            self._db.close()

    def _write_loop(self) -> None:
        db = self._connect()
        next_prune = 0.0
        try:
            while True:
                with self._cond:
                    pending = lambda: self._queue or self._views  # noqa: E731
                    self._cond.wait_for(lambda: pending() or self._closing, timeout=max(0.0, next_prune - time.monotonic()))
                    if pending() and not self._closing:
                        # Gather what the next moments bring: one transaction instead of one per answer.
                        self._cond.wait_for(lambda: self._closing, timeout=BATCH_DELAY)
                    batch, self._queue = self._queue, []
                    views, self._views = self._views, {}
                    last = self._queued
                    closing = self._closing
                if batch or views:
                    batch += [(last, "INSERT INTO topic_views (topic, views) VALUES (?, ?) "
                                     "ON CONFLICT(topic) DO UPDATE SET views = views + excluded.views", (topic, n))
                              for topic, n in views.items()]
                    self._commit(db, batch, last)
                if time.monotonic() >= next_prune:
                    self._prune(db, time.time())
                    next_prune = time.monotonic() + PRUNE_INTERVAL
                if closing and not batch:
                    with self._cond:
                        if not self._queue and not self._views:
                            return
        finally:
            db.close()

    def _commit(self, db: sqlite3.Connection, batch: list[tuple[int, str, tuple]], last: int) -> None:
        try:
            db.execute("BEGIN IMMEDIATE")
            for _, sql, params in batch:
                db.execute(sql, params)
            db.execute("COMMIT")
        except sqlite3.Error:
            log.exception("could not write %d change(s) to the database", len(batch))
            if db.in_transaction:
                db.execute("ROLLBACK")
        with self._cond:
            for key, (seq, _) in list(self._pending_kv.items()):
                if seq <= last:
                    del self._pending_kv[key]
            self._committed = last
            self._cond.notify_all()

    def _prune(self, db: sqlite3.Connection, now: float) -> None:
        """Retention: old unanswered questions and votes, and abandoned guided flows."""
        try:
            with db:
                db.execute("DELETE FROM unanswered WHERE at < ?", (now - self.retention,))
                db.execute("DELETE FROM votes WHERE at < ?", (now - self.retention,))
                db.execute("DELETE FROM kv WHERE key LIKE ? AND at < ?", (FLOW_PREFIX + "%", now - FLOW_RETENTION))
        except sqlite3.Error:
            log.exception("could not prune old rows")

    def prune_now(self) -> None:
        """Apply retention at once (tests, and the `stats` command before it reads)."""
        self.flush()
        with self._read_lock:
            self._prune(self._db, time.time())

    # -- reads ---------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        with self._cond:
            pending = self._pending_kv.get(key)
            if pending is not None:
                return pending[1]
            cached = self._kv_cache.get(key, _MISSING)  # type: ignore[arg-type]
        if cached is not _MISSING:
            return cached  # type: ignore[return-value]
        with self._read_lock:
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        value = row[0] if row else None
        with self._cond:
            if key not in self._pending_kv:  # a put() raced this read: it wins
                self._kv_cache.set(key, value)
        return value

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

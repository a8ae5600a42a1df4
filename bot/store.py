"""SQLite store of feedback votes and unanswered questions, personal numbers masked on the way in."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

from .privacy import mask_personal_numbers

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
# Settings read on every message (language, /banned step, guard) are kept in
# memory after the first read; this process is the database's only writer.
KV_CACHE_SIZE = 50_000
_MISSING = object()


class Store:
    """One SQLite file; safe to call from the bot's event loop (short writes, one lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        # WAL with synchronous=NORMAL survives a crash of the bot; only a power cut
        # can lose the last few votes, and it spares an fsync on every answer.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._kv_cache: OrderedDict[str, str | None] = OrderedDict()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def record_vote(self, topic: str, vote: int) -> None:
        with self._lock:
            self._db.execute("INSERT INTO votes (topic, vote, at) VALUES (?, ?, ?)", (topic, 1 if vote > 0 else -1, time.time()))

    def record_unanswered(self, question: str, lang: str) -> None:
        masked = mask_personal_numbers(question)[:MAX_STORED_QUESTION]
        with self._lock:
            self._db.execute("INSERT INTO unanswered (question, lang, at) VALUES (?, ?, ?)", (masked, lang, time.time()))

    def record_view(self, topic: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO topic_views (topic, views) VALUES (?, 1) "
                "ON CONFLICT(topic) DO UPDATE SET views = views + 1",
                (topic,),
            )

    def most_viewed(self, limit: int) -> list[str]:
        with self._lock:
            rows = self._db.execute("SELECT topic FROM topic_views ORDER BY views DESC, topic LIMIT ?", (limit,))
            return [r[0] for r in rows]

    def top_unanswered(self, limit: int = 20) -> list[tuple[str, int]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT question, COUNT(*) AS n FROM unanswered GROUP BY question ORDER BY n DESC, MAX(at) DESC LIMIT ?",
                (limit,),
            )
            return [(q, n) for q, n in rows]

    def votes_by_topic(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT topic, SUM(vote = 1), SUM(vote = -1) FROM votes GROUP BY topic ORDER BY topic"
            )
            return {t: (int(up), int(down)) for t, up, down in rows}

    def get(self, key: str) -> str | None:
        with self._lock:
            cached = self._kv_cache.get(key, _MISSING)
            if cached is not _MISSING:
                self._kv_cache.move_to_end(key)
                return cached  # type: ignore[return-value]
            row = self._db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
            value = row[0] if row else None
            self._remember(key, value)
            return value

    def put(self, key: str, value: str | None) -> None:
        with self._lock:
            if value is None:
                self._db.execute("DELETE FROM kv WHERE key = ?", (key,))
            else:
                self._db.execute(
                    "INSERT INTO kv (key, value, at) VALUES (?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET value = excluded.value, at = excluded.at",
                    (key, value, time.time()),
                )
            self._remember(key, value)

    def _remember(self, key: str, value: str | None) -> None:
        self._kv_cache[key] = value
        self._kv_cache.move_to_end(key)
        if len(self._kv_cache) > KV_CACHE_SIZE:
            self._kv_cache.popitem(last=False)

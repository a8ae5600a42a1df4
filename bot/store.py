"""The store of votes, unanswered questions, topic views, settings and the state processes share.

Personal data is masked on the way in, every kind of row expires, and every write
goes through one writer thread in batches, so the bot's event loop never waits for
the disk or for a lock held by another process (a curator running `stats`). A
channel that tells a person "saved" first waits for `confirmation()`: the commit.

Two backends with one interface and one schema history (MIGRATIONS): SQLite, one
file, the default (`storage.path`); PostgreSQL (`storage.url`, bot/pgstore.py) for
several processes, which then also share rate limits and deduplication through it
(`shared`, `remember`, `claim`, `take_token`).
"""

from __future__ import annotations

import concurrent.futures
import fcntl
import hashlib
import hmac
import logging
import os
import re
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

# The schema's history, the same for both backends: version N is reached by running
# migration N's statements, in one transaction, under the database's writer lock. The
# version is kept in schema_version; a database at a newer version than this program
# knows is refused at start. {id}, {real}, {blob} are the backend's types.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: votes, unanswered questions, topic views, settings, the database's secrets
        """CREATE TABLE IF NOT EXISTS votes (
            id {id} PRIMARY KEY, topic TEXT NOT NULL, vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
            at {real} NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS unanswered (
            id {id} PRIMARY KEY, question TEXT NOT NULL, lang TEXT NOT NULL, at {real} NOT NULL)""",
        "CREATE TABLE IF NOT EXISTS topic_views (topic TEXT PRIMARY KEY, views INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, at {real} NOT NULL)",
        "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value {blob} NOT NULL)",
        # Columns a database from before the version table may lack (added if missing).
        "ALTER TABLE votes ADD COLUMN voter TEXT",
        # What a curator's queue shows (bot/curation.py): UNANSWERED_KINDS.
        "ALTER TABLE unanswered ADD COLUMN kind TEXT NOT NULL DEFAULT 'none'",
        # One vote per user and card; rows from before voters were recorded have none.
        "CREATE UNIQUE INDEX IF NOT EXISTS votes_topic_voter ON votes (topic, voter)",
    ),
    (  # 2: what several processes share: rate-limit buckets, deduplication and replay memories
        "CREATE TABLE IF NOT EXISTS rate_buckets (key TEXT PRIMARY KEY, tokens {real} NOT NULL, at {real} NOT NULL, "
        "refusals INTEGER NOT NULL)",
        # done = 0: claimed and being answered since `at`; done = 1: `value` is the answer. Gone after `expires`.
        "CREATE TABLE IF NOT EXISTS once (key TEXT PRIMARY KEY, value TEXT, done INTEGER NOT NULL, at {real} NOT NULL, "
        "expires {real} NOT NULL)",
        "CREATE INDEX IF NOT EXISTS once_expires ON once (expires)",
        "CREATE INDEX IF NOT EXISTS rate_buckets_at ON rate_buckets (at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
_SQLITE_TYPES = {"id": "INTEGER", "real": "REAL", "blob": "BLOB"}
# A rate-limit bucket untouched this long is full again whatever its window: deleted.
BUCKET_RETENTION = 24 * 3600.0
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

    # Whether other processes use this database too (and so share limits and memories through it).
    shared = False
    # Errors of the database: any (a statement refused), and those that leave the data fine
    # (full, read-only, locked, the server gone): the writes are kept and tried again.
    Error: type[Exception] = sqlite3.Error
    TransientError: type[Exception] = sqlite3.OperationalError
    # Settings read are cached in the process; a shared store's are read each time (another
    # process may have changed them since).
    kv_cache_ttl = KV_CACHE_TTL

    def __init__(self, path: str | Path, retention_days: float = 90, voter_key: bytes = b"") -> None:
        self.path = Path(path)
        self.where = self._describe()
        self.retention = retention_days * 86400.0
        try:
            self._db = self._open()
            secret = self._secret("store")
            self._prune(self._db, time.time())  # retention first, before anything is read
            self._after_open()
        except (OSError, self.Error) as exc:
            raise UserError(f"{self.where}: cannot open the database: {_reason(exc)}") from None
        # Votes are kept per voter as a keyed hash: the key never leaves this machine.
        self._voter_key = voter_key or hmac.new(secret, b"votes", hashlib.sha256).digest()
        self._secret_key = secret
        self._read_lock = threading.Lock()
        self._kv_cache: ExpiringLRU[str, str | None] = ExpiringLRU(KV_CACHE_SIZE, self.kv_cache_ttl)
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

    def _describe(self) -> str:
        """Where the database is, for messages (a URL without its password)."""
        return str(self.path)

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
        try:
            db.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then find it done
            try:
                self._migrate(db)
                db.execute("COMMIT")
            finally:
                if db.in_transaction:
                    db.execute("ROLLBACK")
        except BaseException:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        def adapted(statement: str) -> str | None:
            statement = statement.format(**_SQLITE_TYPES)
            added = _ADDED_COLUMN.match(statement)
            if added and added[2] in {r[1] for r in db.execute(f"PRAGMA table_info({added[1]})")}:
                return None  # a database from before the version table that has it already
            return statement

        self._migrate_with(lambda sql, params: db.execute(sql, params).fetchall(), adapted)

    def _migrate_with(self, query, adapted) -> None:
        """Bring the schema to SCHEMA_VERSION inside the caller's transaction; refuse a newer one.

        `query(sql, params)`: rows of a statement (SQLite's placeholders); `adapted(statement)`: a migration's
        statement for this backend, or None to leave it out."""
        query("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)", ())
        rows = query("SELECT version FROM schema_version", ())
        version = rows[0][0] if rows else 0
        check_version(version, self.where)
        for number in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[number - 1]:
                statement = adapted(statement)
                if statement is not None:
                    query(statement, ())
        if version < SCHEMA_VERSION:
            query("DELETE FROM schema_version", ())
            query("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            if version:
                log.info("%s: the database's schema was migrated from version %d to %d", self.where, version,
                         SCHEMA_VERSION)

    def _after_open(self) -> None:
        self._db.execute(f"PRAGMA busy_timeout={READ_BUSY_TIMEOUT_MS}")

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
        self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                         (name, secrets.token_bytes(32)))
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
        self._close_reader()

    def _close_reader(self) -> None:
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
                               "ON CONFLICT(topic) DO UPDATE SET views = topic_views.views + excluded.views",
                         (topic, n))
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

    def _commit(self, db, batch: list[tuple[int, str, tuple]], last: int) -> bool:
        """One transaction for the batch; False (the batch to be tried again) when the database cannot be written."""
        try:
            self._run_batch(db, batch)
        except self.TransientError as exc:  # full, read-only, locked, I/O error, server gone: the data is fine
            self._failed(exc, len(batch))
            return False
        except self.Error:  # a statement the database refuses: write the others, drop it
            try:
                self._commit_one_by_one(db, batch)
            except self.TransientError as exc:
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

    def _run_batch(self, db: sqlite3.Connection, batch: list[tuple[int, str, tuple]]) -> None:
        """The statements in one transaction (rolled back and raised on an error)."""
        try:
            db.execute("BEGIN IMMEDIATE")
            for _, sql, params in batch:
                db.execute(sql, params)
            db.execute("COMMIT")
        finally:
            if db.in_transaction:
                db.execute("ROLLBACK")

    def _commit_one_by_one(self, db, batch: list[tuple[int, str, tuple]]) -> None:
        for item in batch:
            try:
                self._run_batch(db, [item])
            except self.TransientError:
                raise
            except self.Error:
                log.exception("the database refused a write; it was dropped")

    def _failed(self, exc: Exception, count: int) -> None:
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

    def _prune(self, db, now: float) -> None:
        """Retention: old questions and votes, abandoned guided flows, settings nobody used for retention_days,
        expired deduplication memories and refilled rate-limit buckets."""
        try:
            self._run_batch(db, [(0, sql, params) for sql, params in (
                ("DELETE FROM unanswered WHERE at < ?", (now - self.retention,)),
                ("DELETE FROM votes WHERE at < ?", (now - self.retention,)),
                ("DELETE FROM kv WHERE key LIKE ? AND at < ?", (FLOW_PREFIX + "%", now - FLOW_RETENTION)),
                ("DELETE FROM kv WHERE at < ?", (now - self.retention,)),
                ("DELETE FROM once WHERE expires < ?", (now,)),
                ("DELETE FROM rate_buckets WHERE at < ?", (now - BUCKET_RETENTION,)),
            )])
        except self.Error as exc:
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

    # -- state shared by processes (immediate, not queued: each is one atomic statement) ----------

    def _now_write(self, sql: str, params: tuple | dict) -> list[tuple]:
        """One statement in its own transaction, at once, on the caller's thread; its rows."""
        with self._read_lock:
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            try:
                return self._db.execute(sql, params).fetchall()
            finally:
                self._db.execute(f"PRAGMA busy_timeout={READ_BUSY_TIMEOUT_MS}")

    def remember(self, key: str, value: str, ttl: float) -> str | None:
        """Keep `value` under `key` for `ttl` seconds unless a live one is there: None if kept, else the one there."""
        now = time.time()
        rows = self._now_write(
            "INSERT INTO once (key, value, done, at, expires) VALUES (?, ?, 1, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, done = 1, at = excluded.at, "
            "expires = excluded.expires WHERE once.expires < excluded.at RETURNING key",
            (key, value, now, now + ttl))
        if rows:
            return None
        found = self._read_rows("SELECT value FROM once WHERE key = ?", (key,))
        return found[0][0] if found else None

    def claim(self, key: str, lease: float, ttl: float) -> tuple[str, str | None]:
        """Take on answering `key` once among all processes: ("mine", None) to answer it (then `settle` or
        `release`), ("done", answer) once answered, ("busy", None) while another process answers it.

        A claim older than `lease` seconds and not settled is taken over (its process died)."""
        now = time.time()
        rows = self._now_write(
            "INSERT INTO once (key, value, done, at, expires) VALUES (?, NULL, 0, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = NULL, done = 0, at = excluded.at, expires = excluded.expires "
            "WHERE once.expires < excluded.at OR (once.done = 0 AND once.at < ?) RETURNING key",
            (key, now, now + ttl, now - lease))
        if rows:
            return "mine", None
        found = self._read_rows("SELECT value, done FROM once WHERE key = ?", (key,))
        if found and found[0][1]:
            return "done", found[0][0]
        return ("busy", None) if found else self.claim(key, lease, ttl)

    def settle(self, key: str, answer: str, ttl: float) -> None:
        """The claim on `key` answered: every later claim gets ("done", answer) for `ttl` seconds."""
        self._now_write("UPDATE once SET value = ?, done = 1, expires = ? WHERE key = ?",
                        (answer, time.time() + ttl, key))

    def release(self, key: str) -> None:
        """Give a claim up (the answer could not be made): the next claim of `key` is answered afresh."""
        self._now_write("DELETE FROM once WHERE key = ? AND done = 0", (key,))

    def take_token(self, key: str, capacity: float, rate: float, cost: float = 1.0) -> str:
        """A token bucket kept in the database: 'ok', 'notify' (the first refusal since the last 'ok') or 'drop'."""
        now = time.time()
        full = "CASE WHEN rate_buckets.tokens + (:now - rate_buckets.at) * :rate > :cap THEN :cap " \
               "ELSE rate_buckets.tokens + (:now - rate_buckets.at) * :rate END"
        fits = capacity >= cost
        rows = self._now_write(
            "INSERT INTO rate_buckets (key, tokens, at, refusals) VALUES (:key, :fresh, :now, :first) "
            f"ON CONFLICT (key) DO UPDATE SET tokens = CASE WHEN {full} >= :cost THEN {full} - :cost ELSE {full} END, "
            f"refusals = CASE WHEN {full} >= :cost THEN 0 ELSE rate_buckets.refusals + 1 END, at = :now "
            "RETURNING refusals",
            {"key": key, "now": now, "rate": float(rate), "cap": float(capacity), "cost": float(cost),
             "fresh": float(capacity - cost if fits else capacity), "first": 0 if fits else 1})
        refusals = rows[0][0]
        return "ok" if refusals == 0 else "notify" if refusals == 1 else "drop"

    def try_lock(self, name: str) -> "HeldLock | None":
        """Held by one process at a time among those on this database (the Telegram poller), or None now.

        SQLite: an advisory lock on a file beside the database, which the system releases when the
        process dies, however it dies."""
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        path = self.path.with_name(f"{self.path.name}-lock-{digest}")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return HeldLock(lambda: True, lambda: os.close(fd))

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
            rows = self._read_rows("SELECT value FROM kv WHERE key = ?", (key,))
        except self.TransientError as exc:
            # Busy or unreadable: "not known" for this once (not cached); the person still gets an answer.
            if time.monotonic() - self._read_warned > 60:
                self._read_warned = time.monotonic()
                log.warning("could not read a setting from the database (%s)", _reason(exc))
            return None
        value = rows[0][0] if rows else None
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

    def _read_rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._read_lock:
            return self._db.execute(sql, params).fetchall()

    def most_viewed(self, limit: int) -> list[str]:
        rows = self._read_rows("SELECT topic FROM topic_views ORDER BY views DESC, topic LIMIT ?", (limit,))
        return [r[0] for r in rows]

    def top_unanswered(self, limit: int = 20) -> list[tuple[str, int]]:
        self.flush()
        rows = self._read_rows(
            "SELECT question, COUNT(*) AS n FROM unanswered WHERE kind = 'none' "
            "GROUP BY question ORDER BY n DESC, MAX(at) DESC LIMIT ?",
            (limit,),
        )
        return [(q, int(n)) for q, n in rows]

    def unanswered_for_curators(self, limit: int = 2000) -> list[tuple[str, str, str, int, float, float]]:
        """(question, kind, lang, count, first asked, last asked) of the most asked stored questions."""
        self.flush()
        rows = self._read_rows(
            "SELECT question, kind, MAX(lang), COUNT(*) AS n, MIN(at), MAX(at) FROM unanswered "
            "GROUP BY question, kind ORDER BY n DESC, MAX(at) DESC LIMIT ?", (limit,))
        return [(q, k, lang, int(n), first, last) for q, k, lang, n, first, last in rows]

    def votes_by_topic(self) -> dict[str, tuple[int, int]]:
        self.flush()
        rows = self._read_rows(
            "SELECT topic, SUM(CASE WHEN vote = 1 THEN 1 ELSE 0 END), SUM(CASE WHEN vote = -1 THEN 1 ELSE 0 END) "
            "FROM votes GROUP BY topic ORDER BY topic"
        )
        return {t: (int(up), int(down)) for t, up, down in rows}


class HeldLock:
    """A lock of `Store.try_lock`: `held()` says whether it still is (a lost connection loses it)."""

    def __init__(self, check, release) -> None:
        self._check, self._release, self._released = check, release, False

    def held(self) -> bool:
        return not self._released and self._check()

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._release()


_ADDED_COLUMN = re.compile(r"ALTER TABLE (\w+) ADD COLUMN (\w+)")


def check_version(version: int, where: str) -> None:
    """A database written by a newer version of the bot is refused: its schema may mean what this one does not know."""
    if version > SCHEMA_VERSION:
        raise UserError(f"{where}: the database's schema is version {version}, newer than this program's "
                        f"({SCHEMA_VERSION}): run the newer version of the bot, or restore a backup made before it")


def open_store(config, voter_key: bytes = b"") -> Store:
    """The configured store: PostgreSQL when storage.url is set, else the SQLite file of storage.path."""
    url = config["storage.url"]
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise UserError("storage.url must be a PostgreSQL URL (postgresql://user:password@host:5432/database); "
                            "leave it empty for the SQLite file of storage.path")
        from .pgstore import PostgresStore

        return PostgresStore(url, retention_days=config["storage.retention_days"], voter_key=voter_key)
    return Store(config["storage.path"], retention_days=config["storage.retention_days"], voter_key=voter_key)


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
    return " ".join(str(exc).split()) or type(exc).__name__

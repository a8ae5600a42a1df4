"""Shared fixtures: the real knowledge base and matcher, loaded once per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.knowledge import KnowledgeBase, default_kb_dir, load_knowledge
from bot.matcher import Matcher, load_matcher

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEEDS_NAMES = (
    "000_172019a72761f669.txt",
    "001_13320a19cf05b8fb.txt",
    "002_ff2be91e198cea24.txt",
    "003_cd4996d9d97c8e2b.txt",
    "004_a421fbdad60e18e3.txt",
)


@pytest.fixture(scope="session")
def kb() -> KnowledgeBase:
    return load_knowledge(default_kb_dir())


@pytest.fixture(scope="session")
def matcher() -> Matcher:
    return load_matcher(default_kb_dir())


@pytest.fixture(scope="session")
def checker(matcher):
    """The scam checker of the real knowledge base, sharing the matcher's normaliser."""
    from bot.checker import MessageChecker

    return MessageChecker(matcher.kb, matcher.normaliser)


@pytest.fixture
def kb_copy(tmp_path: Path) -> Path:
    """A writable copy of the real knowledge base, for breaking on purpose."""
    dest = tmp_path / "knowledge"
    shutil.copytree(default_kb_dir(), dest)
    return dest


@pytest.fixture
def fake_api():
    """A fresh loopback Bot API for one test."""
    from .fake_bot_api import FakeBotAPI

    with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
def bot_runner(fake_api, matcher, tmp_path):
    """The real Application polling the fake; yields (fake, runner)."""
    from .tg_harness import BotRunner

    runner = BotRunner(fake_api, matcher, tmp_path / "bot.sqlite3").start()
    try:
        yield fake_api, runner
    finally:
        runner.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """One PostgreSQL server for the session (tests/postgres.py); the tests that need it are skipped, saying why,
    where it cannot be installed or started."""
    from .postgres import PostgresServer, Unavailable

    try:
        server = PostgresServer().start()
    except Unavailable as exc:
        pytest.skip(f"PostgreSQL tests skipped: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_url(postgres_server) -> str:
    """The URL of a fresh database of its own on the session's PostgreSQL server."""
    return postgres_server.new_database()


class Backend:
    """One of the store's two backends, as the store tests use it: open a store, look at its rows from outside."""

    def __init__(self, name: str, tmp_path: Path, server=None) -> None:
        self.name = name
        self.path = tmp_path / "db.sqlite3"
        self.server = server
        self.url = server.new_database() if server is not None else ""

    def open(self, **options):
        from bot.store import Store

        if self.url:
            from bot.pgstore import PostgresStore

            return PostgresStore(self.url, **options)
        return Store(self.path, **options)

    def sql(self, query: str, *params) -> list[tuple]:
        """A statement on another connection, as after a crash or by an operator (SQLite's ? placeholders)."""
        if self.url:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                cursor = conn.execute(query.replace("?", "%s"), params or None)
                return cursor.fetchall() if cursor.description else []
        import sqlite3

        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute("PRAGMA secure_delete=ON")  # as the bot's connections: no stale copy of a row
            return db.execute(query, params).fetchall()
        finally:
            db.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> Backend:
    """Each store test runs on both backends (PostgreSQL's skipped, saying why, where it cannot run)."""
    if request.param == "sqlite":
        return Backend("sqlite", tmp_path)
    return Backend("postgresql", tmp_path, request.getfixturevalue("postgres_server"))

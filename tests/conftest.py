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

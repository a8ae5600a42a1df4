"""Every interface string the code asks for exists in both languages, so no user ever meets a KeyError."""

from __future__ import annotations

import re

from bot.knowledge import UI_KEYS
from bot.conversation import REASONS

from .conftest import ROOT


def test_every_literal_ui_key_used_in_code_is_declared_and_present(kb):
    used = set()
    for path in (ROOT / "bot").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r"""(?:ui\(context,\s*|\.text\()["']([a-z_]+)["']""", text))
    assert used, "the pattern must find the calls"
    assert used <= set(UI_KEYS), used - set(UI_KEYS)
    assert set(UI_KEYS) <= set(kb.ui)


def test_keys_built_at_run_time_exist(kb):
    dynamic = [f"check_{risk}" for risk in ("high", "medium", "low")]
    dynamic += [f"check_context_{c}" for c in ("warning", "question")]
    dynamic += [f"banned_notice_{r}" for r in REASONS]
    missing = [k for k in dynamic if k not in kb.ui]
    assert not missing


def test_strings_are_filled_in_both_languages(kb):
    for key, value in kb.ui.items():
        assert value.zh.strip() and value.en.strip(), key

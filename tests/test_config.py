"""Running the bot: a missing token or a bad config is one clear line and exit code 2."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from bot.config import SETTINGS, load_config
from bot.errors import UserError

from .conftest import ROOT


def run_bot(args, tmp_path, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    full_env.update(env, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=tmp_path, env=full_env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def assert_one_line_error(result, *needles):
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_missing_token(tmp_path):
    assert_one_line_error(run_bot(["run"], tmp_path), "TELEGRAM_BOT_TOKEN")


def test_malformed_token(tmp_path):
    assert_one_line_error(run_bot(["run"], tmp_path, TELEGRAM_BOT_TOKEN="not a token"), "malformed")


def test_unknown_key(tmp_path):
    (tmp_path / "config.yaml").write_text("telegram:\n  tokn: x\n", encoding="utf-8")
    assert_one_line_error(run_bot(["run"], tmp_path), "config.yaml", "telegram.tokn")


def test_yaml_syntax_error_names_the_line(tmp_path):
    (tmp_path / "config.yaml").write_text("telegram:\n  mode: [polling\n", encoding="utf-8")
    assert_one_line_error(run_bot(["run"], tmp_path), "config.yaml:")


def test_bad_value(tmp_path):
    (tmp_path / "config.yaml").write_text("rate_limit:\n  messages: lots\n", encoding="utf-8")
    assert_one_line_error(run_bot(["run"], tmp_path, TELEGRAM_BOT_TOKEN="1:x"), "rate_limit.messages")


def test_missing_explicit_config_file(tmp_path):
    assert_one_line_error(run_bot(["run", "--config", "nope.yaml"], tmp_path), "nope.yaml")


def test_webhook_mode_needs_a_url(tmp_path):
    (tmp_path / "config.yaml").write_text("telegram:\n  mode: webhook\n", encoding="utf-8")
    assert_one_line_error(run_bot(["run"], tmp_path, TELEGRAM_BOT_TOKEN="1:x"), "webhook.url")


def test_webhook_mode_refuses_to_start_without_a_secret(tmp_path):
    (tmp_path / "config.yaml").write_text("telegram:\n  mode: webhook\n  webhook:\n    url: https://bot.example.org/hook\n",
                                          encoding="utf-8")
    result = run_bot(["run"], tmp_path, TELEGRAM_BOT_TOKEN="1:x")
    assert_one_line_error(result, "telegram.webhook.secret_token")
    assert "TELEGRAM_WEBHOOK_SECRET" in result.stderr


def test_webhook_listens_on_loopback_by_default():
    assert load_config(None, environ={})["telegram.webhook.listen"] == "127.0.0.1"


def test_environment_overrides_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("telegram:\n  token: '1:file'\n  base_url: http://a/bot\n", encoding="utf-8")
    config = load_config(path, environ={"TELEGRAM_BOT_TOKEN": "2:env", "TELEGRAM_BASE_URL": "http://b/bot"})
    assert config["telegram.token"] == "2:env" and config["telegram.base_url"] == "http://b/bot"


def test_example_config_loads_and_documents_every_key():
    example = ROOT / "config.example.yaml"
    config = load_config(example, environ={})
    assert config.source == str(example)
    text = example.read_text(encoding="utf-8")
    for setting in SETTINGS:
        leaf = setting.key.rsplit(".", 1)[-1]
        assert re.search(rf"^\s*{leaf}:", text, flags=re.M), f"{setting.key} is not in config.example.yaml"
        if setting.env:
            assert setting.env in text, f"{setting.env} is not documented"


def test_config_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(UserError, match="mapping"):
        load_config(path, environ={})


def test_stats_prints_unanswered_and_votes(tmp_path):
    from bot.store import Store

    store = Store(tmp_path / "data" / "bot.sqlite3")
    store.record_unanswered("怎么买火车票 13812345678", "zh")
    store.record_unanswered("怎么买火车票 13812345678", "zh")
    store.record_vote("ban-appeal", 1, user_id=5)
    store.close()
    result = run_bot(["stats"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2  怎么买火车票 [手机号]" in result.stdout and "ban-appeal" in result.stdout


def test_a_rejected_token_is_one_clear_line(fake_api, tmp_path):
    result = run_bot(["run"], tmp_path, TELEGRAM_BOT_TOKEN="999:wrong-token", TELEGRAM_BASE_URL=f"{fake_api.url}/bot")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: Telegram rejected the token")
    assert "Traceback" not in result.stderr and "wrong-token" not in result.stderr

"""The terminal: ask, ask --json, ask --json - and eval, on friendly and hostile input."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from bot.__main__ import main

from .conftest import DATA


def run_cli(argv: list[str], stdin: bytes | None = None, monkeypatch=None) -> tuple[int, str]:
    out = io.StringIO()
    if stdin is not None:
        fake = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8", errors="strict")
        monkeypatch.setattr(sys, "stdin", fake)
    code = main(argv, out)
    return code, out.getvalue()


def test_ask_prints_the_card_a_person_reads():
    code, text = run_cli(["ask", "我的微信号被封了，要怎么申诉"])
    assert code == 0
    assert "【" in text and "官方渠道" in text


def test_ask_json_has_the_documented_fields():
    code, text = run_cli(["ask", "--json", "someone wants to buy my SIM card for 200 yuan"])
    obj = json.loads(text)
    assert code == 0
    assert set(obj) >= {"topic", "decision", "score", "title", "answer", "alternatives"}
    assert obj["topic"] == "sell-sim-card" and obj["decision"] in ("answer", "suggest")
    assert obj["lang"] == "en" and obj["title"]
    assert all(set(a) == {"topic", "score"} for a in obj["alternatives"]) and len(obj["alternatives"]) <= 3


def test_out_of_scope_json_has_null_topic():
    code, text = run_cli(["ask", "--json", "推荐一家好吃的火锅店"])
    obj = json.loads(text)
    assert obj["topic"] is None and obj["decision"] == "none" and obj["title"] is None


def test_lang_flag_forces_the_answer_language(kb):
    _, text = run_cli(["ask", "--json", "--lang", "en", "微信被封了里面的钱怎么拿出来"])
    obj = json.loads(text)
    topic = kb.topics[obj["topic"]]
    assert obj["answer"] == topic.answer.en


def test_batch_mode_answers_every_line_in_order_even_hostile_ones(monkeypatch):
    lines = [
        "微信被封了怎么办".encode(),
        b"",
        ("啊" * 100_000).encode(),
        "😀😀😀🙈".encode(),
        b"\x00\x01\x02\x1b[31m\x7f",
        b"\xff\xfe\xfa invalid utf-8 \xc3\x28",
        "<b>html</b> &amp; <script>alert(1)</script>".encode(),
        "is it legal to rent out my phone number".encode(),
    ]
    code, text = run_cli(["ask", "--json", "-"], stdin=b"\n".join(lines) + b"\n", monkeypatch=monkeypatch)
    assert code == 0
    out = [json.loads(line) for line in text.splitlines()]
    assert len(out) == len(lines)
    assert out[0]["topic"] == "ban-appeal"
    assert [o["decision"] for o in out[1:6]] == ["none"] * 5
    assert out[7]["topic"] == "sell-sim-card"


def test_invalid_utf8_on_stdin_in_a_real_process():
    result = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--json", "-"],
        input=b"\xff\xfe\n\xe5\xbe\xae\xe4\xbf\xa1\xe8\xa2\xab\xe5\xb0\x81\n",
        capture_output=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    assert len(result.stdout.decode().splitlines()) == 2


def test_eval_prints_accuracy_and_misses():
    code, text = run_cli(["eval", str(DATA / "dev.yaml")])
    assert code == 0
    assert "in-scope top-1 accuracy" in text and "out-of-scope rejection" in text


def test_eval_on_a_missing_file_is_one_clear_line(tmp_path, capsys):
    code = main(["eval", str(tmp_path / "nope.yaml")], io.StringIO())
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.yaml" in err[0]


def test_chat_session_answers_and_quits():
    answers = iter(["QQ被冻结了怎么申诉", "topics", "1", "lang en", "how long does a ban last", "quit"])
    out = io.StringIO()
    from bot.__main__ import build_parser, cmd_chat

    args = build_parser().parse_args(["chat"])
    assert cmd_chat(args, out, read=lambda prompt: next(answers)) == 0
    text = out.getvalue()
    assert "官方渠道" in text and "Official channels" in text and "ban-appeal" in text


def test_traditional_questions_get_traditional_answers():
    code, text = run_cli(["ask", "--json", "我的微信帳號被限制登入，要怎麼申請解封？"])
    obj = json.loads(text)
    assert code == 0 and obj["topic"] == "ban-appeal" and obj["lang"] == "zh-Hant"
    assert "申訴" in obj["title"] + obj["answer"] and "申诉" not in obj["answer"]
    code, text = run_cli(["ask", "我個微信俾人封咗，點算？"])
    assert "申訴" in text and "申诉" not in text


def test_lang_option_accepts_traditional_and_common_spellings():
    for value in ("zh-Hant", "zh-TW", "繁體"):
        code, text = run_cli(["ask", "--json", "--lang", value, "微信被封了怎么申诉"])
        assert code == 0 and json.loads(text)["lang"] == "zh-Hant"
    code, text = run_cli(["ask", "--json", "--lang", "zh", "我的微信帳號被限制登入"])
    assert json.loads(text)["lang"] == "zh" and "申诉" in json.loads(text)["answer"]


def test_unknown_lang_is_a_usage_error(capsys):
    try:
        main(["ask", "--lang", "klingon", "hi"], io.StringIO())
    except SystemExit as exc:
        assert exc.code == 2
    assert "unknown language" in capsys.readouterr().err


def test_chat_switches_to_traditional():
    lines = iter(["lang zh-Hant", "微信被封了怎么申诉", "quit"])
    out = io.StringIO()
    from bot.__main__ import build_parser, cmd_chat

    code = cmd_chat(build_parser().parse_args(["chat"]), out, read=lambda _prompt: next(lines))
    assert code == 0 and "language: zh-Hant" in out.getvalue() and "申訴" in out.getvalue()


def test_eval_cross_validates_and_summarises_confusions():
    code, text = run_cli(["eval", "--folds", "3", str(DATA / "dev.yaml")])
    assert code == 0
    assert "cross-validation" in text and "most frequent confusions" in text
    assert text.count("in-scope top-1 accuracy") == 2


BAD = b"\xff\xfe\xe5\xbe"  # not UTF-8: a stray byte order mark and half a character


@pytest.mark.parametrize("argv, stdin", [
    ([b"ask", BAD + "微信被封了怎么申诉".encode()], None),
    ([b"ask", b"--json", BAD], None),
    ([b"ask", b"--lang", b"en", BAD], None),
    ([b"check-message", BAD + "高价收购手机卡".encode()], None),
    ([b"check-message", b"--json", BAD], None),
    ([b"check-message", b"--json", b"-"], BAD + b"\n" + "收手机卡".encode() + BAD + b"\n"),
    ([b"ask", b"--json", b"-"], BAD + b"\n"),
    ([b"chat"], BAD + b"\n" + "微信被封了".encode() + BAD + b"\nlang " + BAD + b"\nquit\n"),
    ([b"eval", b"/tmp/" + BAD + b".yaml"], None),
    ([b"check", BAD], None),
    ([b"--kb", BAD, b"ask", b"x"], None),
    ([b"run", b"--config", BAD + b".yaml"], None),
    ([b"stats", b"--config", BAD + b".yaml"], None),
])
def test_invalid_utf8_anywhere_gives_an_answer_or_one_clear_line(argv, stdin, tmp_path):
    import os

    result = subprocess.run([sys.executable, "-m", "bot", *argv], input=stdin or b"", capture_output=True, timeout=60,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(DATA.parent.parent)})
    err = result.stderr.decode("utf-8")
    assert "Traceback" not in err
    result.stdout.decode("utf-8")  # what is printed is valid UTF-8
    if result.returncode == 0:
        assert result.stdout.strip()
    else:
        assert result.returncode == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err


def test_traditional_wording_fixes_what_opencc_gets_wrong(kb):
    # The corrections are the knowledge base's (traditional.yaml); tests/test_traditional_wording.py renders everything.
    from bot.languages import localize

    assert localize("卖、租、借手机卡", "zh-Hant", kb.wording) == "賣、租、借手機卡"
    assert localize("卖、租、借手机卡", "zh-HK", kb.wording) == "賣、租、借手機卡"
    assert localize("账号被封", "zh-Hant", kb.wording) == "帳號被封"

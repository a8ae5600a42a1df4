"""Personal data a user types never reaches the database or a log line, at any log level."""

from __future__ import annotations

import signal

import pytest

from bot.privacy import mask_personal_data

from .test_bot_process import start_bot

# Every kind of personal data the masking covers, as people write it.
SECRETS = {
    "lily.wang88@qq.com": "[邮箱]",
    "QQ 3282123456": "QQ [号码]",
    "QQ号 12345": "QQ号 [号码]",
    "wxid_abcd1234xyz": "[微信号]",
    "vx: lily_88": "vx: [微信号]",
    "微信号：abc12345": "微信号：[微信号]",
    "010-62345678": "[电话]",
    "0755 1234 5678": "[电话]",
    "138.1234.5678": "[手机号]",
    "139 1234 5678": "[手机号]",
    "+86 138-1234-5678": "[手机号]",
    "一三七一二三四五六七八": "[手机号]",
    "１３８１２３４５６７８": "[手机号]",
    "E12345678": "[证件号]",
    "11010519491231002X": "[身份证号]",
    "6222 0212 3456 7890 123": "[银行卡号]",
}
RAW = ["lily.wang88", "3282123456", "12345", "wxid_abcd", "lily_88", "abc12345", "62345678", "1234 5678", "1234.5678",
       "1234-5678", "一三七一二三四五六七八", "１３８１２３４５６７８", "E12345678", "11010519491231002X", "6222 0212"]


@pytest.mark.parametrize("written, masked", SECRETS.items())
def test_each_kind_of_personal_data_is_masked(written, masked):
    assert mask_personal_data(f"我的 {written} 被封了") == f"我的 {masked} 被封了"


@pytest.mark.parametrize("text", [
    "2019年10月14日，一张200元，110 和 96110",
    "报警打110，反诈专线96110，举报电话12377，微信支付客服95017",
    "一次给50000元，收益12345%，¥123456",
    "2024-05-01 12:30 被封了",
    "二〇二四年 一五一十 三五个",
    "my wechat account was banned",
    "email me at the office",
])
def test_ordinary_numbers_and_words_are_left_alone(text):
    assert mask_personal_data(text) == text


def test_personal_data_reaches_neither_the_database_nor_a_debug_log(fake_api, tmp_path):
    (tmp_path / "config.yaml").write_text("storage:\n  path: state/bot.sqlite3\nlogging:\n  level: DEBUG\n",
                                          encoding="utf-8")
    log_path = tmp_path / "bot.log"
    with log_path.open("wb") as log_file:
        proc = start_bot(fake_api, tmp_path, stderr=log_file)
    try:
        fake_api.wait_for("getUpdates", timeout=30)
        for i, secret in enumerate(SECRETS):  # unanswered questions: stored
            fake_api.private_message(40_100 + i, f"怎么买火车票 {secret}")
            fake_api.group_message(-100400 - i % 2, 40_200 + i, f"/ask 火车票怎么改签 {secret}")
        fake_api.private_message(40_002, "微信被封了怎么申诉 我的手机 138.1234.5678 邮箱 lily.wang88@qq.com")
        fake_api.private_message(40_003, "高价收购手机卡，一张200元，日结，加V: lily_88 电话 139 1234 5678")
        fake_api.inline_query(40_004, "收手机卡 lily.wang88@qq.com")
        fake_api.wait_for("sendMessage", count=2 * len(SECRETS) + 2, timeout=30)
        fake_api.wait_for("answerInlineQuery", timeout=20)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    log = log_path.read_text(encoding="utf-8")
    assert proc.returncode == 0, log[-2000:]
    database = b"".join(p.read_bytes() for p in (tmp_path / "state").glob("bot.sqlite3*"))
    assert "怎么买火车票" in log and "[手机号]" in log, "the DEBUG log did not show the updates: the test proves nothing"
    for masked in set(SECRETS.values()):
        assert f"怎么买火车票 {masked}".encode() in database and f"火车票怎么改签 {masked}".encode() in database
    for raw in RAW:
        assert raw not in log, f"{raw!r} in the log"
        assert raw.encode() not in database, f"{raw!r} in the database"


# Written to slip past a pattern: full-width or look-alike characters, a cue word
# instead of a colon, separators people put in numbers, characters nobody sees.
DISGUISED = {
    "li.na.5521＠example.com": "[邮箱]",
    "ｌｉｌｙ．ｗａｎｇ＠ｑｑ．ｃｏｍ": "[邮箱]",
    "我的微信是 tiger_2020": "我的微信是 [微信号]",
    "微信号 LilyWang": "微信号 [微信号]",
    "V: lily_88": "V: [微信号]",
    "Ｖ：ｌｉｌｙ＿８８": "Ｖ：[微信号]",
    "密码是 Hunter2Secret!": "密码是 [密码]",
    "password: Hunter2Secret": "password: [密码]",
    "QQ密码是abc12345": "QQ密码是[密码]",
    "138  1234  5678": "[手机号]",
    "138, 1234, 5678": "[手机号]",
    "138，1234，5678": "[手机号]",
    "138\u30001234\u30005678": "[手机号]",
    "138–1234–5678": "[手机号]",
    "138 - 1234 - 5678": "[手机号]",
    "138~1234~5678": "[手机号]",
    "138～1234～5678": "[手机号]",
    "138\u200b1234\u200b5678": "[手机号]",
    "1\u200c3\u200d8\u20601234\ufeff5678": "[手机号]",
}


@pytest.mark.parametrize("written, masked", DISGUISED.items())
def test_disguised_personal_data_is_masked_and_the_rest_kept_as_written(written, masked):
    assert mask_personal_data(f"救命，{written}，怎么办？") == f"救命，{masked}，怎么办？"


@pytest.mark.parametrize("text", [
    "忘记密码了怎么办",
    "密码是什么意思",
    "我的微信是被封了吗",
    "微信号被封了怎么办",
    "收入 1,380,000 这么多",
    "第1，2，3步",
    "ｖｘ支付失败",
])
def test_cue_words_and_separators_leave_ordinary_text_alone(text):
    assert mask_personal_data(text) == text

"""Pictures on Telegram: photos and image files in private chats, image ads under the group guard."""

from __future__ import annotations

import time

from . import pictures

GROUP = -100730
AD = ["兼职刷单，日结300", "先垫付，佣金马上返", "加QQ 3389127745 领任务"]


def test_a_photo_in_private_is_read_quoted_and_answered(bot_runner):
    fake, _ = bot_runner
    fake.photo_message(7101, None, data=pictures.text_picture(AD))
    quoted, verdict = fake.wait_for("sendMessage", count=2, timeout=30)
    assert quoted.params["text"].startswith("图里写着：兼职刷单")
    assert "高风险" in verdict.params["text"]
    assert fake.calls_for("getFile") and not fake.rejections


def test_an_image_sent_as_a_file_with_a_qr_code_is_explained(bot_runner):
    fake, _ = bot_runner
    fake.document_message(7102, pictures.qr_picture("https://weixin.qq.com.safe-login.top/verify"),
                          mime_type="image/png", file_name="code.png")
    [reply] = fake.wait_for("sendMessage", timeout=30)
    text = reply.params["text"]
    assert "高风险" in text and "safe-login.top" in text and "qq.com" in text
    assert not fake.rejections


def test_a_broken_picture_gets_one_line_and_the_next_user_is_answered(bot_runner):
    fake, _ = bot_runner
    fake.document_message(7103, pictures.truncated_jpeg(), mime_type="image/jpeg", file_name="cut.jpg")
    [notice] = fake.wait_for("sendMessage", timeout=30)
    assert notice.params["text"] == "That picture is damaged or incomplete. Please take the screenshot again."  # no language_code: English
    fake.private_message(7104, "微信被封了怎么申诉")
    calls = fake.wait_for("sendMessage", count=2, timeout=30)
    assert "?start=ban-appeal" in calls[-1].params["text"]
    assert not fake.rejections


def test_a_file_too_big_to_download_is_refused_without_reading(bot_runner):
    fake, _ = bot_runner
    fake.document_message(7105, pictures.over_ten_megabytes(), mime_type="image/jpeg", file_name="huge.jpg")
    [notice] = fake.wait_for("sendMessage", timeout=30)
    assert "10 MB" in notice.params["text"] and not fake.calls_for("getFile")


def test_the_guard_screens_an_image_ad_without_a_caption(bot_runner):
    fake, runner = bot_runner
    runner.store.put(f"guard:{GROUP}", "on")
    fake.photo_message(7106, None, chat_id=GROUP, data=pictures.text_picture(AD))
    [warning] = fake.wait_for("sendMessage", timeout=30)
    assert warning.params["chat_id"] == GROUP and "?start=" in warning.params["text"]
    assert not fake.rejections


def test_the_guard_leaves_a_harmless_picture_and_a_group_without_it_alone(bot_runner):
    fake, runner = bot_runner
    runner.store.put(f"guard:{GROUP}", "on")
    fake.photo_message(7107, None, chat_id=GROUP, data=pictures.text_picture(["周六上午九点，小区广场义诊，欢迎参加"]))
    fake.photo_message(7108, None, chat_id=-100731, data=pictures.text_picture(AD))  # no guard in this group
    fake.wait_for("getFile", timeout=30)
    reader = runner.application.bot_data["services"].conversation.pictures
    deadline = time.monotonic() + 30
    while reader.pending and time.monotonic() < deadline:  # the picture read, and its verdict given
        time.sleep(0.05)
    fake.private_message(7109, "/help")
    fake.wait_for("sendMessage", timeout=30)
    assert [c["chat_id"] for c in fake.calls_for("sendMessage")] == [7109]
    assert len(fake.calls_for("getFile")) == 1  # only the guarded group's picture was read

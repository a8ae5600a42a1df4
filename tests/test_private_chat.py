"""A banned user talks to the bot in private: cards, suggestions, honest no-answers, languages."""

from __future__ import annotations

import html
import json

from .fake_bot_api import iter_buttons


def sent_texts(fake) -> list[str]:
    return [c["text"] for c in fake.calls_for("sendMessage")]


def buttons_of(params) -> list[dict]:
    markup = params.get("reply_markup")
    if isinstance(markup, str):
        markup = json.loads(markup)
    return list(iter_buttons(markup))


def test_question_gets_the_answer_first_then_the_full_card_with_share_link(bot_runner):
    fake, runner = bot_runner
    kb = runner.application.bot_data["services"].kb
    fake.private_message(1001, "我的微信突然被封号了，怎么申诉解封？")
    [call] = fake.wait_for("sendMessage")
    params = call.params
    assert params["parse_mode"] == "HTML"
    # The first thing in the message is the direct answer, then the card's title; the steps are one tap away.
    assert params["text"].startswith("<b>" + html.escape(kb.topics["ban-appeal"].first.zh) + "</b>")
    assert kb.topics["ban-appeal"].answer.zh[:20] not in params["text"]
    data = [b.get("callback_data") for b in buttons_of(params)]
    assert data[0] == "f:ban-appeal:zh"
    assert "v:ban-appeal:1" in data and "v:ban-appeal:0" in data and "m" in data
    assert any(d and d.startswith("t:") for d in data)
    # The short form's title is the card's deep link; the full card ends with it as the share link.
    assert 'href="https://t.me/SafetyTestBot?start=ban-appeal"' in params["text"]
    fake.callback_query(1001, "f:ban-appeal:zh")
    full = fake.wait_for("sendMessage", count=2)[1:]
    fake.wait_for(lambda c: c.method == "sendMessage" and ">https://t.me/SafetyTestBot?start=ban-appeal</a>" in c.params["text"])
    text = "".join(c.params["text"] for c in fake.calls if c.method == "sendMessage" and c is not call)
    assert html.escape(kb.topics["ban-appeal"].answer.zh.splitlines()[0]) in text and full
    assert not fake.rejections


def test_english_question_gets_an_english_card(bot_runner):
    fake, runner = bot_runner
    kb = runner.application.bot_data["services"].kb
    fake.private_message(1002, "someone on the street asked me to scan a QR code to help him register", language_code="zh-hans")
    [call] = fake.wait_for("sendMessage")
    assert html.escape(kb.topics["scan-code-stranger"].first.en) in call.params["text"]
    [full_button] = [b["callback_data"] for b in buttons_of(call.params) if b["callback_data"].startswith("f:")]
    assert full_button == "f:scan-code-stranger:en"
    fake.callback_query(1002, full_button)
    full = fake.wait_for("sendMessage", count=2)[1]
    assert "Official channels" in full.params["text"]
    assert not fake.rejections


def test_vague_question_offers_did_you_mean_buttons(bot_runner):
    fake, runner = bot_runner
    matcher = runner.application.bot_data["services"].matcher
    # Short, vague questions; at least one of them must leave the matcher unsure.
    question = next(q for q in ["封号", "被封了", "账号出问题了", "微信被限制", "QQ冻结", "解封", "解封号"]
                    if matcher.match_question(q).decision == "suggest")
    match = matcher.match_question(question)
    fake.private_message(1003, question)
    [call] = fake.wait_for("sendMessage")
    data = [b["callback_data"] for b in buttons_of(call.params)]
    assert data[0] == f"t:{match.topic}" and len(data) >= 2
    assert not fake.rejections


def test_out_of_scope_gets_honest_no_answer_with_channels_and_is_stored_masked(bot_runner):
    fake, runner = bot_runner
    fake.private_message(1004, "帮我订一张明天去上海的火车票，联系电话13812345678")
    [call] = fake.wait_for("sendMessage")
    text = call.params["text"]
    assert "110" in text and "96110" in text
    assert any(b["callback_data"].startswith("th:") for b in buttons_of(call.params))
    [(question, count)] = runner.store.top_unanswered()
    assert "13812345678" not in question and "[手机号]" in question


def test_sticker_gets_a_text_only_hint(bot_runner):
    fake, _ = bot_runner
    fake.sticker_message(1005)
    [call] = fake.wait_for("sendMessage")
    assert "not voice, video or stickers" in call.params["text"]  # the fake's sticker sender has no language_code


def test_hostile_text_never_breaks_the_bot(bot_runner):
    fake, _ = bot_runner
    hostile = [
        "<b>微信被封</b> & <script>alert(1)</script> 怎么办 &amp; &lt;",
        "微信被封了 " + "😀" * 3000,
        "שלום مرحبا 微信 被封了 \u202e怎么办",
        "啊" * 10_000,
        "\x00\x07 控制字符 \x1b[31m",
    ]
    for i, text in enumerate(hostile):
        fake.private_message(1100 + i, text)
    fake.wait_for("sendMessage", count=len(hostile))
    assert not fake.rejections, fake.summary()
    chats = {c["chat_id"] for c in fake.calls_for("sendMessage")}
    assert chats == {1100 + i for i in range(len(hostile))}


def test_topic_browser_by_theme_and_every_button_answered(bot_runner):
    fake, _ = bot_runner
    fake.private_message(1006, "/topics")
    [menu] = fake.wait_for("sendMessage")
    themes = [b["callback_data"] for b in buttons_of(menu.params)]
    assert "th:banned" in themes
    fake.callback_query(1006, "th:offers")
    calls = fake.wait_for("sendMessage", count=2)
    topic_buttons = [b["callback_data"] for b in buttons_of(calls[-1].params)]
    assert "t:sell-sim-card" in topic_buttons
    fake.callback_query(1006, "t:sell-sim-card")
    calls = fake.wait_for("sendMessage", count=3)
    assert "?start=sell-sim-card" in calls[-1].params["text"]
    fake.callback_query(1006, "no-such-prefix:x")
    fake.wait_for("answerCallbackQuery", count=3)
    assert not fake.rejections, fake.summary()


def test_feedback_is_one_vote_per_user_and_card(bot_runner):
    fake, runner = bot_runner
    for _ in range(8):
        fake.callback_query(1006, "v:ban-appeal:0")
    fake.callback_query(1007, "v:sell-sim-card:1")
    fake.callback_query(1007, "v:sell-sim-card:0")  # a change of mind replaces the first vote
    fake.callback_query(1008, "v:sell-sim-card:1")
    answers = fake.wait_for("answerCallbackQuery", count=11)
    assert all(a.params.get("text") for a in answers)
    votes = runner.store.votes_by_topic()
    assert votes["sell-sim-card"] == (1, 1) and votes["ban-appeal"] == (0, 1)


def test_appeal_and_report_commands(bot_runner):
    fake, _ = bot_runner
    fake.private_message(1009, "/appeal")
    [card] = fake.wait_for("sendMessage")
    assert "?start=ban-appeal" in card.params["text"]
    fake.private_message(1009, "/report")
    calls = fake.wait_for("sendMessage", count=2)
    data = [b["callback_data"] for b in buttons_of(calls[-1].params)]
    assert data == ["t:report-gambling", "t:report-porn-contraband", "t:report-fraud-general"]


def test_lang_command_switches_the_answer_language(bot_runner):
    fake, _ = bot_runner
    fake.private_message(1010, "/lang")
    fake.wait_for("sendMessage")
    fake.callback_query(1010, "l:en")
    fake.wait_for("answerCallbackQuery")
    fake.private_message(1010, "微信被封了怎么申诉")
    calls = fake.wait_for("sendMessage", count=2)
    assert ">Account banned" in calls[-1].params["text"]
    assert "f:ban-appeal:en" in json.dumps(calls[-1].params["reply_markup"])


def test_language_falls_back_to_telegram_language_code(bot_runner):
    fake, _ = bot_runner
    fake.private_message(1011, "/help", language_code="en")
    fake.private_message(1012, "/help", language_code="zh-hant")
    fake.private_message(1014, "/help", language_code="zh-hans")
    calls = fake.wait_for("sendMessage", count=3)
    by_chat = {c.params["chat_id"]: c.params["text"] for c in calls}
    assert "Just send your question" in by_chat[1011]
    assert "直接傳送" in by_chat[1012] and "直接发送" in by_chat[1014]


def test_a_question_in_traditional_is_answered_in_traditional(bot_runner):
    fake, _ = bot_runner
    fake.private_message(1015, "我的微信帳號被限制登入，要怎麼申請解封？")
    fake.private_message(1016, "我個微信俾人封咗，點算？")
    calls = fake.wait_for("sendMessage", count=2)
    by_chat = {c.params["chat_id"]: c.params["text"] for c in calls}
    assert "申訴" in by_chat[1015] and "申诉" not in by_chat[1015]
    assert "帳號" in by_chat[1015]  # Taiwan wording, not OpenCC's 賬號
    assert "申訴" in by_chat[1016] and "申诉" not in by_chat[1016]


def test_lang_command_offers_traditional(bot_runner):
    fake, _ = bot_runner
    fake.private_message(1017, "/lang")
    menu = fake.wait_for("sendMessage")[-1]
    data = [b["callback_data"] for row in menu.params["reply_markup"]["inline_keyboard"] for b in row]
    assert "l:zh-Hant" in data
    fake.callback_query(1017, "l:zh-Hant")
    fake.wait_for("answerCallbackQuery")
    fake.private_message(1017, "微信被封了怎么申诉")
    calls = fake.wait_for("sendMessage", count=2)
    assert "申訴" in calls[-1].params["text"]


def test_commands_are_registered_in_chinese_and_english(bot_runner):
    fake, _ = bot_runner
    calls = fake.wait_for("setMyCommands", count=4)
    langs = {c.params.get("language_code") for c in calls}
    assert langs == {None, "zh"}


def test_follow_up_question_after_a_card(bot_runner):
    fake, _ = bot_runner
    fake.private_message(1013, "我的微信号被封了怎么申诉")
    fake.wait_for("sendMessage")
    fake.private_message(1013, "那里面的零钱怎么取出来")
    calls = fake.wait_for("sendMessage", count=2)
    assert "f:banned-funds-withdrawal:zh" in json.dumps(calls[-1].params["reply_markup"])

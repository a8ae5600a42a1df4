"""Tests of the fake Bot API itself: it must refuse what Telegram refuses.

A fake that accepts everything would let the bot's own tests pass while the
real service rejects its messages, so each rule the fake enforces is pinned
here from both sides (a valid call is accepted, the invalid one is refused and
recorded), driven through the real ``telegram.Bot`` or raw HTTP.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Update,
)
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
)

from .fake_bot_api import FakeBotAPI, UploadedFile, parse_html

T = TypeVar("T")
USER = 1001
GROUP = -1001234567890


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    with FakeBotAPI(poll_cap=0.5) as server:
        yield server


def make_bot(fake: FakeBotAPI) -> Bot:
    return Bot(fake.token, base_url=f"{fake.url}/bot", base_file_url=f"{fake.url}/file/bot")


def run(fake: FakeBotAPI, scenario: Callable[[Bot], Awaitable[T]]) -> T:
    """Run ``scenario(bot)`` with an initialised real PTB Bot against ``fake``."""

    async def main() -> T:
        async with make_bot(fake) as bot:
            return await scenario(bot)

    return asyncio.run(main())


def expect_rejection(
    fake: FakeBotAPI, scenario: Callable[[Bot], Awaitable[Any]], description: str
) -> None:
    """The call raises BadRequest and is recorded with exactly ``description``."""
    with pytest.raises(BadRequest):
        run(fake, scenario)
    assert [r.description for r in fake.rejections] == [description]


def post(fake: FakeBotAPI, method: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{fake.url}/bot{fake.token}/{method}", **kwargs)


def keyboard(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([list(buttons)])


def article(result_id: str, text: str, parse_mode: str | None = None) -> InlineQueryResultArticle:
    return InlineQueryResultArticle(
        result_id, "title", InputTextMessageContent(text, parse_mode=parse_mode)
    )


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


# --------------------------------------------------------------------------- basics


def test_get_me_reports_the_configured_bot(fake: FakeBotAPI) -> None:
    me = run(fake, lambda bot: bot.get_me())
    assert me.username == "SafetyTestBot"
    assert me.is_bot
    assert me.id == int(fake.token.split(":")[0])
    assert me.supports_inline_queries is True
    assert me.can_read_all_group_messages is False


def test_unknown_method_is_404_like_telegram(fake: FakeBotAPI) -> None:
    response = post(fake, "sendTelepathy", data={"chat_id": "1"})
    assert response.status_code == 404
    assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert [r.method for r in fake.rejections] == ["sendTelepathy"]


def test_wrong_token_is_unauthorized(fake: FakeBotAPI) -> None:
    response = httpx.post(f"{fake.url}/bot1:wrong/getMe")
    assert response.status_code == 401
    assert response.json()["ok"] is False


@pytest.mark.parametrize(
    ("data", "missing"),
    [({"text": "hi"}, "chat_id"), ({"chat_id": "5"}, "text")],
)
def test_missing_required_field_is_rejected(
    fake: FakeBotAPI, data: dict[str, str], missing: str
) -> None:
    response = post(fake, "sendMessage", data=data)
    assert response.status_code == 400
    assert response.json() == {
        "ok": False,
        "error_code": 400,
        "description": f"Bad Request: {missing} is required",
    }
    assert fake.rejections[0].method == "sendMessage"
    assert fake.calls_for("sendMessage") == []


def test_form_values_are_decoded_by_spec_type(fake: FakeBotAPI) -> None:
    # `text` is a String in the spec: it must stay a string even when it looks like JSON.
    response = post(
        fake,
        "sendMessage",
        data={
            "chat_id": "5",
            "text": "123",
            "disable_notification": "true",
            "reply_markup": json.dumps(
                {"inline_keyboard": [[{"text": "a", "url": "https://a.b"}]]}
            ),
        },
    )
    assert response.json()["ok"] is True
    assert response.json()["result"]["text"] == "123"
    (params,) = fake.calls_for("sendMessage")
    assert params["chat_id"] == 5
    assert params["text"] == "123"
    assert params["disable_notification"] is True
    assert params["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://a.b"


def test_json_body_is_accepted(fake: FakeBotAPI) -> None:
    response = post(fake, "sendMessage", json={"chat_id": 5, "text": '{"a": 1}'})
    assert response.json()["result"]["text"] == '{"a": 1}'
    assert fake.calls_for("sendMessage") == [{"chat_id": 5, "text": '{"a": 1}'}]


def test_malformed_nested_json_is_rejected(fake: FakeBotAPI) -> None:
    response = post(fake, "sendMessage", data={"chat_id": "5", "text": "x", "reply_markup": "{"})
    assert response.status_code == 400
    assert "reply_markup" in response.json()["description"]


def test_wrongly_typed_integer_is_rejected(fake: FakeBotAPI) -> None:
    response = post(fake, "deleteMessage", data={"chat_id": "5", "message_id": "abc"})
    assert response.status_code == 400
    assert "message_id" in response.json()["description"]


# --------------------------------------------------------------------------- HTML


@pytest.mark.parametrize(
    ("html", "visible", "entity_types"),
    [
        ("<b>粗</b> <i>斜</i> <u>u</u> <s>s</s>", "粗 斜 u s",
         ["bold", "italic", "underline", "strikethrough"]),
        ("<STRONG>a</STRONG><em>b</em><ins>c</ins><strike>d</strike><del>e</del>", "abcde",
         ["bold", "italic", "underline", "strikethrough", "strikethrough"]),
        ('<a href="https://example.com/?a=1&amp;b=2">link</a>', "link", ["text_link"]),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st",
         ["spoiler", "spoiler"]),
        ('<pre><code class="language-python">x = 1 &lt; 2</code></pre>', "x = 1 < 2", ["pre"]),
        ("<code>a&amp;b</code>", "a&b", ["code"]),
        ("<blockquote expandable>引用</blockquote>", "引用", ["expandable_blockquote"]),
        ('<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>', "👍", ["custom_emoji"]),
        ("<b>bold <i>both</i></b>", "bold both", ["bold", "italic"]),
        ("&lt;&gt;&amp;&quot;&#65;&#x42;", '<>&"AB', []),
    ],
)
def test_valid_html_is_accepted_and_rendered(
    fake: FakeBotAPI, html: str, visible: str, entity_types: list[str]
) -> None:
    message = run(fake, lambda bot: bot.send_message(USER, html, parse_mode="HTML"))
    assert message.text == visible
    assert [e.type for e in message.entities] == entity_types
    assert not fake.rejections


def test_html_entity_offsets_are_utf16() -> None:
    # 😀 is two UTF-16 code units, so the bold entity starts at offset 2.
    text, entities = parse_html("😀<b>x</b>")
    assert text == "😀x"
    assert entities == [{"type": "bold", "offset": 2, "length": 1}]


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<div>x</div>", 'Unsupported start tag "div" at byte offset 0'),
        ("<b>x", "Can't find end tag corresponding to start tag \"b\""),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("Tom & Jerry", 'Character "&" must be escaped as "&amp;" at byte offset 4'),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("2 > 1", 'Character ">" must be escaped as "&gt;" at byte offset 2'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a>x</a>", 'Tag "a" must have a non-empty "href" attribute at byte offset 0'),
        ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;" at byte offset 1'),
        ("line<br/>", 'Unsupported start tag "br" at byte offset 4'),
        ('<a href="https://x.y/?a=1&b=2">x</a>', 'Character "&" must be escaped as "&amp;"'),
        ("用户 <script>", 'Unsupported start tag "script" at byte offset 7'),
    ],
)
def test_invalid_html_is_rejected(fake: FakeBotAPI, html: str, error: str) -> None:
    with pytest.raises(BadRequest, match="parse entities"):
        run(fake, lambda bot: bot.send_message(USER, html, parse_mode="html"))
    (rejection,) = fake.rejections
    assert rejection.description.startswith("Bad Request: can't parse entities: ")
    assert error in rejection.description
    assert fake.calls_for("sendMessage") == []


def test_without_parse_mode_markup_characters_are_plain_text(fake: FakeBotAPI) -> None:
    text = "1 < 2 & <div> is fine"
    message = run(fake, lambda bot: bot.send_message(USER, text))
    assert message.text == text
    assert not fake.rejections


def test_unknown_parse_mode_is_rejected(fake: FakeBotAPI) -> None:
    expect_rejection(
        fake,
        lambda bot: bot.send_message(USER, "x", parse_mode="Textile"),
        'Bad Request: unsupported parse_mode "Textile"',
    )


def test_caption_html_is_validated_and_upload_recorded(fake: FakeBotAPI) -> None:
    photo = b"\x89PNG fake image bytes"
    message = run(
        fake, lambda bot: bot.send_photo(USER, photo, caption="<i>截图</i>", parse_mode="HTML")
    )
    assert message.caption == "截图"
    assert message.photo
    (params,) = fake.calls_for("sendPhoto")
    assert isinstance(params["photo"], UploadedFile)
    assert params["photo"].data == photo
    assert params["caption"] == "<i>截图</i>"

    fake.clear_recordings()
    with pytest.raises(BadRequest, match="parse entities"):
        run(fake, lambda bot: bot.send_photo(USER, photo, caption="a < b", parse_mode="HTML"))
    assert len(fake.rejections) == 1


def test_caption_limit_is_1024(fake: FakeBotAPI) -> None:
    run(fake, lambda bot: bot.send_photo(USER, b"img", caption="c" * 1024))
    expect_rejection(
        fake,
        lambda bot: bot.send_photo(USER, b"img", caption="c" * 1025),
        "Bad Request: message caption is too long",
    )


# --------------------------------------------------------------------------- text length


@pytest.mark.parametrize("text", ["a" * 4096, "字" * 4096, "x"])
def test_message_text_within_limit_is_accepted(fake: FakeBotAPI, text: str) -> None:
    message = run(fake, lambda bot: bot.send_message(USER, text))
    assert message.text == text
    assert not fake.rejections


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("a" * 4097, "Bad Request: message is too long"),
        ("字" * 4097, "Bad Request: message is too long"),
        ("", "Bad Request: message text is empty"),
        ("  \n ", "Bad Request: message text is empty"),
    ],
)
def test_message_text_outside_limit_is_rejected(
    fake: FakeBotAPI, text: str, description: str
) -> None:
    expect_rejection(fake, lambda bot: bot.send_message(USER, text), description)


@pytest.mark.parametrize(
    "html",
    [
        "<b>" + "a" * 4096 + "</b>",
        "&amp;" * 4096,  # 20480 raw characters, 4096 visible
        '<a href="https://example.com/">' + "a" * 4096 + "</a>",
    ],
)
def test_html_limit_counts_visible_text(fake: FakeBotAPI, html: str) -> None:
    message = run(fake, lambda bot: bot.send_message(USER, html, parse_mode="HTML"))
    assert len(message.text) == 4096
    assert not fake.rejections


@pytest.mark.parametrize("html", ["<b>" + "a" * 4097 + "</b>", "&amp;" * 4097, "<b></b>"])
def test_html_visible_text_outside_limit_is_rejected(fake: FakeBotAPI, html: str) -> None:
    with pytest.raises(BadRequest):
        run(fake, lambda bot: bot.send_message(USER, html, parse_mode="HTML"))
    (rejection,) = fake.rejections
    assert rejection.description in (
        "Bad Request: message is too long",
        "Bad Request: message text is empty",
    )


def test_edit_message_text_rules(fake: FakeBotAPI) -> None:
    markup = keyboard(InlineKeyboardButton("ok", callback_data="ok"))

    async def scenario(bot: Bot) -> None:
        sent = await bot.send_message(USER, "<b>v1</b>", parse_mode="HTML", reply_markup=markup)
        assert sent.reply_markup == markup
        with pytest.raises(BadRequest, match="too long"):
            await bot.edit_message_text("a" * 4097, USER, sent.message_id)
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text(
                "<b>v1</b>", USER, sent.message_id, parse_mode="HTML", reply_markup=markup
            )
        # Same text without reply_markup is a change: Telegram drops the keyboard.
        edited = await bot.edit_message_text("<b>v1</b>", USER, sent.message_id, parse_mode="HTML")
        assert edited.text == "v1"
        assert edited.reply_markup is None
        assert edited.edit_date is not None
        with pytest.raises(BadRequest, match="(?i)message to edit not found"):
            await bot.edit_message_text("v2", USER, 999_999)

    run(fake, scenario)
    assert [r.description.split(":")[1].strip() for r in fake.rejections] == [
        "message is too long",
        "message is not modified",
        "message to edit not found",
    ]


def test_user_messages_cannot_be_edited_by_the_bot(fake: FakeBotAPI) -> None:
    update = fake.private_message(USER, "hello")
    message_id = update["message"]["message_id"]
    expect_rejection(
        fake,
        lambda bot: bot.edit_message_text("changed", USER, message_id),
        "Bad Request: message can't be edited",
    )


# --------------------------------------------------------------------------- keyboards


@pytest.mark.parametrize("data", ["x" * 64, "好" * 21, "a"])  # 64, 63, 1 bytes
def test_callback_data_up_to_64_bytes_is_accepted(fake: FakeBotAPI, data: str) -> None:
    markup = keyboard(InlineKeyboardButton("b", callback_data=data))
    message = run(fake, lambda bot: bot.send_message(USER, "pick", reply_markup=markup))
    assert message.reply_markup.inline_keyboard[0][0].callback_data == data
    assert not fake.rejections


@pytest.mark.parametrize("data", ["x" * 65, "好" * 22, ""])  # 65, 66, 0 bytes
def test_callback_data_outside_1_to_64_bytes_is_rejected(fake: FakeBotAPI, data: str) -> None:
    markup = keyboard(InlineKeyboardButton("ok", callback_data="ok"),
                      InlineKeyboardButton("b", callback_data=data))
    expect_rejection(
        fake,
        lambda bot: bot.send_message(USER, "pick", reply_markup=markup),
        "Bad Request: BUTTON_DATA_INVALID",
    )


@pytest.mark.parametrize(
    ("button", "error"),
    [
        (InlineKeyboardButton("no action"), "Text buttons are unallowed in the inline keyboard"),
        (InlineKeyboardButton("two", url="https://a.b", callback_data="x"),
         "got url, callback_data"),
        (InlineKeyboardButton("", callback_data="x"), "text must be non-empty"),
    ],
)
def test_inline_button_needs_text_and_exactly_one_action(
    fake: FakeBotAPI, button: InlineKeyboardButton, error: str
) -> None:
    with pytest.raises(BadRequest):
        run(fake, lambda bot: bot.send_message(USER, "x", reply_markup=keyboard(button)))
    (rejection,) = fake.rejections
    assert error in rejection.description


def test_other_button_kinds_are_accepted(fake: FakeBotAPI) -> None:
    markup = keyboard(
        InlineKeyboardButton("u", url="https://example.com"),
        InlineKeyboardButton("s", switch_inline_query=""),  # empty is allowed
        InlineKeyboardButton("c", switch_inline_query_current_chat="q"),
    )
    run(fake, lambda bot: bot.send_message(USER, "x", reply_markup=markup))
    assert not fake.rejections


# --------------------------------------------------------------------------- inline mode


def answer_inline(fake: FakeBotAPI, results: list[Any]) -> Callable[[Bot], Awaitable[bool]]:
    query_id = fake.inline_query(USER, "查询")["inline_query"]["id"]
    return lambda bot: bot.answer_inline_query(query_id, results)


def test_fifty_inline_results_are_accepted(fake: FakeBotAPI) -> None:
    results = [article(str(i), f"answer {i}") for i in range(50)]
    assert run(fake, answer_inline(fake, results)) is True
    assert len(fake.calls_for("answerInlineQuery")[0]["results"]) == 50
    assert not fake.rejections


@pytest.mark.parametrize(
    ("results", "description"),
    [
        ([article(str(i), "a") for i in range(51)], "Bad Request: RESULTS_TOO_MUCH"),
        ([article("same", "a"), article("same", "b")], "Bad Request: RESULT_ID_DUPLICATE"),
        ([article("x" * 65, "a")], "Bad Request: RESULT_ID_INVALID"),
        ([article("好" * 22, "a")], "Bad Request: RESULT_ID_INVALID"),
        ([article("1", "a" * 4097)], "Bad Request: message is too long"),
        ([article("1", "")], "Bad Request: message text is empty"),
    ],
)
def test_invalid_inline_answers_are_rejected(
    fake: FakeBotAPI, results: list[Any], description: str
) -> None:
    expect_rejection(fake, answer_inline(fake, results), description)


def test_inline_message_text_html_is_validated(fake: FakeBotAPI) -> None:
    long_raw = "<b>" + "a" * 4096 + "</b>"
    run(fake, answer_inline(fake, [article("1", long_raw, parse_mode="HTML")]))
    assert not fake.rejections
    with pytest.raises(BadRequest, match="parse entities"):
        run(fake, answer_inline(fake, [article("1", "<b>x</i>", parse_mode="HTML")]))
    assert len(fake.rejections) == 1


def test_inline_result_keyboard_is_validated(fake: FakeBotAPI) -> None:
    result = InlineQueryResultArticle(
        "1", "t", InputTextMessageContent("x"),
        reply_markup=keyboard(InlineKeyboardButton("b", callback_data="好" * 22)),
    )
    expect_rejection(fake, answer_inline(fake, [result]), "Bad Request: BUTTON_DATA_INVALID")


def test_inline_query_can_be_answered_once_and_only_if_known(fake: FakeBotAPI) -> None:
    answer = answer_inline(fake, [article("1", "a")])

    async def scenario(bot: Bot) -> None:
        assert await answer(bot) is True
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await answer(bot)
        with pytest.raises(BadRequest, match="(?i)query is too old"):
            await bot.answer_inline_query("424242", [article("1", "a")])

    run(fake, scenario)
    assert len(fake.rejections) == 2


# --------------------------------------------------------------------------- callbacks, commands


def test_answer_callback_query_text_limit_is_200(fake: FakeBotAPI) -> None:
    first = fake.callback_query(USER, "a")["callback_query"]["id"]
    second = fake.callback_query(USER, "b")["callback_query"]["id"]
    assert run(fake, lambda bot: bot.answer_callback_query(first, "字" * 200)) is True
    expect_rejection(
        fake,
        lambda bot: bot.answer_callback_query(second, "字" * 201),
        "Bad Request: MESSAGE_TOO_LONG",
    )


def test_valid_commands_are_stored_and_returned(fake: FakeBotAPI) -> None:
    commands = [BotCommand("start", "开始"), BotCommand("help_2", "h" * 256)]

    async def scenario(bot: Bot) -> tuple[BotCommand, ...]:
        assert await bot.set_my_commands(commands) is True
        return await bot.get_my_commands()

    assert list(run(fake, scenario)) == commands
    assert not fake.rejections


def test_hundred_commands_are_accepted(fake: FakeBotAPI) -> None:
    commands = [BotCommand(f"c{i}", "d") for i in range(100)]
    assert run(fake, lambda bot: bot.set_my_commands(commands)) is True


@pytest.mark.parametrize(
    ("commands", "description"),
    [
        ([BotCommand("Start", "d")], "Bad Request: BOT_COMMAND_INVALID"),
        ([BotCommand("with-dash", "d")], "Bad Request: BOT_COMMAND_INVALID"),
        ([BotCommand("a" * 33, "d")], "Bad Request: BOT_COMMAND_INVALID"),
        ([BotCommand("帮助", "d")], "Bad Request: BOT_COMMAND_INVALID"),
        ([BotCommand("ok", "")], "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"),
        ([BotCommand("ok", "d" * 257)], "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"),
        ([BotCommand(f"c{i}", "d") for i in range(101)], "Bad Request: BOT_COMMANDS_TOO_MUCH"),
    ],
)
def test_invalid_commands_are_rejected(
    fake: FakeBotAPI, commands: list[BotCommand], description: str
) -> None:
    expect_rejection(fake, lambda bot: bot.set_my_commands(commands), description)


# --------------------------------------------------------------------------- fault injection


# PTB 22 warns about the int-typed retry_after as soon as RetryAfter is built.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
def test_injected_429_raises_retry_after(fake: FakeBotAPI) -> None:
    fake.inject("sendMessage", status=429, retry_after=3)

    async def scenario(bot: Bot) -> None:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(USER, "first")
        assert seconds(caught.value.retry_after) == 3
        await bot.send_message(USER, "second")  # only one failure was injected

    run(fake, scenario)
    assert [(f.method, f.status) for f in fake.faults] == [("sendMessage", 429)]
    assert [p["text"] for p in fake.calls_for("sendMessage")] == ["second"]
    assert not fake.rejections


def test_injected_429_body_matches_telegram(fake: FakeBotAPI) -> None:
    fake.inject("getMe", status=429, retry_after=7)
    assert post(fake, "getMe").json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }


def test_injected_500_fails_given_number_of_times(fake: FakeBotAPI) -> None:
    fake.inject("sendMessage", status=500, times=2)

    async def scenario(bot: Bot) -> None:
        for _ in range(2):
            with pytest.raises(NetworkError):
                await bot.send_message(USER, "x")
        await bot.send_message(USER, "x")

    run(fake, scenario)
    assert [f.status for f in fake.faults] == [500, 500]
    assert len(fake.calls_for("sendMessage")) == 1
    assert post(fake, "getMe").json()["ok"] is True


def test_injected_delay_times_out_the_client(fake: FakeBotAPI) -> None:
    fake.inject("sendMessage", delay=1.0)
    with pytest.raises(TimedOut):
        run(fake, lambda bot: bot.send_message(USER, "slow", read_timeout=0.2))
    # Like Telegram, the request is still carried out after the client gave up.
    fake.wait_for("sendMessage", timeout=5)


# --------------------------------------------------------------------------- updates


def test_get_updates_returns_pushed_updates_and_honours_offset(fake: FakeBotAPI) -> None:
    fake.private_message(USER, "/start@SafetyTestBot 你好")
    fake.callback_query(USER, "menu:1")
    fake.inline_query(USER, "封号")
    fake.sticker_message(USER)

    async def scenario(bot: Bot) -> tuple[tuple[Update, ...], ...]:
        first = await bot.get_updates(timeout=5)
        again = await bot.get_updates(timeout=0)  # not confirmed yet: same updates
        rest = await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)
        after = await bot.get_updates(timeout=0)  # confirmed ones are gone for good
        return first, again, rest, after

    first, again, rest, after = run(fake, scenario)
    assert [u.update_id for u in first] == [u.update_id for u in again]
    assert len(first) == 4 and rest == () and after == ()
    message, callback, inline, sticker = first
    assert message.message.text == "/start@SafetyTestBot 你好"
    assert message.message.from_user.language_code == "zh-hans"
    (entity,) = message.message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 20)
    assert callback.callback_query.data == "menu:1"
    assert callback.callback_query.message.from_user.id == fake.bot_id
    assert inline.inline_query.query == "封号"
    assert sticker.message.sticker is not None


def test_get_updates_limit(fake: FakeBotAPI) -> None:
    for i in range(3):
        fake.private_message(USER, f"m{i}")
    updates = run(fake, lambda bot: bot.get_updates(limit=2, timeout=0))
    assert [u.message.text for u in updates] == ["m0", "m1"]


def test_long_poll_returns_as_soon_as_an_update_arrives() -> None:
    with FakeBotAPI(poll_cap=5) as fake:
        threading.Timer(0.3, fake.private_message, (USER, "late")).start()
        started = time.monotonic()
        updates = run(fake, lambda bot: bot.get_updates(timeout=5))
        elapsed = time.monotonic() - started
    assert [u.message.text for u in updates] == ["late"]
    assert 0.2 < elapsed < 2.5


def test_long_poll_wait_is_capped() -> None:
    with FakeBotAPI(poll_cap=0.3) as fake:
        started = time.monotonic()
        updates = run(fake, lambda bot: bot.get_updates(timeout=30))
        elapsed = time.monotonic() - started
    assert updates == ()
    assert elapsed < 3


def test_command_entity_only_for_latin_commands(fake: FakeBotAPI) -> None:
    assert fake.private_message(USER, "/help me")["message"]["entities"] == [
        {"type": "bot_command", "offset": 0, "length": 5}
    ]
    assert "entities" not in fake.private_message(USER, "/帮助")["message"]
    assert "entities" not in fake.private_message(USER, "hi /start")["message"]


def test_group_message_reply_and_ids(fake: FakeBotAPI) -> None:
    first = fake.group_message(GROUP, USER, "scam link")["message"]
    second = fake.group_message(GROUP, 2002, "/report", reply_to=first)["message"]
    assert second["message_id"] == first["message_id"] + 1
    assert second["chat"] == {"id": GROUP, "type": "supergroup", "title": "Test Group"}
    assert second["reply_to_message"]["message_id"] == first["message_id"]


# --------------------------------------------------------------------------- members, deletion


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        ("creator", ChatMemberOwner),
        ("administrator", ChatMemberAdministrator),
        ("member", ChatMemberMember),
        ("restricted", ChatMemberRestricted),
        ("left", ChatMemberLeft),
        ("kicked", ChatMemberBanned),
    ],
)
def test_configured_member_status_parses_in_ptb(
    fake: FakeBotAPI, status: str, cls: type
) -> None:
    fake.set_member_status(GROUP, USER, status)
    member = run(fake, lambda bot: bot.get_chat_member(GROUP, USER))
    assert type(member) is cls
    assert member.user.id == USER


def test_member_defaults(fake: FakeBotAPI) -> None:
    async def scenario(bot: Bot) -> tuple[Any, Any]:
        return await bot.get_chat_member(GROUP, USER), await bot.get_chat_member(GROUP, bot.id)

    user, me = run(fake, scenario)
    assert user.status == "member"
    assert isinstance(me, ChatMemberAdministrator) and me.can_delete_messages is True

    fake.set_member_status(GROUP, fake.bot_id, "administrator", can_delete_messages=False)
    me = run(fake, lambda bot: bot.get_chat_member(GROUP, bot.id))
    assert me.can_delete_messages is False


def test_delete_message_needs_rights_in_groups(fake: FakeBotAPI) -> None:
    spam = fake.group_message(GROUP, USER, "spam 1")["message"]["message_id"]
    assert run(fake, lambda bot: bot.delete_message(GROUP, spam)) is True

    fake.bot_can_delete_messages = False
    spam = fake.group_message(GROUP, USER, "spam 2")["message"]["message_id"]
    expect_rejection(
        fake,
        lambda bot: bot.delete_message(GROUP, spam),
        "Bad Request: message can't be deleted",
    )


def test_delete_unknown_message_is_rejected(fake: FakeBotAPI) -> None:
    expect_rejection(
        fake,
        lambda bot: bot.delete_message(GROUP, 4242),
        "Bad Request: message to delete not found",
    )


def test_get_chat_and_simple_methods(fake: FakeBotAPI) -> None:
    async def scenario(bot: Bot) -> Any:
        assert await bot.send_chat_action(USER, "typing") is True
        assert await bot.delete_webhook() is True
        return await bot.get_chat(GROUP)

    chat = run(fake, scenario)
    assert (chat.id, chat.type) == (GROUP, "supergroup")
    assert not fake.rejections


# --------------------------------------------------------------------------- whole application


def test_application_round_trip(fake: FakeBotAPI) -> None:
    """A real PTB Application polls the fake, handles a command and a button."""

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_html(
            "<b>你好</b> &lt;3",
            do_quote=True,
            reply_markup=keyboard(InlineKeyboardButton("更多", callback_data="more")),
        )

    async def more(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text("<i>更多内容</i>", parse_mode="HTML")

    async def scenario() -> None:
        app = (
            ApplicationBuilder()
            .token(fake.token)
            .base_url(f"{fake.url}/bot")
            .base_file_url(f"{fake.url}/file/bot")
            .build()
        )
        app.add_handler(CommandHandler("start", start))
        app.add_handler(CallbackQueryHandler(more))
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0)
            try:
                command = fake.private_message(USER, "/start")["message"]
                (reply,) = await fake.await_calls("sendMessage")
                assert reply.params["reply_parameters"]["message_id"] == command["message_id"]
                fake.callback_query(USER, "more")
                await fake.await_calls("editMessageText")
                await fake.await_calls("answerCallbackQuery")
            finally:
                await app.updater.stop()
                await app.stop()

    asyncio.run(scenario())
    assert not fake.rejections, fake.summary()
    (edit,) = fake.calls_for("editMessageText")
    assert edit["chat_id"] == USER and edit["text"] == "<i>更多内容</i>"


def test_wait_for_times_out_with_a_summary(fake: FakeBotAPI) -> None:
    post(fake, "sendMessage", data={"chat_id": "1", "text": "<b>oops", "parse_mode": "HTML"})
    with pytest.raises(AssertionError) as caught:
        fake.wait_for("sendMessage", timeout=0.2)
    assert "Can't find end tag" in str(caught.value)


def test_wait_for_accepts_a_predicate(fake: FakeBotAPI) -> None:
    post(fake, "sendMessage", data={"chat_id": "1", "text": "a"})
    post(fake, "sendMessage", data={"chat_id": "2", "text": "b"})
    (call,) = fake.wait_for(lambda c: c.method == "sendMessage" and c.params["chat_id"] == 2)
    assert call.params["text"] == "b"


def test_spec_path_can_be_overridden(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"version": "test", "methods": {"getMe": {"name": "getMe", "returns": ["User"]}},
            "types": {}}
    path = tmp_path / "api.json"
    path.write_text(json.dumps(spec))
    monkeypatch.setenv("BOT_API_SPEC", str(path))
    with FakeBotAPI() as fake:
        assert fake.spec.version == "test"
        assert post(fake, "getMe").json()["ok"] is True
        assert post(fake, "sendMessage", data={"chat_id": "1", "text": "x"}).status_code == 404

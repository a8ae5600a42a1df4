"""Pictures and links: what a screenshot, a poster or a QR code says, read offline, and what the bot replies."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.conversation import Card, Checked, Conversation, Notice, Pictured
from bot.reading import PictureError, PictureReader, Reading, explain, links_in, open_picture, read_picture
from bot.render import picture_json, render_reply_text
from bot.store import Store

from . import pictures
from .conftest import ROOT


@pytest.fixture
def conversation(matcher, checker, tmp_path):
    store = Store(tmp_path / "pictures.sqlite3")
    yield Conversation(matcher, checker, store)
    store.close()


# -- links: the real domain, official or not, and what disguises it ------------------------


@pytest.mark.parametrize("address, kind, domain, official, warning", [
    ("https://weixin110.qq.com/security", "url", "qq.com", True, None),
    ("https://www.12377.cn/", "url", "12377.cn", True, None),
    ("https://weixin.qq.com.safe-login.top/verify", "url", "safe-login.top", False, "lookalike"),
    ("http://weixin110-qq.com/login", "url", "weixin110-qq.com", False, "lookalike"),
    ("https://xn--wxq-9ra.com/", "url", "xn--wxq-9ra.com", False, "punycode"),
    ("http://47.96.12.201:8080/login", "url", "47.96.12.201", False, "ip"),
    ("https://t.cn/A6Ghk2Lm", "url", "t.cn", False, "shortener"),
    ("https://example.org/page", "url", "example.org", False, None),
    ("https://weixin.qq.com/g/AbCd", "group", "qq.com", None, None),
    ("https://u.wechat.com/EAbc", "contact", "wechat.com", None, None),
    ("wxp://f2f0Qk3mZx9Lq7", "payment", None, None, None),
    ("会员卡号 88023", "text", None, None, None),
    # A name that carries the company's brand, a word of its own or one letter off, is a lookalike.
    ("https://qq-aq.com.cn/appeal", "url", "qq-aq.com.cn", False, "lookalike"),
    ("http://110-qq.cc/jiefeng", "url", "110-qq.cc", False, "lookalike"),
    ("https://weixln.qq-safe.com/unblock", "url", "qq-safe.com", False, "lookalike"),
    ("http://tencent-jiefeng.top/", "url", "tencent-jiefeng.top", False, "lookalike"),
    ("https://wechat-verify.support/login", "url", "wechat-verify.support", False, "lookalike"),
    # The company's own addresses are no lookalike, though only the list's channels are official.
    ("https://mp.weixin.qq.com/s/abc", "url", "qq.com", False, None),
    ("https://docs.qq.com/form/page/DAbc", "url", "qq.com", False, None),
    ("https://meeting.tencent.com/dm/Xb7p", "url", "tencent.com", False, None),
    # Ordinary sites whose names only contain the letters: no lookalike.
    ("https://www.qqmusicfans.org/", "url", "qqmusicfans.org", False, None),
    ("https://www.lotusyoga-studio.cn/schedule", "url", "lotusyoga-studio.cn", False, None),
    # An app package to download outside the app store.
    ("http://d7app.vip/install.apk", "url", "d7app.vip", False, "download"),
    ("https://example.org/apk-guide.html", "url", "example.org", False, None),
    # A whole domain worn as the start of another's name; a site's own sub-domains are no such thing.
    ("https://etax-gov.cn.tuishui-cx.top/login", "url", "tuishui-cx.top", False, "lookalike"),
    ("http://bank.com.cn-verify.xyz/", "url", "cn-verify.xyz", False, "lookalike"),
    ("https://news.sina.com.cn/china/", "url", "sina.com.cn", False, None),
    ("https://cn.bing.com/search", "url", "bing.com", False, None),
])
def test_an_address_is_explained_by_what_it_really_is(kb, address, kind, domain, official, warning):
    fact = explain(address, kb.domains)
    assert (fact.kind, fact.domain, fact.official, fact.warning) == (kind, domain, official, warning)


def test_a_tencent_article_link_is_shown_as_tencents_own_and_no_fake(kb):
    from bot.render import link_line

    for address in ("https://mp.weixin.qq.com/s/openday", "https://meeting.tencent.com/dm/Xb7p"):
        fact = explain(address, kb.domains, in_qr=True)
        assert fact.risk is None
        for lang, own, fake in (("zh", "腾讯自己的网址", "假网址"), ("en", "Tencent's own address", "fake dressed")):
            line = link_line(kb, fact, lang)
            assert own in line and fake not in line and "⚠" not in line
    lookalike = link_line(kb, explain("http://110-qq.cc/jiefeng", kb.domains), "zh")
    assert "冒充 qq.com" in lookalike
    download = explain("http://d7app.vip/install.apk", kb.domains)
    assert download.risk == "high" and ".apk" in link_line(kb, download, "en")


def test_an_address_ocr_broke_at_a_hyphen_or_dot_is_joined_again():
    from bot.reading import mend_links

    assert mend_links("请尽快点击http://jf- 10086.top 兑换") == "请尽快点击http://jf-10086.top 兑换"
    assert mend_links("https://weixin .qq-safe.com/x 好的") == "https://weixin.qq-safe.com/x 好的"
    # Spaces outside an address, and after one, stay.
    assert mend_links("访问 https://www.12306.cn 购票 - 好的") == "访问 https://www.12306.cn 购票 - 好的"


def test_every_official_domain_cites_its_source(kb):
    assert {d.domain for d in kb.domains.official} == {"weixin110.qq.com", "110.qq.com", "aq.qq.com", "12377.cn"}
    assert all(d.source for d in kb.domains.official)


def test_an_official_domain_without_a_source_is_refused(kb_copy):
    from bot.knowledge import KnowledgeError, load_knowledge

    path = kb_copy / "domains.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "    source: China Daily, 2014 (shared/official-channels.md, grade A)\n", "", 1), encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(kb_copy)
    assert any("domains.yaml" in p and "source" in p for p in caught.value.problems)


def test_links_in_typed_text_are_checked_the_same_way(conversation):
    reply = conversation.receive("typed", "您的账号异常，请马上登录 weixin.qq.com.safe-login.top 验证解封")
    assert isinstance(reply, Checked) and reply.verdict.risk == "high"
    assert [f.warning for f in reply.links] == ["lookalike"]
    text = render_reply_text(conversation.kb, reply)
    assert "safe-login.top" in text and "qq.com" in text
    # An e-mail address is no link; a warning that quotes a fake address stays a warning.
    assert links_in("写信到 abc@qq.com", conversation.kb.domains) == ()
    warning = conversation.check("w", "提醒大家：不要打开 weixin.qq.com.safe-login.top 这种假网址，这是骗子的")
    assert warning.verdict.risk == "low"


# -- reading pictures ------------------------------------------------------------------


def test_a_screenshot_is_read_and_its_ad_gets_a_verdict(kb, conversation):
    data = pictures.text_picture(["高价收手机卡，一张200元", "当天结算，不违法", "有意加微信私聊"])
    reading = read_picture(data, kb.domains)
    assert "收手机卡" in reading.text and "当天结算" in reading.text
    reply = conversation.picture("u1", reading)
    assert isinstance(reply, Pictured) and isinstance(reply.reply, Checked)
    assert reply.reply.verdict.risk == "high" and reply.excerpt.startswith("高价收手机卡")
    shown = render_reply_text(kb, reply)
    assert shown.startswith("图里写着：高价收手机卡")  # the reply says what was read


def test_what_the_chat_app_draws_around_the_words_is_not_read_as_the_message(kb):
    """Title bar, input bar, transfer and voice labels and system lines are dropped; the bubbles' words stay."""
    data = pictures.text_picture(["< (3)", "Chris", "你已添加了Chris，现在可以开始聊天了。", "微信转账",
                                  "¥500.00", "已被接收", '15"', "Can you send me your slides before 5?",
                                  "我转账给你了，收到说一声", "按住 说话", "发送"], width=1000)
    lines = read_picture(data, kb.domains).text.splitlines()
    assert lines == ["Chris", "Can you send me your slides before 5?", "我转账给你了，收到说一声"], lines


@pytest.mark.parametrize("dark", [False, True])
def test_a_chat_screenshot_is_read_bubble_by_bubble_without_the_chats_name(kb, dark):
    """Two bubbles of one side stay two paragraphs; a bubble's wrapped lines are one; the title bar's name is no message."""
    data = pictures.chat_screenshot("小鹿出票", [
        ("them", ["帮陌生人解封一下微信，你只要", "扫个码点同意，五分钟赚50"]),
        ("them", ["对方的信息他自己填，跟你没关", "系"]),
        ("me", ["我的号会不会受影响"]),
    ], dark=dark)
    assert read_picture(data, kb.domains).text.splitlines() == [
        "帮陌生人解封一下微信，你只要扫个码点同意，五分钟赚50", "对方的信息他自己填，跟你没关系", "我的号会不会受影响"]


def test_a_chats_offer_gets_its_verdict_though_the_reader_asks_about_it(conversation):
    """The reader's own question under the offer ("会不会受影响") does not turn the screenshot into a question."""
    reading = Reading("帮陌生人解封一下微信，你只要扫个码点同意，五分钟赚50\n对方的信息他自己填，跟你没关系\n我的号会不会受影响")
    reply = conversation.picture("u-offer", reading)
    assert isinstance(reply.reply, Checked) and reply.risk == "high"
    # A question to the bot under a greeting is still a question: its card.
    asked = conversation.picture("u-asked", Reading("你好，有什么可以帮你？\n朋友让我帮他扫码辅助验证，会对我有影响吗"))
    assert isinstance(asked.reply, Card)


def test_an_ad_in_pinyin_is_judged_by_the_words_it_spells(conversation):
    """Pinyin slips past word filters; a pinyin ad is checked as the Chinese it spells, a pinyin chat stays harmless."""
    ad = conversation.picture("u-pinyin-ad", Reading("zai jia jian zhi shua dan, ri jie 200\njia wo wei xin xiang tan"))
    assert ad.risk in ("high", "medium")
    chat = conversation.picture("u-pinyin-chat", Reading("ni hao a, ming tian yi qi chi fan ma"))
    assert chat.risk in (None, "low")


def test_chat_app_labels_are_whole_lines_only():
    from bot.reading import _CHROME

    for label in ("<(3)", "微信(12)", "···", "发送", "Send", "按住 说话", "○+", "微信转账", "微信红包", "¥36.00", "已收款",
                  "转账给你", '8" )))', "你已添加了李娜，现在可以开始聊天了。", "以下为新消息", "你撤回了一条消息",
                  '"老周" 拍了拍我', "恭喜发财，大吉大利", "9:41", "87%", "昨天 21:08", "确定", "我知道了", "OK"):
        assert _CHROME.match(label), label
    for words in ("转账给你2000，明天还", "发送验证码给我", "Send me the code", "¥500 一单，日结", "好的", "(1) 请先阅读须知",
                  "确定要借吗", "OK, send it"):
        assert not _CHROME.match(words), words


def test_a_ban_notice_gets_its_card_and_a_question_its_answer(kb, conversation):
    notice = read_picture(pictures.text_picture(["帐号已被限制登录", "你的微信帐号因涉嫌违规，已被限制登录。"]), kb.domains)
    reply = conversation.picture("u2", notice)
    assert isinstance(reply.reply, Card) and reply.reply.topic.id == "ban-appeal"
    question = read_picture(pictures.text_picture(["微信被封了，里面的零钱还能取出来吗？"]), kb.domains)
    reply = conversation.picture("u3", question)
    assert isinstance(reply.reply, Card) and reply.reply.topic.id == "banned-funds-withdrawal"


def test_a_ban_notice_screenshot_answers_the_checklist_question(kb, conversation):
    conversation.checklist_start("u4")
    conversation.checklist_platform("u4", "wechat")
    notice = Reading("帐号已被封禁\n你的帐号因涉嫌参与赌博，已被限制使用部分功能。")
    reply = conversation.picture("u4", notice)
    assert type(reply.reply).__name__ == "Checklist" and reply.reply.reason == "gambling"


def test_qr_codes_alone_and_inside_a_poster_are_decoded_and_explained(kb, conversation):
    alone = read_picture(pictures.qr_picture("wxp://f2f0Qk3mZx9Lq7"), kb.domains)
    assert [(c.kind, c.data) for c in alone.codes] == [("payment", "wxp://f2f0Qk3mZx9Lq7")]
    reply = conversation.picture("u5", alone)
    assert "扫码就是给对方付钱" in render_reply_text(kb, reply)
    poster = read_picture(pictures.text_picture(["账号安全升级", "请扫码登录完成认证"],
                                                qr="https://weixin.qq.com.verify-center.top/login"), kb.domains)
    assert [(c.kind, c.domain, c.official, c.warning) for c in poster.codes] == \
        [("url", "verify-center.top", False, "lookalike")]
    reply = conversation.picture("u6", poster)
    assert reply.risk == "high" and "verify-center.top" in render_reply_text(kb, reply)


@pytest.mark.parametrize("how", ["light code on a dark poster", "small code in a poster"])
def test_codes_a_plain_pass_misses_are_decoded_on_a_second_look(kb, how):
    """A code printed light on dark, or so small its modules are two or three pixels wide, sent as JPEG at quality 65."""
    data = "https://weixin.qq.com/g/AbPq3Xz9Tk?from=poster&scene=1000"
    if how.startswith("light"):
        code, side, ground = pictures.qr_code(data, 8, dark="#ffd54a", light="#1f1f3a"), 300, "#1f1f3a"
    else:
        code, side, ground = pictures.qr_code(data), 130, "#fff3d6"
    picture = pictures.poster_with(code.resize((side, side)), ground)
    assert [c.data for c in read_picture(picture, kb.domains).codes] == [data]


@pytest.mark.parametrize("payload, text", [
    ("MECARD:N:李雪;TEL:+8613900000000;;", "MECARD:N:李雪;TEL:+8613900000000;;"),  # written in Shift JIS bytes
    ("王小明的名片", "王小明的名片"),  # Kanji mode: OpenCV's text call raised UnicodeDecodeError on it
    ("王小明的名片".encode("gb2312"), "王小明的名片"),  # an old code in GB2312
    ("Crème brûlée".encode("latin-1"), "Crème brûlée"),  # Latin-1, the standard's default, stays as it is
])
def test_a_codes_text_is_read_in_its_own_encoding(kb, payload, text):
    assert [c.data for c in read_picture(pictures.qr_picture(payload), kb.domains).codes] == [text]


def test_a_picture_without_text_says_so(kb, conversation):
    reading = read_picture(pictures.blank_picture(), kb.domains)
    reply = conversation.picture("u7", reading)
    assert reading.text == "" and isinstance(reply.reply, Notice) and reply.reply.key == "picture_no_text"


@pytest.mark.parametrize("data, key", [
    (b"this is not a picture", "picture_not_image"),
    (b"", "picture_not_image"),
    (pictures.truncated_jpeg(), "picture_broken"),
    (pictures.png_header_only(30_000, 30_000), "picture_too_many_pixels"),  # a decompression bomb
    (pictures.png_header_only(8_000, 6_000), "picture_too_many_pixels"),  # 48 megapixels
    (pictures.over_ten_megabytes(), "picture_too_big"),
])
def test_bad_pictures_are_refused_in_one_line(kb, data, key):
    with pytest.raises(PictureError) as caught:
        open_picture(data)
    assert caught.value.key == key and "\n" not in str(caught.value)
    assert kb.text(key, "zh") and "\n" not in kb.text(key, "en")


def test_read_text_is_masked_like_typed_text_before_it_is_stored(conversation, tmp_path):
    reading = Reading("我的手机号13812345678，微信号：lily_88，怎么把游戏账号找回来")
    reply = conversation.picture("u8", reading)
    assert "13812345678" not in reply.excerpt and "lily_88" not in reply.excerpt
    assert conversation.store.flush()
    dump = b"".join(p.read_bytes() for p in tmp_path.glob("pictures.sqlite3*"))
    assert b"13812345678" not in dump and "lily_88".encode() not in dump


def test_the_queue_is_bounded_and_each_person_waits_their_turn(kb):
    reader = PictureReader(kb.domains, queue_limit=2, per_person=1, time_limit=30)
    data = pictures.text_picture(["排队"])

    async def scenario():
        first = asyncio.ensure_future(reader.read_async(data, "alice"))
        await asyncio.sleep(0)
        with pytest.raises(PictureError) as again:  # alice's second picture while her first is read
            await reader.read_async(data, "alice")
        second = asyncio.ensure_future(reader.read_async(data, "bob"))
        await asyncio.sleep(0)
        with pytest.raises(PictureError) as full:  # two pictures in the queue: a third waits for none
            await reader.read_async(data, "carol")
        results = await asyncio.gather(first, second)
        return again.value.key, full.value.key, results

    try:
        again, full, results = asyncio.run(scenario())
    finally:
        reader.close()
    assert again == full == "picture_busy" and all("排队" in r.text for r in results)
    assert reader.pending == 0


def test_a_picture_past_its_time_limit_is_answered_at_once(kb):
    reader = PictureReader(kb.domains, time_limit=0.01)
    try:
        with pytest.raises(PictureError) as caught:
            asyncio.run(reader.read_async(pictures.text_picture(["很慢的图"] * 6), "slow"))
    finally:
        reader.close()
    assert caught.value.key == "picture_timeout"


# -- the command line ------------------------------------------------------------------


def run_bot(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, input=stdin, capture_output=True, timeout=120)


def test_image_json_contract_one_path_and_many(tmp_path):
    ad = tmp_path / "ad.jpg"
    ad.write_bytes(pictures.text_picture(["专业解封微信，永久封号也能解", "先交200押金，解开再付尾款"]))
    code = tmp_path / "code.png"
    code.write_bytes(pictures.qr_picture("https://110.qq.com/report"))
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not a picture")
    one = run_bot("image", "--json", str(ad))
    assert one.returncode == 0, one.stderr
    body = json.loads(one.stdout)
    assert set(body) >= {"text", "qr", "reply", "topic", "risk", "ms"}
    assert body["reply"] == "verdict" and body["risk"] == "high" and "解封" in body["text"] and body["ms"] > 0
    many = run_bot("image", "--json", "-", stdin=f"{ad}\n{junk}\n{code}\n".encode())
    lines = [json.loads(line) for line in many.stdout.decode().splitlines()]
    assert len(lines) == 3 and lines[0]["risk"] == "high"
    assert lines[1]["reply"] == "none" and "not a picture" in lines[1]["error"]
    assert lines[2]["qr"] == [{"data": "https://110.qq.com/report", "kind": "url", "domain": "qq.com", "official": True}]
    bad = run_bot("image", str(junk))
    assert bad.returncode == 2 and bad.stderr.decode().count("\n") == 1 and "not a picture" in bad.stderr.decode()


def test_pictures_are_read_without_any_network_and_text_commands_load_no_ocr(tmp_path):
    picture = tmp_path / "p.png"
    picture.write_bytes(pictures.text_picture(["离线读图"], fmt="PNG"))
    script = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse\n"
        "from bot.__main__ import main\n"
        f"sys.exit(main(['image', '--json', {str(picture)!r}]))\n"
    )
    offline = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, timeout=120)
    assert offline.returncode == 0, offline.stderr.decode()[-2000:]
    assert "离线读图" in json.loads(offline.stdout)["text"]
    text_only = subprocess.run([sys.executable, "-c", (
        "import sys\nfrom bot.__main__ import main\nmain(['ask', '微信被封了怎么办'])\n"
        "heavy = [m for m in ('rapidocr', 'onnxruntime', 'cv2', 'PIL') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n")], cwd=ROOT, capture_output=True, timeout=120)
    assert b"HEAVY []" in text_only.stdout, text_only.stdout[-500:]


def test_picture_json_says_what_kind_of_reply(kb, conversation):
    reply = conversation.picture("u9", Reading("微信被封了，里面的零钱还能取出来吗？"))
    body = picture_json(kb, reply, 12)
    assert (body["reply"], body["topic"], body["risk"], body["ms"]) == ("card", "banned-funds-withdrawal", None, 12)


def test_onnx_runtime_threads_do_not_spin_while_they_wait(kb):
    from bot.reading import _Engine

    read_picture(pictures.text_picture(["等待"]), kb.domains)
    engine = _Engine.get()
    for part in (engine.text_det, engine.text_rec):
        options = part.session.session.get_session_options()
        assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


@pytest.mark.parametrize("dark", [False, True])
def test_the_readers_own_bubbles_are_told_from_the_other_sides(kb, dark):
    """The reader's bubbles (right, a wrapped one's short last line too) are left out of `others`, kept in the text."""
    data = pictures.chat_screenshot("淘宝客服", [
        ("them", ["亲亲您好，您买的保温杯质", "量不合格，给您退款加赔偿"]),
        ("me", ["好的，要怎么退？我之前没", "遇到过"]),
        ("them", ["您打开支付宝搜一下备用金"]),
        ("me", ["嗯"]),
    ], dark=dark)
    reading = read_picture(data, kb.domains)
    assert "遇到过" in reading.text and "嗯" in reading.text
    assert reading.others.splitlines() == ["亲亲您好，您买的保温杯质量不合格，给您退款加赔偿", "您打开支付宝搜一下备用金"]


def test_no_sides_are_told_in_a_poster_or_a_chat_of_one_side(kb):
    assert read_picture(pictures.text_picture(["高薪招聘 在家兼职", "日赚300", "扫码进群领取任务"]), kb.domains).others == ""
    one_side = pictures.chat_screenshot("妈妈", [("them", ["到学校了吗？"]), ("them", ["宿舍怎么样"])])
    assert read_picture(one_side, kb.domains).others == ""


def test_the_readers_reply_does_not_turn_an_offer_into_a_warning(conversation):
    """The reader's "what?? 我从来没做过" under a fake officer's script made the whole chat read as a warning: low."""
    script = ("您好，这里是中国驻悉尼总领事馆，您有一份重要文件尚未领取\n"
              "经查，您的护照在国内涉及一起跨境洗钱案件，请添加办案民警的Skype配合做笔录，期间请不要与任何人联系")
    whole = script + "\nwhat??我从来没做过这种事，不要吓我\n请您冷静，配合调查才能证明清白"
    others = script + "\n请您冷静，配合调查才能证明清白"
    assert conversation.picture("u-sides-1", Reading(whole, others=others)).risk == "high"
    # A harmless chat stays harmless with its sides told apart.
    chat = "明天下午三点开会，记得带上周的报表\n好的，收到"
    assert conversation.picture("u-sides-2", Reading(chat, others="明天下午三点开会，记得带上周的报表")).risk in (None, "low")


def test_a_chats_date_stamps_are_no_words_of_the_message():
    from bot.reading import _CHROME

    for stamp in ("3月2日晚上10:15", "3月9日 晚上 11:02", "2025年3月2日 22:15", "2025/3/2 22:15", "12月1日 星期二 下午3:05"):
        assert _CHROME.match(stamp), stamp
    assert not _CHROME.match("3月2日晚上10:15在老地方见")

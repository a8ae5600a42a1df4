"""Questions as voice input and pinyin keyboards write them: homophones, typed pinyin, short slang."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot import languages
from bot.text import has_cjk
from bot.conversation import Card, Conversation
from bot.pinyin import PinyinReader, reads_as_pinyin, split_syllables
from bot.store import Store

from .conftest import ROOT


# -- homophones: a wrong character that sounds right ------------------------------------

def test_a_homophone_sounds_like_the_word_it_stands_for(matcher):
    n = matcher.normaliser
    assert n.syllables(n.normalise("解风")) == n.syllables(n.normalise("解封")) == ["jie", "feng"]
    assert n.syllables(n.normalise("杀猪判")) == n.syllables(n.normalise("杀猪盘"))
    # Traditional is read after conversion, like everything else.
    assert n.syllables(n.normalise("凍潔")) == ["dong", "jie"]  # as 冻结 sounds


@pytest.mark.parametrize("question, topic", [
    ("群里有人发堵博广告怎么举报", "report-gambling"),  # 堵博: 赌博
    ("网堵输了很多钱还会被封号吗", "gambling-consequences"),
    ("诈片电话怎么举报", "report-fraud-general"),  # 诈片: 诈骗
    ("微信被封了怎么解风", "ban-appeal"),
    ("微信被封了怎么申素", "ban-appeal"),
    ("微信被冻洁了里面的灵钱怎么取出来", "banned-funds-withdrawal"),
    ("网恋对象让我投资，是不是杀猪判", "pig-butchering-scam"),
    ("微信被封了怎麼申素", "ban-appeal"),  # Traditional
    ("微信被凍潔了，裡面的靈錢怎麼取出來", "banned-funds-withdrawal"),
    ("網堵輸了很多錢還會被封號嗎", "gambling-consequences"),
])
def test_homophones_of_voice_input_find_their_topic(matcher, question, topic):
    assert matcher.match_question(question).topic == topic


# -- pinyin typed in Latin letters ------------------------------------------------------

@pytest.mark.parametrize("question, topic", [
    ("weixin bei feng le zenme shensu", "ban-appeal"),
    ("wo de qq bei dongjie le", "ban-appeal"),
    ("weixinbeifengle zenmeban", "ban-appeal"),  # no spaces
    ("wēixìn bèi fēng le zěnme shēnsù", "ban-appeal"),  # tone marks
    ("wei1xin4 bei4 feng1 le zen3me shen1su4", "ban-appeal"),  # tone digits
    ("wei xin bei feng le li mian de qian zen me qu chu lai", "banned-funds-withdrawal"),
    ("mai shouji ka fanfa ma", "sell-sim-card"),
    ("wang lian dui xiang rang wo touzi shi bu shi sha zhu pan", "pig-butchering-scam"),
])
def test_a_whole_question_in_pinyin_is_answered_in_chinese(matcher, question, topic):
    match = matcher.match_question(question)
    assert (match.decision, match.topic, match.lang) == ("answer", topic, "zh")


@pytest.mark.parametrize("question, topic", [
    ("du博被抓会怎样", "gambling-consequences"),
    ("号被冻jie了怎么办", "ban-appeal"),
    ("帮人jiefeng能赚钱吗", "unseal-helper-job"),
    ("網戀遇到sha豬盤了", "pig-butchering-scam"),  # Traditional around the pinyin
])
def test_pinyin_inside_a_chinese_question_is_read_as_the_word(matcher, question, topic):
    assert matcher.match_question(question).topic == topic


@pytest.mark.parametrize("question", ["jintian tianqi zenmeyang", "zhifubao zenme zhuanzhang", "ni hao"])
def test_everyday_questions_in_pinyin_get_none(matcher, question):
    assert matcher.match_question(question).decision == "none"


def test_english_questions_are_not_taken_for_pinyin(kb, matcher):
    english = [q for t in kb.topics.values() for q in t.questions if not has_cjk(q)]
    english += [q for q in kb.out_of_scope if not has_cjk(q)]
    assert len(english) > 200
    assert [q for q in english if languages.detect(q) != "en"] == []
    match = matcher.match_question("can you help me, my wechat was banned")
    assert (match.topic, match.lang) == ("ban-appeal", "en")


def test_links_and_account_ids_are_not_read_as_pinyin(matcher):
    n = matcher.normaliser
    assert "jie" not in n.syllables(n.normalise("您的帐号被限制，点击 wx-jiefeng.com 立即申诉"))
    assert "jie" not in n.syllables(n.normalise("加我V信：jiefeng_0722"))


def test_typed_syllables_are_split_as_people_mean_them():
    assert split_syllables("xian") == ("xian",)  # fewest syllables: 先, not 西安
    assert split_syllables("xi'an") == ("xi", "an")
    assert split_syllables("fangan") == ("fang", "an")
    assert split_syllables("lvyou") == split_syllables("lüyou") == ("lu", "you")
    assert split_syllables("wechat") is None
    assert reads_as_pinyin("weixin bei feng le") and not reads_as_pinyin("can you change my name")


def test_a_pinyin_question_in_the_conversation_gets_the_card_in_chinese(matcher, checker, tmp_path):
    store = Store(tmp_path / "c.sqlite3")
    try:
        reply = Conversation(matcher, checker, store).receive("u1", "wo de qq bei dongjie le zenme shensu")
    finally:
        store.close()
    assert isinstance(reply, Card) and reply.topic.id == "ban-appeal" and reply.lang == "zh"


# -- short slang -------------------------------------------------------------------------

def test_short_slang_reads_as_the_word_it_stands_for(matcher):
    n = matcher.normaliser
    assert n.normalise("付费jf") == n.normalise("付费解封")
    assert n.normalise("微信被风控了") == n.normalise("微信进小黑屋了").replace("进", "") == n.normalise("微信被封了")
    assert n.normalise("號fh了") == n.normalise("号封号了")


@pytest.mark.parametrize("question, topics", [
    ("付费jf靠谱吗", {"paid-unseal-service"}),  # jf: 解封
    ("有人收费帮忙jf 能信吗", {"paid-unseal-service"}),
    ("微信被风控了怎么申诉", {"ban-appeal"}),
    ("vx被风控了里面的钱能提出来吗", {"banned-funds-withdrawal"}),
    ("微信进小黑屋了怎么出来", {"ban-appeal", "ban-types-duration"}),
    ("qq进小黑屋了，一般关几天", {"ban-types-duration"}),
    ("號fh了 好友和照片還在嗎", {"banned-data-recovery"}),  # fh: 封号
])
def test_short_slang_finds_its_topic(matcher, question, topics):
    assert matcher.match_question(question).topic in topics


# -- the message checker -----------------------------------------------------------------

def test_an_ad_that_hides_its_words_in_pinyin_is_risky(checker):
    verdict = checker.check_message("帮人jie feng，一单40，日结，有意私我")
    assert verdict.risk != "low"


def test_a_question_in_pinyin_is_not_taken_for_a_pasted_ad(checker):
    assert not checker.reads_like_a_message("weixin bei feng le zenme shensu")


# -- the table and the answering path ------------------------------------------------------

def test_a_damaged_pinyin_table_is_rebuilt(tmp_path):
    first = PinyinReader(tmp_path)
    (table,) = tmp_path.glob("pinyin-*.txt")
    table.write_text("garbage", encoding="utf-8")
    again = PinyinReader(tmp_path)
    assert again.reading("封") == first.reading("封") == "feng"
    assert again.readings("行") == ("xing", "hang", "heng")
    assert len(table.read_text(encoding="utf-8").split("\n")) > 20_000


def test_answering_in_pinyin_imports_neither_pypinyin_nor_scikit_learn():
    code = ("import sys; from bot.matcher import load_matcher; m = load_matcher(); "
            "assert m.match_question('weixin bei feng le zenme shensu').topic == 'ban-appeal'; "
            "assert m.match_question('微信被冻洁了').topic == 'ban-appeal'; "
            "print('pypinyin' in sys.modules, 'sklearn' in sys.modules)")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)  # warms the caches
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True)
    assert result.stdout.strip() == "False False"

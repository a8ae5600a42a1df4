"""bot.text.cut_words cuts exactly as jieba's lcut(text, HMM=False), which it replaces on the answering path."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.knowledge import default_kb_dir
from bot.text import JiebaCache, cut_words, import_jieba, read_userdict

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def whole():
    """jieba's own tokenizer with the whole dictionary and our user dictionary."""
    jieba = import_jieba()
    tok = jieba.Tokenizer()
    tok.initialize()
    for word, freq in read_userdict(default_kb_dir() / "userdict.txt"):
        tok.add_word(word, freq)
    return tok


def _texts() -> list[str]:
    texts = [c["q"] for c in yaml.safe_load((HERE / "data" / "dev.yaml").read_text(encoding="utf-8"))["cases"]]
    for path in sorted((default_kb_dir() / "topics").glob("*.yaml")):
        topic = yaml.safe_load(path.read_text(encoding="utf-8"))
        texts += topic["questions"]
        texts += [q for s in topic.get("situations") or () for q in s["questions"]]
    return texts


def test_every_phrasing_is_cut_as_jieba_cuts_it(whole, tmp_path):
    userdict = default_kb_dir() / "userdict.txt"
    JiebaCache(userdict, tmp_path).tokenizer()  # builds the grouped cache
    lazy = JiebaCache(userdict, tmp_path).tokenizer()
    texts = _texts() + ["", " ", "abc 123 微信", "a1b2 c3\r\nd", "微信被封了怎么办？？" * 30, "𠮷野家的QQ号被冻结",
                        "v信+q群%50 #tag & x.y-z", "\t\n\r\n 微 信 \u3000"]
    assert len(texts) > 1000
    for text in texts:
        expected = whole.lcut(text, HMM=False)
        assert cut_words(whole.FREQ, whole.total, text) == expected, text
        assert lazy.words(text) == expected, text  # the grouped dictionary, loading as it goes


# Characters that make jieba's choices interesting: words of the dictionary and the knowledge base,
# letters and digits (joined into one word when single), its "Chinese" punctuation (+#&._%-), spaces, others.
_ALPHABET = st.sampled_from(list("微信被封号申诉解冻结账户零钱卖手机卡扫码兼职帮忙注册验证的了吗我他们不是可以"
                                 "aZ09x+#&._%-") + [" ", "\r\n", "\n", "\t", "，", "？", "!", "😀", "𠮷", "é"])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ALPHABET, max_size=40).map("".join))
def test_generated_text_is_cut_as_jieba_cuts_it(whole, text):
    assert cut_words(whole.FREQ, whole.total, text) == whole.lcut(text, HMM=False)

"""A warm start reuses what earlier starts derived, and never anything that no longer fits the files.

The caches keyed by content (bot/loadcache.py: parsed YAML, compiled and checked
patterns; bot/text.py: jieba's dictionary by first character; bot/languages.py:
each character's script) must give exactly what the work they replace gives,
and a file that is broken now is refused with the same error, warm or cold.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from bot import knowledge, languages, loadcache
from bot.knowledge import KnowledgeError, default_kb_dir, load_knowledge
from bot.text import FrequencyGroups, JiebaCache, import_jieba, read_userdict


@pytest.fixture
def cache(tmp_path: Path, monkeypatch) -> Path:
    """An empty cache folder of the test's own."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("ACCOUNT_SAFETY_BOT_CACHE", str(folder))
    return folder


def problems_of(kb_dir: Path) -> list[str]:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(kb_dir)
    return info.value.problems


def same_knowledge(a, b) -> bool:
    """Every topic, string, flag and pattern equal (a pattern compares its compiled program).

    The Traditional wording table compares by identity (one per load), so by its corrections here.
    """
    return replace(a, wording=b.wording) == b and a.wording.fixes == b.wording.fixes


def cache_file(cache: Path) -> Path:
    [found] = cache.glob("kb-*.json")
    return found


def test_a_warm_load_parses_and_checks_nothing_and_gives_the_same_knowledge_base(kb_copy, cache, monkeypatch):
    cold = load_knowledge(kb_copy)
    stored = json.loads(cache_file(cache).read_text(encoding="utf-8"))
    assert len(stored["files"]) == len(list(kb_copy.rglob("*.yaml")))
    assert len(stored["patterns"]) > 100

    def fail(*args, **kwargs):
        raise AssertionError("parsed or checked again")

    monkeypatch.setattr(knowledge._FileReader, "_parse", fail)
    monkeypatch.setattr(knowledge, "super_linear_problems", fail)
    monkeypatch.setattr(knowledge.re, "compile", fail)
    warm = load_knowledge(kb_copy)
    assert same_knowledge(warm, cold)
    flags = [p for f in warm.red_flags.flags for p in f.patterns]
    assert all(isinstance(p, re.Pattern) for p in flags)
    assert [p.flags for p in flags] == [p.flags for f in cold.red_flags.flags for p in f.patterns]


@pytest.mark.parametrize("breakage, expected", [
    ("yaml", "YAML syntax error"),
    ("duplicate", "duplicate key 'answer'"),
    ("field", "'answer': missing"),
    ("regex", "invalid regular expression"),
    ("slow regex", "unbounded repeat"),
])
def test_a_file_broken_after_a_warm_start_is_refused_with_the_error_of_a_cold_one(
        kb_copy, cache, tmp_path, monkeypatch, breakage, expected):
    load_knowledge(kb_copy)  # the cache now holds every file as it was
    topic = kb_copy / "topics" / "ban-appeal.yaml"
    flags = kb_copy / "red_flags.yaml"
    if breakage == "yaml":
        topic.write_text(topic.read_text(encoding="utf-8").replace("questions:", "questions: [", 1), encoding="utf-8")
    elif breakage == "duplicate":
        topic.write_text(topic.read_text(encoding="utf-8") + "answer: {zh: 重复, en: again}\n", encoding="utf-8")
    elif breakage == "field":
        data = yaml.safe_load(topic.read_text(encoding="utf-8"))
        del data["answer"]
        topic.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    else:
        data = yaml.safe_load(flags.read_text(encoding="utf-8"))
        data["flags"][0]["patterns"].append("收(卡" if breakage == "regex" else r"\d+ ?元")
        flags.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    warm = problems_of(kb_copy)
    assert any(expected in p for p in warm), warm
    monkeypatch.setenv("ACCOUNT_SAFETY_BOT_CACHE", str(tmp_path / "empty"))
    assert problems_of(kb_copy) == warm  # exactly what a start without any cache says


def test_a_file_put_back_as_it_was_loads_and_broken_again_is_refused_again(kb_copy, cache):
    topic = kb_copy / "topics" / "sell-sim-card.yaml"
    good = topic.read_bytes()
    load_knowledge(kb_copy)
    topic.write_bytes(good.replace(b"questions:", b"questions: {", 1))
    first = problems_of(kb_copy)
    topic.write_bytes(good)
    assert "sell-sim-card" in load_knowledge(kb_copy).topics
    topic.write_bytes(good.replace(b"questions:", b"questions: {", 1))
    assert problems_of(kb_copy) == first


def test_only_successes_are_cached(kb_copy, cache):
    topic = kb_copy / "topics" / "ban-appeal.yaml"
    broken = topic.read_bytes().replace(b"questions:", b"questions: [", 1)
    topic.write_bytes(broken)
    problems_of(kb_copy)
    stored = json.loads(cache_file(cache).read_text(encoding="utf-8"))
    import hashlib

    assert hashlib.sha256(broken).hexdigest() not in stored["files"]
    assert len(stored["files"]) == len(list(kb_copy.rglob("*.yaml"))) - 1


def test_a_damaged_or_foreign_cache_file_is_ignored(kb_copy, cache):
    expected = load_knowledge(kb_copy)
    path = cache_file(cache)
    stored = json.loads(path.read_text(encoding="utf-8"))
    # Every pattern's program replaced by one the engine refuses, every file's lines by nonsense.
    stored["patterns"] = {p: [32, [1, 2, 3], 0, {}, [None]] for p in stored["patterns"]}
    stored["files"] = {k: [v[0], {"id": "one"}] for k, v in stored["files"].items()}
    path.write_text(json.dumps(stored, ensure_ascii=False), encoding="utf-8")
    assert same_knowledge(load_knowledge(kb_copy), expected)
    path.write_text("{not json", encoding="utf-8")
    assert same_knowledge(load_knowledge(kb_copy), expected)
    assert json.loads(path.read_text(encoding="utf-8"))["format"] == loadcache.FORMAT  # rewritten whole


def test_a_cache_folder_that_cannot_be_written_still_loads(kb_copy, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    monkeypatch.setenv("ACCOUNT_SAFETY_BOT_CACHE", str(blocker / "cache"))
    assert len(load_knowledge(kb_copy).topics) >= 16


def test_data_json_cannot_give_back_exactly_is_never_cached():
    import datetime

    assert loadcache._json_exact({"a": [1, 2.5, True, None, "x"]})
    for value in ({1: "int key"}, {"when": datetime.date(2026, 1, 1)}, [float("nan")], ("tuple",)):
        assert not loadcache._json_exact(value)


@pytest.mark.parametrize("pattern", [r"(?<!\d)\d+ ?(块|元)", r"(?i)wechat\s{0,3}pay", r"(?P<amount>\d{1,6})元",
                                     r"[^\x00-\x7f]{2,8}", r"\b(?:how|what)\b"])
def test_a_rebuilt_pattern_is_the_compiled_one(pattern):
    parts = loadcache._program(pattern)
    rebuilt = loadcache._rebuild(pattern, json.loads(json.dumps(parts)))
    compiled = re.compile(pattern)
    assert rebuilt == compiled and rebuilt.groupindex == compiled.groupindex and rebuilt.groups == compiled.groups
    text = "微信支付 WeChat  Pay 收了 300元，how 1234 元"
    assert [m.span() for m in rebuilt.finditer(text)] == [m.span() for m in compiled.finditer(text)]


def test_the_cached_script_table_is_what_opencc_says_of_every_character(cache):
    languages._script_table.cache_clear()
    try:
        built = languages._script_table()
        [path] = cache.glob("script-*.txt")
        languages._script_table.cache_clear()
        assert languages._script_table() == built == path.read_text(encoding="ascii")
        for offset in range(0, len(built), 7):  # every seventh character of the block, against OpenCC itself
            assert languages._VALUE_OF[built[offset]] == languages._converted_script(chr(languages._BLOCK_FIRST + offset))
        path.write_text(built[:-1], encoding="ascii")  # damaged: rebuilt
        languages._script_table.cache_clear()
        assert languages._script_table() == built
    finally:
        languages._script_table.cache_clear()
    assert languages.detect("我的帳號被凍結了") == "zh-Hant" and languages.detect("我的账号被冻结了") == "zh"


def test_the_grouped_jieba_dictionary_cuts_exactly_like_the_whole_one(tmp_path):
    userdict = default_kb_dir() / "userdict.txt"
    built = JiebaCache(userdict, tmp_path).tokenizer()  # cold: jieba's own dictionary, then cached
    lazy = JiebaCache(userdict, tmp_path).tokenizer()
    assert type(lazy).__name__ == "LazyTokenizer" and not lazy.FREQ
    jieba = import_jieba()
    whole = jieba.Tokenizer()
    whole.initialize()
    for word, freq in read_userdict(userdict):
        whole.add_word(word, freq)
    assert built.FREQ == whole.FREQ
    texts = [case["q"] for case in yaml.safe_load((Path(__file__).parent / "data" / "dev.yaml").read_text(
        encoding="utf-8"))["cases"]]
    for path in sorted((default_kb_dir() / "topics").glob("*.yaml")):
        texts += yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    texts += ["", "abc 123 微信", "微信被封了怎么办？？" * 30, "𠮷野家的QQ号被冻结"]
    for text in texts:
        assert lazy.lcut(text, HMM=False) == whole.lcut(text, HMM=False), text
    assert lazy.total == whole.total
    assert 0 < len(lazy.FREQ) < len(whole.FREQ)
    # Every group loaded: the whole dictionary, entry for entry.
    groups = FrequencyGroups.read(JiebaCache(userdict, tmp_path).path)
    for first in groups.index:
        lazy.FREQ.update(groups.words(first))
    assert lazy.FREQ == whole.FREQ


def test_threads_cutting_at_once_on_a_fresh_dictionary_cut_as_one_thread_does(tmp_path):
    userdict = default_kb_dir() / "userdict.txt"
    JiebaCache(userdict, tmp_path).tokenizer()
    texts = [case["q"] for case in yaml.safe_load((Path(__file__).parent / "data" / "dev.yaml").read_text(
        encoding="utf-8"))["cases"]]
    alone = JiebaCache(userdict, tmp_path).tokenizer()
    expected = [alone.lcut(t, HMM=False) for t in texts]
    shared = JiebaCache(userdict, tmp_path).tokenizer()
    results: dict[int, list] = {}

    def cut(worker: int) -> None:
        results[worker] = [shared.lcut(t, HMM=False) for t in texts[worker::2] + texts[1 - worker::2]]

    threads = [threading.Thread(target=cut, args=(w,)) for w in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in (0, 1):
        assert results[worker] == [expected[i] for i in [*range(worker, len(texts), 2), *range(1 - worker, len(texts), 2)]]


@pytest.mark.parametrize("damage", ["truncated", "flipped", "old format"])
def test_a_damaged_dictionary_cache_is_rebuilt_not_trusted(tmp_path, damage):
    userdict = default_kb_dir() / "userdict.txt"
    cache = JiebaCache(userdict, tmp_path)
    cache.tokenizer()
    data = cache.path.read_bytes()
    if damage == "truncated":
        cache.path.write_bytes(data[:-100])
    elif damage == "flipped":
        middle = len(data) // 2
        cache.path.write_bytes(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1:])
    else:
        cache.path.write_bytes(b"ASBJIEBA1" + data[9:])
    assert FrequencyGroups.read(cache.path) is None
    rebuilt = cache.tokenizer()
    assert type(rebuilt).__name__ != "LazyTokenizer"  # built from jieba's own dictionary again
    assert cache.path.read_bytes() == data

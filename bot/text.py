"""Text normalisation for matching: Traditional to Simplified, synonyms, jieba tokens.

Everything here is built once from the knowledge base's data files; the
per-question path only runs compiled regexes, OpenCC and jieba's cut.
"""

from __future__ import annotations

import array
import hashlib
import itertools
import json
import logging
import math
import os
import re
import struct
import sys
import threading
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from .pinyin import PinyinReader
from .utf8 import valid_text

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACE = re.compile(r"\s+")
_ASCII_WORD = re.compile(r"[a-z0-9][a-z0-9+']*")
_TOKEN_IS_WORD = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)

# Questions longer than this are cut before matching: a story of this length
# has told what matters, and jieba's cost grows with length.
MAX_MATCH_CHARS = 600


def has_cjk(text: str) -> bool:
    """True when the text holds at least one Chinese character."""
    return _CJK.search(text) is not None


def question_language(text: str) -> str:
    """'zh' when the text has Chinese characters, else 'en'."""
    return "zh" if has_cjk(text) else "en"


def clean_input(text: str) -> str:
    """Strip control characters and fold whitespace; safe for any user text."""
    text = _CONTROL.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def stem_english(word: str) -> str:
    """A deliberately light stemmer: plural -s only; inflections are synonyms data."""
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@dataclass(frozen=True)
class SynonymTable:
    """Variant spellings folded to one canonical word, and words ignored in matching.

    `dialect` (Cantonese into Mandarin) is applied first, so that the
    Mandarin it produces is folded by `variants` like any other text.
    """

    variants: dict[str, str]
    stopwords: frozenset[str]
    dialect: dict[str, str] = field(default_factory=dict)

    def compile(self, variants: dict[str, str] | None = None) -> re.Pattern[str] | None:
        """One regex for all variants, longest first at each position.

        Built as a trie so the regex engine does not try hundreds of
        alternatives at every character: that made synonym folding the
        costliest step of matching.
        """
        variants = self.variants if variants is None else variants
        if not variants:
            return None
        ascii_words = [v for v in variants if v.isascii()]
        others = [v for v in variants if not v.isascii()]
        parts = []
        if ascii_words:
            # ASCII variants only as whole words: "wx" must not fire inside "wxyz".
            parts.append(rf"(?<![a-z0-9])(?:{_trie_regex(ascii_words)})(?![a-z0-9])")
        if others:
            parts.append(_trie_regex(others))
        return re.compile("|".join(parts))


def _trie_regex(words: list[str]) -> str:
    """A regex matching any of `words`, preferring the longest, as a prefix trie."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = True

    def build(node: dict) -> str:
        end = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # Greedy optional group: the longer variant wins when both match here.
        return f"(?:{body})?" if end else body

    return build(trie)


class JiebaCache:
    """jieba's dictionary plus our user dictionary, cached once for a fast start.

    jieba's own cache is a marshal dump that takes ~0.8 s to load. This one is
    plain data (words and 64-bit frequencies), so a file planted in the cache
    folder cannot run code. The words are grouped by their first character
    with an index, and a start builds none of them into a dictionary: before jieba cuts a sentence,
    the groups of its characters are loaded (LazyTokenizer). Building the whole
    half-million-entry dictionary took about 0.15 s of every start.
    """

    def __init__(self, userdict: Path, cache_dir: Path | None = None) -> None:
        self.userdict = userdict
        self.cache_dir = cache_dir or default_cache_dir()
        jieba = import_jieba()
        digest = hashlib.sha256()
        digest.update(jieba.__version__.encode())
        digest.update(str(sys.version_info[:2]).encode())
        digest.update(userdict.read_bytes() if userdict.exists() else b"")
        self.key = digest.hexdigest()[:16]  # what the cached dictionary was built from

    @property
    def path(self) -> Path:
        return self.cache_dir / f"{_FREQ_PREFIX}{self.key}.bin"

    def tokenizer(self):
        """A ready jieba Tokenizer with the user dictionary loaded."""
        jieba = import_jieba()

        jieba.setLogLevel(logging.WARNING)
        groups = FrequencyGroups.read(self.path)
        if groups is not None:
            return lazy_tokenizer(groups)
        tok = jieba.Tokenizer()
        tok.initialize()
        for word, freq in read_userdict(self.userdict):
            tok.add_word(word, freq)
        try:
            _write_frequencies(self.path, tok.FREQ, tok.total)
            _remove_stale(self.cache_dir, _FREQ_PREFIX, keep=self.path)
        except OSError:
            # A read-only home still works, only without the fast start.
            pass
        return tok


# A new name for the grouped format: checkouts of the older flat format sharing the cache keep theirs.
_FREQ_PREFIX = "jieba2-"
_FREQ_MAGIC = b"ASBJIEBA2"
_FREQ_HEAD = struct.Struct("<9sqqqqqI")  # magic, total, groups, words, first-characters bytes, words bytes, CRC-32


def _write_frequencies(path: Path, freq: dict[str, int], total: int) -> None:
    """The dictionary grouped by first character: the groups' first characters, where each group's words
    and frequencies start, the frequencies, then each group's words joined by newlines."""
    words = sorted(freq)  # sorted, so each first character's words are together
    if not words or not words[0] or any("\n" in w for w in words):
        return  # cannot happen with jieba's dictionary; then simply no cache
    firsts: list[str] = []
    word_starts = array.array("q", [0])
    byte_starts = array.array("q", [0])
    blobs: list[bytes] = []
    size = 0
    for first, group in itertools.groupby(words, key=lambda w: w[0]):
        group_words = list(group)
        blob = "\n".join(group_words).encode("utf-8")
        firsts.append(first)
        blobs.append(blob)
        size += len(blob)
        word_starts.append(word_starts[-1] + len(group_words))
        byte_starts.append(size)
    counts = array.array("q", [freq[w] for w in words])
    first_bytes = "".join(firsts).encode("utf-8")
    body = first_bytes + word_starts.tobytes() + byte_starts.tobytes() + counts.tobytes() + b"".join(blobs)
    head = _FREQ_HEAD.pack(_FREQ_MAGIC, total, len(firsts), len(words), len(first_bytes), size, zlib.crc32(body))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(head)
        fh.write(body)
    os.replace(tmp, path)


class FrequencyGroups:
    """The cached dictionary as written by _write_frequencies; each first character's words are read when asked for."""

    def __init__(self, total: int, firsts: str, word_starts: array.array, byte_starts: array.array,
                 counts: array.array, blob: bytes) -> None:
        self.total = total
        self.index = {first: i for i, first in enumerate(firsts)}  # first character -> group
        self._word_starts = word_starts
        self._byte_starts = byte_starts
        self._counts = counts
        self._blob = blob

    @classmethod
    def read(cls, path: Path) -> "FrequencyGroups | None":
        """The cached dictionary, or None when the file is missing or not exactly what _write_frequencies wrote."""
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if len(data) < _FREQ_HEAD.size or not data.startswith(_FREQ_MAGIC):
            return None
        _, total, n_groups, n_words, first_size, blob_size, crc = _FREQ_HEAD.unpack_from(data)
        body = memoryview(data)[_FREQ_HEAD.size:]
        item = array.array("q").itemsize
        sizes = (first_size, (n_groups + 1) * item, (n_groups + 1) * item, n_words * item, blob_size)
        if min(sizes) < 0 or len(body) != sum(sizes) or zlib.crc32(body) != crc:
            return None  # truncated, damaged or of another layout
        parts, at = [], 0
        for size in sizes:
            parts.append(body[at: at + size])
            at += size
        try:
            firsts = bytes(parts[0]).decode("utf-8")
        except UnicodeDecodeError:
            return None
        word_starts, byte_starts, counts = array.array("q"), array.array("q"), array.array("q")
        word_starts.frombytes(parts[1])
        byte_starts.frombytes(parts[2])
        counts.frombytes(parts[3])
        if (len(firsts) != n_groups or word_starts[0] != 0 or word_starts[-1] != n_words
                or byte_starts[0] != 0 or byte_starts[-1] != blob_size
                or any(a >= b for a, b in zip(word_starts, word_starts[1:]))
                or any(a > b for a, b in zip(byte_starts, byte_starts[1:]))):
            return None
        return cls(total, firsts, word_starts, byte_starts, counts, bytes(parts[4]))

    def words(self, first: str) -> dict[str, int]:
        """Every word of the dictionary that starts with `first` (prefixes of longer words too, at 0), by frequency."""
        group = self.index.get(first)
        if group is None:
            return {}
        words = self._blob[self._byte_starts[group]: self._byte_starts[group + 1]].decode("utf-8").split("\n")
        counts = self._counts[self._word_starts[group]: self._word_starts[group + 1]]
        if len(words) != len(counts) or any(not w.startswith(first) for w in words):
            raise ValueError(f"jieba dictionary cache: group {first!r} is damaged")  # the CRC passed: a bug
        return dict(zip(words, counts.tolist()))


def lazy_tokenizer(groups: FrequencyGroups):
    """A jieba Tokenizer over the cached dictionary that loads a first character's words when a sentence has it.

    jieba looks words up only from the characters of the sentence it cuts
    (get_DAG, then calc on what get_DAG found), so loading the groups of a
    sentence's characters before get_DAG gives exactly the cuts of the whole
    dictionary.
    """
    jieba = import_jieba()

    class LazyTokenizer(jieba.Tokenizer):
        def __init__(self) -> None:
            super().__init__()
            self.FREQ, self.total = {}, groups.total
            self.initialized = True
            self._pending = set(groups.index)  # first characters whose words are not loaded yet
            self._loading = threading.Lock()

        def load_for(self, sentence: str) -> None:
            """Load the groups of the sentence's characters that are not loaded yet."""
            if not self._pending.isdisjoint(sentence):
                with self._loading:
                    for first in self._pending.intersection(sentence):
                        self.FREQ.update(groups.words(first))
                        # Only now: another thread that sees it gone finds its words in FREQ.
                        self._pending.discard(first)

        def get_DAG(self, sentence):  # noqa: N802 - jieba's name
            self.load_for(sentence)
            return super().get_DAG(sentence)

        def words(self, sentence: str) -> list[str]:
            """lcut(sentence, HMM=False), in one pass (cut_words)."""
            self.load_for(sentence)
            return cut_words(self.FREQ, self.total, sentence)

    return LazyTokenizer()


# jieba's own patterns (jieba.re_han_default, re_skip_default, re_eng), for cut_words.
_JIEBA_HAN = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)")
_JIEBA_SKIP = re.compile(r"(\r\n|\s)")
_JIEBA_ENG = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def cut_words(freq: dict[str, int], total: int, sentence: str) -> list[str]:
    """jieba's accurate cut without HMM (Tokenizer.lcut(sentence, HMM=False)): the same words, about 2.4x faster.

    jieba builds a graph of every dictionary word starting at each character
    (get_DAG), then walks it backwards keeping the likeliest route (calc), one
    generator and one log() per edge. Here each edge's score is taken while the
    graph is walked, in one backward pass, with the same arithmetic in the same
    order (log(freq) - log(total) + the rest of the route) and the same tie rule
    (the longer word), so the routes are identical; tests compare the two over
    every phrasing and on generated text.
    """
    logtotal = math.log(total)
    log = math.log
    get = freq.get
    out: list[str] = []
    append = out.append
    for n, block in enumerate(_JIEBA_HAN.split(sentence)):
        if not block:
            continue
        if n % 2 == 0:  # between matches of the pattern (a capturing split alternates): jieba yields it char by char
            for piece in _JIEBA_SKIP.split(block):
                if _JIEBA_SKIP.match(piece):
                    append(piece)
                else:
                    out.extend(piece)
            continue
        size = len(block)
        score = [0.0] * (size + 1)
        end = [0] * (size + 1)
        for start in range(size - 1, -1, -1):
            i, best, best_end = start, None, start
            count = get(block[start])
            while count is not None:  # a word or a prefix of one (count 0) of the dictionary
                if count:
                    value = log(count) - logtotal + score[i + 1]
                    if best is None or value >= best:  # max() over (score, end): a tie goes to the longer word
                        best, best_end = value, i
                i += 1
                if i >= size:
                    break
                count = get(block[start:i + 1])
            score[start] = log(1) - logtotal + score[start + 1] if best is None else best
            end[start] = best_end
        at, letters = 0, ""
        while at < size:  # single letters and digits in a row are one word, as in jieba
            stop = end[at] + 1
            word = block[at:stop]
            if word in _JIEBA_ENG:
                letters += word
            else:
                if letters:
                    append(letters)
                    letters = ""
                append(word)
            at = stop
        if letters:
            append(letters)
    return out


def _remove_stale(cache_dir: Path, prefix: str, keep: Path) -> None:
    """Old caches of a previous dictionary or knowledge base are dead weight (several MB each)."""
    for old in cache_dir.glob(f"{prefix}*"):
        if old != keep:
            try:
                old.unlink()
            except OSError:
                pass


def import_jieba():
    """Import jieba without its optional pkg_resources lookup.

    jieba only uses pkg_resources to locate its own data files and falls back to
    a plain path when it is missing; importing it costs a tenth of a second of
    start-up, so it is hidden for the duration of the import.
    """
    if "jieba" in sys.modules:
        return sys.modules["jieba"]
    saved = sys.modules.get("pkg_resources", _ABSENT)
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]  # makes the import fail fast
    try:
        import jieba
    finally:
        if saved is _ABSENT:
            del sys.modules["pkg_resources"]
        else:
            sys.modules["pkg_resources"] = saved
    return jieba


_ABSENT = object()


def default_cache_dir() -> Path:
    """Where the jieba cache lives: $ACCOUNT_SAFETY_BOT_CACHE, else the XDG cache."""
    env = os.environ.get("ACCOUNT_SAFETY_BOT_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "account-safety-bot"


def read_userdict(path: Path) -> list[tuple[str, int | None]]:
    """Lines of 'word [freq] [tag]'; blank lines and # comments skipped."""
    if not path.exists():
        return []
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        freq = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
        words.append((parts[0], freq))
    return words


class TextNormaliser:
    """Question text to matching tokens: the one place both the KB and questions go through."""

    def __init__(self, synonyms: SynonymTable, userdict: Path, cache_dir: Path | None = None,
                 pinyin: bool = True) -> None:
        """`pinyin=False` reads no syllables (an empty pinyin block), for comparisons."""
        from .languages import converter

        self._t2s = converter("t2s")
        self._variants = {k.lower(): v for k, v in synonyms.variants.items()}
        self._pattern = synonyms.compile(self._variants)
        self._dialect = {k.lower(): v for k, v in synonyms.dialect.items()}
        self._dialect_pattern = synonyms.compile(self._dialect)
        self._stopwords = synonyms.stopwords
        jieba_cache = JiebaCache(userdict, cache_dir)
        self._jieba = jieba = jieba_cache.tokenizer()
        # The cached dictionary's tokenizer cuts in one pass; jieba's own (no cache folder) as it always did.
        self._cut = jieba.words if hasattr(jieba, "words") else (lambda text: jieba.lcut(text, HMM=False))
        self.pinyin = PinyinReader(jieba_cache.cache_dir) if pinyin else None
        # Everything that decides a text's tokens and syllables: a cached result is only reused when all match.
        self._cache_key = hashlib.sha256(
            repr((jieba_cache.key, self.pinyin.key if self.pinyin else None, sorted(self._variants.items()),
                  sorted(self._dialect.items()), sorted(self._stopwords), Path(__file__).read_bytes())).encode()
        ).hexdigest()[:16]
        self._cache_dir = jieba_cache.cache_dir
        self._prepared: dict[str, tuple[str, list[str], list[str]]] = {}  # text -> (normalised, tokens, syllables)

    @property
    def cache_key(self) -> str:
        """A digest of everything that shapes a text's normalised form, tokens and syllables."""
        return self._cache_key

    @property
    def cache_dir(self) -> Path:
        """Where derived data (the jieba dictionary, tokenised phrasings, trained models) is cached."""
        return self._cache_dir

    def prepare_many(self, texts: list[str]) -> list[tuple[str, list[str], list[str]]]:
        """(normalised text, tokens, syllables) for each text, as tokens_of_normalised and syllables give them.

        The knowledge base's phrasings are tokenised the same way at every start;
        the result is cached on disk, keyed by the texts and everything that
        shapes tokens, so a warm start skips a thousand jieba calls.
        """
        digest = hashlib.sha256(("\x00".join(texts) + self._cache_key).encode()).hexdigest()[:20]
        path = self._cache_dir / f"tokens-{digest}.json"
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if (isinstance(cached, list) and len(cached) == len(texts)
                    and all(isinstance(n, str) and isinstance(t, list) and isinstance(p, list) for n, t, p in cached)):
                result = [(n, t, p) for n, t, p in cached]
                if len(self._prepared) < 4 * len(texts):
                    self._prepared.update(zip(texts, result))
                return result
        except (OSError, ValueError, TypeError):
            pass
        prepared = []
        for text in texts:
            # A reload after an edit asks again for every text but the new ones: those are remembered.
            found = self._prepared.get(text)
            if found is None:
                written = self.normalise(text, synonyms=False)
                norm = self.fold(written)
                found = self._prepared[text] = (norm, self.tokens_of_normalised(norm), self.syllables(written))
            prepared.append(found)
        if len(self._prepared) > 4 * len(texts):  # texts of old versions: forgotten, not hoarded
            wanted = set(texts)
            self._prepared = {t: v for t, v in self._prepared.items() if t in wanted}
        try:
            self._cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(prepared, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
            _remove_stale(self._cache_dir, "tokens-", keep=path)
        except OSError:
            pass
        return prepared

    def normalise(self, text: str, synonyms: bool = True) -> str:
        """NFKC, lower case, Simplified Chinese, Cantonese as Mandarin, synonyms folded (unless
        `synonyms` is False); no tokenising. Any string is accepted."""
        text = clean_input(valid_text(text))[:MAX_MATCH_CHARS]
        text = unicodedata.normalize("NFKC", text).lower()
        if has_cjk(text):
            text = self._t2s.convert(text)
            if self._dialect_pattern is not None:
                text = self._dialect_pattern.sub(lambda m: self._dialect[m.group(0)], text)
        return self.fold(text) if synonyms else text

    def fold(self, text: str) -> str:
        """Synonyms folded into their canonical words, in a text normalised without them."""
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: self._variants[m.group(0)], text)
        return text

    def syllables(self, written: str) -> list[str]:
        """How a text sounds: toneless pinyin syllables, "" where the reading breaks.

        Read from the text normalised without synonyms, as it was written: 冻洁
        sounds like 冻结 only before 冻结 is folded into 封号.
        """
        return self.pinyin.syllables(written) if self.pinyin else []

    def tokens(self, text: str) -> list[str]:
        """Content tokens of a question, stopwords and punctuation removed."""
        return self.tokens_of_normalised(self.normalise(text))

    def tokens_of_normalised(self, norm: str) -> list[str]:
        if has_cjk(norm):
            raw = self._cut(norm)
        else:
            raw = _ASCII_WORD.findall(norm)
        out = []
        for tok in raw:
            tok = tok.strip()
            if not tok or not _TOKEN_IS_WORD.search(tok):
                continue
            if tok.isascii():
                tok = stem_english(tok)
                # Synonyms may name a stemmed form ("scams" -> "scam" -> "fraud").
                tok = self._variants.get(tok, tok)
            if tok in self._stopwords:
                continue
            out.append(tok)
        return out

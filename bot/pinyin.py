"""Toneless pinyin of questions: how a text sounds, so that homophones and typed pinyin meet.

Voice input and pinyin keyboards write 堵博 or du博 for 赌博, 解风 for 解封;
people without a Chinese keyboard type "weixin bei feng le". Read as toneless
syllables, all of them sound like the word they mean. Characters are read with
pypinyin's most common reading, from a table built once and cached as plain
data (importing pypinyin costs most of a second); Latin letters are read as
pinyin when they split into syllables and the text reads as pinyin.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
import re
from functools import lru_cache
from pathlib import Path

# Mandarin's toneless syllables (pypinyin's inventory without the interjections
# m, n, ng, hm, hng). ü is written u after l and n (lv and lu are typed alike).
SYLLABLES = frozenset("""
a ai an ang ao ba bai ban bang bao bei ben beng bi bian biang biao bie bin bing bo bong bu ca cai can cang cao
ce cei cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai chuan chuang chui chun chuo ci
cong cou cu cuan cui cun cuo da dai dan dang dao de dei den deng di dia dian diao die din ding diu dong dou du duan
dui dun duo e ei en eng er fa fan fang fei fen feng fiao fo fou fu ga gai gan gang gao ge gei gen geng gong gou gu
gua guai guan guang gui gun guo ha hai han hang hao he hei hen heng hong hou hu hua huai huan huang hui hun huo ji
jia jian jiang jiao jie jin jing jiong jiu ju juan jue jun ka kai kan kang kao ke kei ken keng kong kou ku kua kuai
kuan kuang kui kun kuo la lai lan lang lao le lei len leng li lia lian liang liao lie lin ling liu lo long lou lu
luan lue lun luo ma mai man mang mao me mei men meng mi mian miao mie min ming miu mo mou mu na nai nan nang nao ne
nei nen neng ni nia nian niang niao nie nin ning niu nong nou nu nuan nue nun nuo o ou pa pai pan pang pao pei pen
peng pi pian piao pie pin ping po pou pu qi qia qian qiang qiao qie qin qing qiong qiu qu quan que qun ran rang rao
re ren reng ri rong rou ru rua ruan rui run ruo sa sai san sang sao se sen seng sha shai shan shang shao she shei
shen sheng shi shou shu shua shuai shuan shuang shui shun shuo si song sou su suan sui sun suo ta tai tan tang tao
te tei teng ti tian tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen weng wo wong wu xi xia xian
xiang xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin ying yo yong you yu yuan yue yun za zai
zan zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhei zhen zheng zhi zhong zhou zhu zhua zhuai zhuan
zhuang zhui zhun zhuo zi zong zou zu zuan zui zun zuo
""".split())
_FOLD = {"lv": "lu", "nv": "nu", "lve": "lue", "nve": "nue"}  # ü typed as v
_TYPED = SYLLABLES | frozenset(_FOLD)
_LONGEST = max(map(len, _TYPED))

# English words that also split into syllables ("can you", "name", "police"): in a
# Chinese sentence they stay English, and they never make a sentence read as pinyin.
ENGLISH = frozenset("""
a an ai aiding alone anti anyone are area bang ban banning bare base bike buying came can canteen care case change
chase cheating china chinese courier cue cure danger data date dating decide delete deleting depending dice die due
dude ending e edu en face fake fan gang gate guarantee guide gun ha handing hang he headache hen here lean league
lending license licence lie like limiting line linkedin loan long longer lose lure made make man mean media meeting
men menu mine mini minute misuse mobile mode more mule mute name naming nice nude one open outage page paying pan
pie pin police policeman quote quoting ran re rebate refuse release remote renting rice routing rule run running
sale same saying secure see seen sending share she side site song sue sun sure take taken tan taxi tea tie time
tune wanna woman women you
""".split())

_TONE_MARKS = str.maketrans("āáǎàēéěèêīíǐìōóǒòūúǔùǖǘǚǜü", "aaaaeeeeeiiiioooouuuuvvvvv")
# A run of Latin letters as people type pinyin: tone marks, tone digits (wei4xin4), apostrophes (xi'an).
LATIN_RUN = re.compile(r"(?:[a-zāáǎàēéěèêīíǐìōóǒòūúǔùǖǘǚǜü]+[1-5']?)+")
_PIECE_BREAK = re.compile(r"[1-5']")
_FIRST, _LAST = 0x3400, 0x9FFF  # CJK Extension A and the Unified Ideographs
_HAN = re.compile(f"[{chr(_FIRST)}-{chr(_LAST)}]")
# Characters whose most common reading pypinyin does not list first (长 is chang in 多长时间).
_COMMON_READING = {"长": "chang", "似": "si"}


@lru_cache(maxsize=4096)
def split_syllables(word: str) -> tuple[str, ...] | None:
    """A typed Latin word as pinyin syllables ("weixin" -> wei, xin), or None if it is not pinyin.

    Fewest syllables win ("xian" is one, not xi-an); between splits of equal
    length the longer first syllable ("fangan": fang-an). Tone marks and tone
    digits are dropped; digits and apostrophes also mark syllable boundaries.
    """
    out: list[str] = []
    for piece in _PIECE_BREAK.split(word.translate(_TONE_MARKS)):
        if not piece:
            continue
        n = len(piece)
        best: list[tuple[str, ...] | None] = [None] * (n + 1)
        best[n] = ()
        for i in range(n - 1, -1, -1):
            for size in range(min(_LONGEST, n - i), 0, -1):
                syllable = piece[i: i + size]
                rest = best[i + size]
                if rest is not None and syllable in _TYPED and (best[i] is None or len(rest) + 1 < len(best[i])):
                    best[i] = (_FOLD.get(syllable, syllable), *rest)
        if best[0] is None:
            return None
        out += best[0]
    return tuple(out) or None


def reads_as_pinyin(text: str) -> bool:
    """True for a text without Chinese characters written in pinyin ("wo de qq bei dongjie le").

    More of its words split into syllables (common English words that do,
    such as "can", "name", count for neither side) than do not, and it has at
    least two syllables; words of one or two letters that are not pinyin (qq,
    vx, jf) count for neither side either.
    """
    pinyin = other = syllables = 0
    for word in LATIN_RUN.findall(text.lower()):
        split = split_syllables(word)
        if split is None:
            other += len(word) > 2
        elif word not in ENGLISH:
            pinyin += 1
            syllables += len(split)
    return syllables >= 2 and pinyin > other


class PinyinReader:
    """Reads a normalised text as toneless syllables; built once from a cached table."""

    def __init__(self, cache_dir: Path) -> None:
        self.key = _table_key()
        path = cache_dir / f"pinyin-{self.key}.txt"
        lines = _read_table(path)
        if lines is None:
            lines = [",".join(readings) for readings in _build_table()]
            try:
                cache_dir.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".tmp{os.getpid()}")
                tmp.write_text("\n".join(lines), encoding="utf-8")
                os.replace(tmp, path)
                for old in cache_dir.glob("pinyin-*.txt"):
                    if old != path:
                        old.unlink(missing_ok=True)
            except OSError:
                pass  # a read-only cache still reads, only without the fast start
        self._lines = lines  # each character's readings, comma-separated, the most common first
        self._reading = [line.partition(",")[0] for line in lines]
        # For str.translate: each character becomes its reading between spaces.
        self._spaced = {_FIRST + i: f" {r} " for i, r in enumerate(self._reading) if r}

    def reading(self, char: str) -> str:
        """The most common toneless reading of a character, or "" for anything else."""
        o = ord(char) - _FIRST if len(char) == 1 else -1
        return self._reading[o] if 0 <= o <= _LAST - _FIRST else ""

    def readings(self, char: str) -> tuple[str, ...]:
        """Every toneless reading of a character (行: xing, hang), the most common first."""
        o = ord(char) - _FIRST if len(char) == 1 else -1
        line = self._lines[o] if 0 <= o <= _LAST - _FIRST else ""
        return tuple(line.split(",")) if line else ()

    def syllables(self, norm: str) -> list[str]:
        """The text as syllables, "" where something unreadable (punctuation, digits, English) breaks it.

        Spaces do not break: people type pinyin syllable by syllable. Latin
        words are read as typed_pinyin() says.
        """
        if not LATIN_RUN.search(norm):
            # No Latin letters (most questions): str.translate reads every character in C;
            # whatever is left between the readings (punctuation, digits) is a break.
            return [t if t in SYLLABLES else "" for t in norm.translate(self._spaced).split()]
        reading, first = self._reading, _FIRST
        out: list[str] = []
        start = 0
        for piece, split in (*typed_pinyin(norm), (None, None)):
            for c in norm[start: piece.start() if piece else len(norm)]:
                o = ord(c) - first
                if 0 <= o < len(reading) and reading[o]:
                    out.append(reading[o])
                elif not c.isspace() and out and out[-1]:
                    out.append("")
            if piece is None:
                break
            if split:
                out += split
            elif out and out[-1]:
                out.append("")
            start = piece.end()
        while out and not out[-1]:
            out.pop()
        return out


# Letters next to these are part of a link, an e-mail address or an account id (wx-jiefeng.com, jf_0722).
_GLUE = frozenset("-_./@:#&=%?~+\\0123456789")


def typed_pinyin(norm: str) -> list[tuple[re.Match[str], tuple[str, ...] | None]]:
    """Each Latin word of a normalised text, with its syllables where it is read as pinyin.

    When the whole text reads as pinyin, every word that splits into
    syllables is; in a Chinese sentence (du博), every such word that is not
    common English. Never a word glued to a link's or an id's punctuation.
    """
    global _last_typed
    last = _last_typed  # a question is read twice (decoded, then as syllables): the second time is remembered
    if last is not None and last[0] == norm:
        return list(last[1])
    found = list(LATIN_RUN.finditer(norm))
    if not found:
        return []
    whole = reads_as_pinyin(norm)
    chinese = not whole and _HAN.search(norm) is not None
    out = []
    for m in found:
        word = m.group()
        glued = (m.start() > 0 and norm[m.start() - 1] in _GLUE) or (m.end() < len(norm) and norm[m.end()] in _GLUE)
        readable = not glued and (whole or (chinese and word not in ENGLISH))
        out.append((m, split_syllables(word) if readable else None))
    _last_typed = (norm, tuple(out))  # one tuple, replaced whole: safe to read from another thread
    return out


_last_typed: tuple[str, tuple[tuple[re.Match[str], tuple[str, ...] | None], ...]] | None = None


def _table_key() -> str:
    """What the cached table is built from: pypinyin's character table (its path, size and time) and this module.

    find_spec locates pypinyin without running it, and a stat is all it costs
    (importlib.metadata took 30 ms of every start).
    """
    from importlib.util import find_spec

    spec = find_spec("pypinyin")
    source = "missing"
    if spec is not None and spec.submodule_search_locations:
        data = Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.py"
        try:
            stat = data.stat()
            source = f"{data}|{stat.st_size}|{stat.st_mtime_ns}"
        except OSError:
            pass
    return hashlib.sha256(source.encode() + Path(__file__).read_bytes()).hexdigest()[:16]


def _read_table(path: Path) -> list[str] | None:
    """The cached table's lines, one per character, or None when it is missing or not one line per character."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    return lines if len(lines) == _LAST - _FIRST + 1 else None


def _build_table() -> list[tuple[str, ...]]:
    """Every character's toneless readings from pypinyin's table (its most common reading first)."""
    import unicodedata

    from pypinyin.pinyin_dict import pinyin_dict

    table = []
    for code in range(_FIRST, _LAST + 1):
        readings: list[str] = []
        for raw in pinyin_dict.get(code, "").split(","):
            plain = "".join(c for c in unicodedata.normalize("NFD", raw).replace("u\u0308", "v")
                            if unicodedata.category(c) != "Mn")
            plain = _FOLD.get(plain, plain)
            if plain in SYLLABLES and plain not in readings:
                readings.append(plain)
        common = _COMMON_READING.get(chr(code))
        if common in readings:
            readings.remove(common)
            readings.insert(0, common)
        table.append(tuple(readings))
    return table


class PinyinDecoder:
    """Typed pinyin back into Chinese words, as an input method would, from a vocabulary with counts.

    The vocabulary is the knowledge base's own words, so "weixin bei feng le
    zenme shensu" becomes 微信被封了怎么申诉 and is then matched like any
    question. Characters the person did type stay as they are: in 冻jie the
    Latin syllable is read as the rest of a word that fits them (冻结).
    """

    def __init__(self, reader: PinyinReader, counts: dict[str, int]) -> None:
        self._reader = reader
        self._best: dict[str, tuple[str, float]] = {}  # "dong jie" -> (冻结, cost)
        total = sum(counts.values()) or 1
        self._log_total = math.log(total)
        for word, count in counts.items():
            cost = self._log_total - math.log(count)
            for key in self._keys(word):
                if key not in self._best or cost < self._best[key][1]:
                    self._best[key] = (word, cost)
        self._longest = max((k.count(" ") + 1 for k in self._best), default=1)
        self._char_cost = {w: c for w, c in self._best.values() if len(w) == 1}

    def _keys(self, word: str) -> list[str]:
        """The word's readings as keys ("yin hang" for 银行: each character's readings, a few at most)."""
        options = [self._reader.readings(c)[:3] for c in word]
        if not word or not all(options):
            return []
        return [" ".join(combo) for combo in itertools.islice(itertools.product(*options), 16)]

    def decode(self, norm: str) -> str:
        """The text with its pinyin words written as the vocabulary's words; anything else as it was."""
        typed = typed_pinyin(norm) if self._best else []
        if not any(split for _, split in typed):
            return norm
        # Units: a Chinese character (fixed), a syllable typed in Latin letters (free), or anything else (a break).
        units: list[tuple[str, str | None] | str] = []
        start = 0
        for piece, split in (*typed, (None, None)):
            for c in norm[start: piece.start() if piece else len(norm)]:
                reading = self._reader.reading(c)
                units.append((reading, c) if reading else c)
            if piece is None:
                break
            units += [(s, None) for s in split] if split else [piece.group()]
            start = piece.end()
        out: list[str] = []
        stretch: list[tuple[str, str | None]] = []
        for unit in (*units, None):
            if isinstance(unit, tuple):
                stretch.append(unit)
            elif unit is not None and unit.isspace() and stretch:
                continue  # spaces between typed syllables are not word breaks
            else:
                out.append(self._decode_stretch(stretch))
                stretch = []
                out.append(unit or "")
        return "".join(out)

    def _decode_stretch(self, units: list[tuple[str, str | None]]) -> str:
        """The cheapest words for a run of syllables; typed characters stay, Latin syllables become words."""
        if all(char is not None for _, char in units):
            return "".join(char for _, char in units)  # no pinyin here: nothing to decode
        n = len(units)
        unknown = self._log_total + 4.0  # a syllable no word explains stays as typed
        best: list[tuple[float, list[str]] | None] = [None] * (n + 1)
        best[0] = (0.0, [])
        for i in range(n):
            if best[i] is None:
                continue
            cost_so_far, words = best[i]
            reading, char = units[i]
            # The unit on its own: a typed character as it is, or a syllable as its commonest word.
            if char is not None:
                single = (char, self._char_cost.get(char, self._log_total + 2.0))
            else:
                single = self._best.get(reading, (reading, unknown))
            for end, (word, cost) in [(i + 1, single), *self._words_from(units, i)]:
                total = cost_so_far + cost
                if best[end] is None or total < best[end][0]:
                    best[end] = (total, words + [word])
        return "".join(best[n][1]) if best[n] else "".join(c or r for r, c in units)

    def _words_from(self, units: list[tuple[str, str | None]], start: int) -> list[tuple[int, tuple[str, float]]]:
        """Words of two or more syllables starting at `start` that keep every typed character."""
        found = []
        for end in range(start + 2, min(len(units), start + self._longest) + 1):
            hit = self._best.get(" ".join(r for r, _ in units[start:end]))
            if hit and all(c is None or c == w for (_, c), w in zip(units[start:end], hit[0])):
                found.append((end, hit))
        return found

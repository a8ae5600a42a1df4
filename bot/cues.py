"""The situation model's cues: words that say who asks and at what stage (situations.yaml `cues`).

A cue is a named list of words (我妈、老公 and "my son" are kin; 已经、卖给 and
"sold" are done). Chinese words are found anywhere in a text, ASCII words (one
or two) only as whole words. Finding them is a dictionary walk, not a regular expression:
a trie regex over a few hundred Chinese words costs some 50 µs per text in
Python's engine, and every phrasing of the knowledge base is read at start.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Callable

_ASCII_WORD = re.compile(r"[a-z0-9]+")


class CueFinder:
    """The names of the cues whose words a text holds."""

    def __init__(self, cues: dict[str, tuple[str, ...]]) -> None:
        self.names = tuple(cues)
        self._lexicon = cues
        # A Chinese word by its first character; an ASCII word by itself.
        self._by_first: dict[str, list[tuple[str, frozenset[str]]]] = {}
        self._ascii: dict[str, set[str]] = {}
        owners: dict[str, set[str]] = {}
        for name, words in cues.items():
            for word in words:
                owners.setdefault(word, set()).add(name)
        for word, names in owners.items():
            if word.isascii():
                self._ascii.setdefault(word, set()).update(names)
            else:
                self._by_first.setdefault(word[0], []).append((word, frozenset(names)))

    def find(self, text: str) -> list[str]:
        """The cue names found in `text` (lower case, Simplified), in the order of the cues."""
        found: set[str] = set()
        by_first = self._by_first
        for ch in set(text) & by_first.keys():
            for word, names in by_first[ch]:
                if not names <= found and word in text:
                    found |= names
        if self._ascii:
            words = _ASCII_WORD.findall(text)
            for word in [*words, *map(" ".join, zip(words, words[1:]))]:  # a cue of two words: "my mom"
                names = self._ascii.get(word)
                if names:
                    found |= names
        return [name for name in self.names if name in found]

    def find_many(self, texts: list[str], written: Callable[[str], str], cache_dir: Path, key: str) -> list[list[str]]:
        """The cues of each text, read as `written` gives it; cached in `cache_dir` like the tokenised phrasings.

        `key` names everything else that shapes `written` (the normaliser's
        tables): the knowledge base's phrasings are read the same way at every
        start, and a warm start skips normalising and searching them all.
        """
        lexicon = json.dumps({name: sorted(words) for name, words in self._lexicon.items()}, ensure_ascii=False)
        digest = hashlib.sha256("\x00".join([*texts, lexicon, key]).encode()).hexdigest()[:20]
        path = cache_dir / f"cues-{digest}.json"
        try:
            cached = json.loads(path.read_text(encoding="utf-8"))
            if (isinstance(cached, list) and len(cached) == len(texts)
                    and all(isinstance(c, list) and all(n in self._lexicon for n in c) for c in cached)):
                return cached
        except (OSError, ValueError, TypeError):
            pass
        found = [self.find(written(text)) for text in texts]
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(json.dumps(found, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, path)
            for stale in cache_dir.glob("cues-*.json"):
                if stale != path:
                    stale.unlink(missing_ok=True)
        except OSError:
            pass
        return found

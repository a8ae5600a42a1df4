"""What loading the knowledge base derives from its files, cached on disk keyed by content.

Parsing the YAML files and compiling and shape-checking the red flags' regular
expressions took about half of every start. Their results depend only on the
bytes of each file and on each pattern's text (and on the code that produces
them), so they are kept in one JSON file of the cache folder: an entry is found
by the SHA-256 of the file's bytes, or by the pattern's exact text, and the file's
name hashes the code and versions that made it. Only successes are stored: a file
that does not parse, or a pattern that does not compile or is refused, is
worked on again at every load and reported as before; any edit changes the key.
The cached data are plain JSON (no pickle), so a file planted in the cache
folder cannot run code; and the validation of the knowledge base always runs
on the data, cached or not.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import math
import os
import re
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

# Bump when what is stored changes shape.
FORMAT = 1
_HERE = Path(__file__).resolve().parent
# The code whose output is cached: any change to it is a new cache file.
_PRODUCERS = ("loadcache.py", "knowledge.py", "regex_shape.py")

# The load in progress in this thread or task (knowledge.load_knowledge sets it), or None: no caching.
CURRENT: contextvars.ContextVar[LoadCache | None] = contextvars.ContextVar("kb_load_cache", default=None)


def environment_key() -> str:
    """What else shapes the cached results: this code, the Python and the SRE engine, PyYAML's installed files."""
    import _sre

    digest = hashlib.sha256(f"{FORMAT}|{sys.version}|{_sre.MAGIC}|{_sre.CODESIZE}".encode())
    for name in _PRODUCERS:
        digest.update((_HERE / name).read_bytes())
    digest.update(package_stamp("yaml").encode())
    return digest.hexdigest()[:20]


def package_stamp(name: str) -> str:
    """An installed package's files (names, sizes, times, sub-folders too), found without importing it.

    Reinstalling or upgrading the package changes it, and so every cache keyed by it.
    """
    spec = find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return f"{name}: missing"
    folder = next(iter(spec.submodule_search_locations))
    parts = [folder]
    for here, subfolders, files in sorted(os.walk(folder)):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")  # rewritten by imports: not content
        for file in sorted(files):
            with contextlib.suppress(OSError):
                stat = os.stat(os.path.join(here, file))
                parts.append(f"{os.path.relpath(os.path.join(here, file), folder)}|{stat.st_size}|{stat.st_mtime_ns}")
    return "\n".join(parts)


class LoadCache:
    """One load's view of the cache file: entries found are reused, new ones are written back by save()."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.path = cache_dir / f"kb-{environment_key()}.json"
        self._files: dict[str, list] = {}  # SHA-256 of a file's bytes -> [data, {top-level key: line}]
        self._patterns: dict[str, list] = {}  # pattern -> [flags, code, groups, groupindex, indexgroup]
        self._used_files: dict[str, list] = {}
        self._used_patterns: dict[str, list] = {}
        self._added = False
        try:
            stored = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(stored, dict) and stored.get("format") == FORMAT:
            files, patterns = stored.get("files"), stored.get("patterns")
            self._files = files if isinstance(files, dict) else {}
            self._patterns = patterns if isinstance(patterns, dict) else {}

    # Parsed YAML

    def parsed(self, raw: bytes) -> tuple[Any, dict[str, int]] | None:
        """The data and key lines a file of exactly these bytes parsed to, or None when not cached."""
        key = hashlib.sha256(raw).hexdigest()
        entry = self._files.get(key)
        if (not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], dict)
                or not all(isinstance(k, str) and type(v) is int for k, v in entry[1].items())):
            return None
        self._used_files[key] = entry
        return entry[0], dict(entry[1])

    def add_parsed(self, raw: bytes, data: Any, lines: dict[str, int]) -> None:
        """Remember what a file parsed to, when JSON gives back exactly the same values and types."""
        if data is None or not _json_exact(data):
            return
        key = hashlib.sha256(raw).hexdigest()
        # A copy: what is written is what the file parsed to, whatever the loader does with its data afterwards.
        self._used_files[key] = [json.loads(json.dumps(data, ensure_ascii=False)), dict(lines)]
        self._added = True

    # Compiled and checked patterns

    def pattern(self, pattern: str) -> re.Pattern[str] | None:
        """The compiled pattern, rebuilt from its cached program, or None when not cached (then compile it)."""
        parts = self._patterns.get(pattern)
        if parts is None:
            return None
        compiled = _rebuild(pattern, parts)
        if compiled is not None:
            self._used_patterns[pattern] = parts
        return compiled

    def add_pattern(self, pattern: str, compiled: re.Pattern[str]) -> None:
        """Remember a pattern that compiled and passed the shape check, if its program rebuilds to an equal pattern."""
        parts = _program(pattern)
        rebuilt = _rebuild(pattern, parts) if parts is not None else None
        # Pattern equality compares the text, the flags and the whole compiled program; the groups are compared here.
        if (rebuilt is not None and rebuilt == compiled and rebuilt.groups == compiled.groups
                and rebuilt.groupindex == compiled.groupindex):
            self._used_patterns[pattern] = parts
            self._added = True

    def save(self) -> None:
        """Write what this load used, when it had to parse or compile anything (entries of old files are dropped)."""
        if not self._added:
            return
        from .text import _remove_stale

        body = json.dumps({"format": FORMAT, "files": self._used_files, "patterns": self._used_patterns},
                          ensure_ascii=False, allow_nan=False)
        with contextlib.suppress(OSError):  # a read-only cache still loads, only without the fast start
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".tmp{os.getpid()}")
            tmp.write_text(body, encoding="utf-8")
            os.replace(tmp, self.path)
            _remove_stale(self.cache_dir, "kb-", keep=self.path)


def _json_exact(value: Any) -> bool:
    """True when JSON gives `value` back with the same types and values (no dates, no non-string keys, no NaN)."""
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_json_exact(v) for v in value)
    if kind is dict:
        return all(type(k) is str and _json_exact(v) for k, v in value.items())
    return False


def _program(pattern: str) -> list | None:
    """What re.compile hands the SRE engine for `pattern` (re._compiler.compile, step by step), as JSON values."""
    try:
        from re import _compiler, _parser

        parsed = _parser.parse(pattern, 0)
        code = _compiler._code(parsed, 0)
        groupindex = dict(parsed.state.groupdict)
        indexgroup: list[str | None] = [None] * parsed.state.groups
        for name, index in groupindex.items():
            indexgroup[index] = name
        # Opcodes are int subclasses that print as names: stored as the plain numbers _sre reads.
        return [int(parsed.state.flags), [int(c) for c in code], parsed.state.groups - 1, groupindex, indexgroup]
    except Exception:  # noqa: BLE001 - another Python's internals: then the pattern is simply not cached
        return None


def _rebuild(pattern: str, parts: Any) -> re.Pattern[str] | None:
    """The compiled pattern from its cached program; None when the entry is not one (then it is compiled anew)."""
    import _sre

    try:
        flags, code, groups, groupindex, indexgroup = parts
        if (type(flags) is not int or type(groups) is not int or not isinstance(code, list)
                or not all(type(c) is int for c in code) or not isinstance(groupindex, dict)
                or not isinstance(indexgroup, list)):
            return None
        # _sre validates the program and refuses a malformed one (RuntimeError).
        return _sre.compile(pattern, flags, code, groups, groupindex, tuple(indexgroup))
    except Exception:  # noqa: BLE001 - a malformed entry is not an error: the pattern is compiled as usual
        return None

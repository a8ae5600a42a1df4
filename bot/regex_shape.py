"""Finds regular-expression shapes that make Python's backtracking engine slower than linear.

The red flags are curated regexes applied to any text a stranger sends, so a
pattern whose cost grows with the square of the input lets one message stall the
bot. The shape checked here caused every such pattern found so far: an unbounded
repeat of one character class (``\\d+``, ``\\w*``, ``[a-z0-9-]+``) that can begin at
every position of a long run of those characters, because nothing before it pins
where it starts. ``(?<!\\d)\\d+``, ``earn \\d+`` and ``收益\\s*\\d+`` are anchored;
``\\d+ ?元``, ``(buy|sell)\\w*`` and ``\\s*[？?]?\\s*$`` are not. Nested unbounded
repeats (``(a+)+``) are refused too.
"""

from __future__ import annotations

import re
from re import _constants as sre  # the parser's node types; stable since Python 3.11
from re import _parser as sre_parse

_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
_SINGLE = (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN)
_CATEGORIES = {
    sre.CATEGORY_DIGIT: re.compile(r"\d"),
    sre.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    sre.CATEGORY_WORD: re.compile(r"\w"),
    sre.CATEGORY_NOT_WORD: re.compile(r"\W"),
    sre.CATEGORY_SPACE: re.compile(r"\s"),
    sre.CATEGORY_NOT_SPACE: re.compile(r"\S"),
}
# Characters tried when deciding whether two character classes overlap, beside
# every literal and range end the pattern names.
_WORD = _CATEGORIES[sre.CATEGORY_WORD]
_PROBES = "0 9aAz_-.\n!?。？中的😀%@:：/"


def super_linear_problems(pattern: str) -> list[str]:
    """Why `pattern` may take more than linear time; empty when its shape is safe."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return []  # compiling reports it
    probes = set(_PROBES)
    _collect_literals(list(parsed), probes)
    problems: list[str] = []
    _check_sequence(list(parsed), [], probes, problems)
    return problems


def _collect_literals(items: list, probes: set[str]) -> None:
    for op, av in items:
        if op in (sre.LITERAL, sre.NOT_LITERAL):
            probes.add(chr(av))
        elif op == sre.RANGE:
            probes.update((chr(av[0]), chr(av[1])))
        elif op == sre.IN:
            _collect_literals(av, probes)
        elif op in _REPEATS:
            _collect_literals(list(av[2]), probes)
        elif op == sre.SUBPATTERN:
            _collect_literals(list(av[-1]), probes)
        elif op == sre.BRANCH:
            for branch in av[1]:
                _collect_literals(list(branch), probes)
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            _collect_literals(list(av[1]), probes)
        elif op == sre.ATOMIC_GROUP:
            _collect_literals(list(av), probes)


def _check_sequence(items: list, before: list, probes: set[str], problems: list[str]) -> None:
    for i, (op, av) in enumerate(items):
        context = before + items[:i]
        if op in _REPEATS:
            low, high, body = av
            body = list(body)
            if high == sre.MAXREPEAT:
                if len(body) == 1 and body[0][0] in _SINGLE:
                    if not _anchored(body[0], context, probes):
                        problems.append(
                            f"an unbounded repeat ({_describe(body[0])}{'*' if low == 0 else '+'}) that can start "
                            "anywhere in a run of the characters it matches: anchor it, e.g. with a lookbehind "
                            r"such as (?<!\d)\d+, or bound it, e.g. \w{0,12}"
                        )
                elif _has_unbounded(body):
                    problems.append("a repeat of a repeat, such as (a+)+: exponential on some inputs")
            _check_sequence(body, context, probes, problems)
        elif op == sre.SUBPATTERN:
            _check_sequence(list(av[-1]), context, probes, problems)
        elif op == sre.BRANCH:
            for branch in av[1]:
                _check_sequence(list(branch), context, probes, problems)
        elif op == sre.ATOMIC_GROUP:
            _check_sequence(list(av), context, probes, problems)


def _has_unbounded(items: list) -> bool:
    for op, av in items:
        if op in _REPEATS and (av[1] == sre.MAXREPEAT or _has_unbounded(list(av[2]))):
            return True
        if op == sre.SUBPATTERN and _has_unbounded(list(av[-1])):
            return True
        if op == sre.BRANCH and any(_has_unbounded(list(b)) for b in av[1]):
            return True
    return False


def _anchored(repeated: tuple, context: list, probes: set[str]) -> bool:
    """Whether something before the repeat pins its start outside a run of its characters."""
    for op, av in reversed(context):
        if op == sre.ASSERT_NOT and av[0] == -1:
            return True  # a negative lookbehind: the curator excluded what may precede
        if op == sre.AT:
            if av in (sre.AT_BEGINNING, sre.AT_BEGINNING_STRING):
                return True
            if av == sre.AT_BOUNDARY and all(_WORD.match(ch) for ch in probes if _matches(repeated, ch)):
                return True  # \b before a run of word characters starts it at the run's start
            continue
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            continue
        ends, may_be_empty = _ends([(op, av)])
        if ends is None:
            return True  # too complex to judge: give the benefit of the doubt
        overlaps = any(_overlap(repeated, end, probes) for end in ends)
        if overlaps and op in _REPEATS and av[1] == sre.MAXREPEAT:
            return False  # two unbounded runs of the same characters side by side
        if not overlaps and not may_be_empty:
            return True
        # A bounded run of the same characters, or something that may match
        # nothing, shifts the start by a bounded amount: look further back.
    return False


def _ends(items: list) -> tuple[list | None, bool]:
    """The single-character items a sequence can end with, and whether it can match nothing."""
    ends: list = []
    for op, av in reversed(items):
        if op in _SINGLE:
            return ends + [(op, av)], False
        if op == sre.AT or op in (sre.ASSERT, sre.ASSERT_NOT):
            continue
        if op in _REPEATS:
            inner, inner_empty = _ends(list(av[2]))
            if inner is None:
                return None, False
            ends += inner
            if av[0] > 0 and not inner_empty:
                return ends, False
            continue
        if op == sre.SUBPATTERN:
            inner, inner_empty = _ends(list(av[-1]))
        elif op == sre.BRANCH:
            inner, inner_empty = [], False
            for branch in av[1]:
                got, empty = _ends(list(branch))
                if got is None:
                    return None, False
                inner += got
                inner_empty = inner_empty or empty
        else:
            return None, False  # backreferences, conditionals: not analysed
        if inner is None:
            return None, False
        ends += inner
        if not inner_empty:
            return ends, False
    return ends, True


def _matches(item: tuple, ch: str) -> bool:
    op, av = item
    if op == sre.LITERAL:
        return ch == chr(av)
    if op == sre.NOT_LITERAL:
        return ch != chr(av)
    if op == sre.ANY:
        return ch != "\n"
    negate = False
    hit = False
    for sub_op, sub_av in av:
        if sub_op == sre.NEGATE:
            negate = True
        elif sub_op == sre.LITERAL:
            hit = hit or ch == chr(sub_av)
        elif sub_op == sre.RANGE:
            hit = hit or sub_av[0] <= ord(ch) <= sub_av[1]
        elif sub_op == sre.CATEGORY:
            category = _CATEGORIES.get(sub_av)
            hit = hit or (category is not None and category.match(ch) is not None)
    return hit != negate


def _overlap(a: tuple, b: tuple, probes: set[str]) -> bool:
    return any(_matches(a, ch) and _matches(b, ch) for ch in probes)


def _describe(item: tuple) -> str:
    op, av = item
    if op == sre.LITERAL:
        return re.escape(chr(av))
    if op == sre.ANY:
        return "."
    if op == sre.IN and len(av) == 1 and av[0][0] == sre.CATEGORY:
        return {sre.CATEGORY_DIGIT: r"\d", sre.CATEGORY_WORD: r"\w", sre.CATEGORY_SPACE: r"\s"}.get(av[0][1], "[…]")
    return "[…]" if op == sre.IN else "…"

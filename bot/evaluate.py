"""Accuracy of the matcher: on a labelled question file (format of shared/eval/dev.yaml),
and by k-fold cross-validation of the whole pipeline over the knowledge base's own phrasings.

Both print the misses and a confusion summary (which topics are taken for which),
so that a curator sees which phrasings to add.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import UserError
from .knowledge import KnowledgeBase
from .matcher import Match, Matcher, MatchSettings
from .text import TextNormaliser

NONE = "none"  # the label of an out-of-scope question, and of a "none" decision


_UNLABELLED = "?"  # a case without a `situation` key: its situation is not evaluated


@dataclass
class EvalCase:
    question: str
    expected: frozenset[str]  # empty: out of scope
    situation: str | None = _UNLABELLED  # the asker's situation, None for the topic's general reader


@dataclass
class EvalReport:
    in_scope: int = 0
    top1: int = 0
    top3: int = 0
    out_of_scope: int = 0
    rejected: int = 0
    misses: list[tuple[EvalCase, Match]] = field(default_factory=list)
    confusion: Counter = field(default_factory=Counter)  # (wanted, got) -> count, misses only
    situated: int = 0  # cases labelled with a situation
    first_right: int = 0  # …whose reply opened with that situation's first lines (topic and situation right)
    situation_misses: list[tuple[EvalCase, Match]] = field(default_factory=list)

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.in_scope if self.in_scope else 1.0

    @property
    def top3_rate(self) -> float:
        return self.top3 / self.in_scope if self.in_scope else 1.0

    @property
    def rejection_rate(self) -> float:
        return self.rejected / self.out_of_scope if self.out_of_scope else 1.0

    def figures(self) -> dict:
        """The counts and rates, for machines (`eval --json`, the curator page)."""
        return {"in_scope": self.in_scope, "top1": round(self.top1_rate, 4), "top3": round(self.top3_rate, 4),
                "out_of_scope": self.out_of_scope, "rejection": round(self.rejection_rate, 4),
                "situated": self.situated,
                "situation": round(self.first_right / self.situated, 4) if self.situated else None}

    def add(self, other: "EvalReport") -> None:
        for name in ("in_scope", "top1", "top3", "out_of_scope", "rejected", "situated", "first_right"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.misses += other.misses
        self.situation_misses += other.situation_misses
        self.confusion.update(other.confusion)

    def render(self, show_misses: bool = True, confusions: int = 12) -> str:
        lines = []
        if show_misses and self.misses:
            lines.append(f"misses ({len(self.misses)}):")
            for case, match in self.misses:
                want = "|".join(sorted(case.expected)) or NONE
                alts = ", ".join(f"{a.topic} {a.score:.2f}" for a in match.alternatives)
                lines.append(f"  want {want:<24} got {match.decision:<7} {match.topic or '-':<24} {match.score:.2f}  [{alts}]  {case.question}")
        if show_misses and self.confusion:
            lines.append("most frequent confusions (wanted -> got: count):")
            for (want, got), n in self.confusion.most_common(confusions):
                lines.append(f"  {want:<24} -> {got:<24} {n}")
        if show_misses and self.situation_misses:
            lines.append(f"situation misses ({len(self.situation_misses)}):")
            for case, match in self.situation_misses:
                lines.append(f"  want {min(case.expected)}/{case.situation or 'general':<16} got {match.topic or '-'}/"
                             f"{match.situation or 'general':<16} {case.question}")
        lines.append(f"in-scope top-1 accuracy:  {self.top1_rate:6.1%} ({self.top1}/{self.in_scope})")
        lines.append(f"in-scope top-3 accuracy:  {self.top3_rate:6.1%} ({self.top3}/{self.in_scope})")
        lines.append(f"out-of-scope rejection:   {self.rejection_rate:6.1%} ({self.rejected}/{self.out_of_scope})")
        if self.situated:
            lines.append(f"right first lines:        {self.first_right / self.situated:6.1%} "
                         f"({self.first_right}/{self.situated}: topic and situation right)")
        return "\n".join(lines) + "\n"


def load_cases(path: Path) -> list[EvalCase]:
    """Cases of an evaluation file: `cases: [{q, topic}]`, topic a string, a list or null."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: not a valid YAML file: {str(exc).splitlines()[0]}") from None
    cases = data.get("cases") if isinstance(data, dict) else None
    if not isinstance(cases, list):
        raise UserError(f"{path}: expected a top-level 'cases' list")
    out = []
    for i, case in enumerate(cases):
        if not isinstance(case, dict) or not isinstance(case.get("q"), str):
            raise UserError(f"{path}: case {i + 1}: needs a 'q' string")
        topic = case.get("topic")
        expected = frozenset([topic] if isinstance(topic, str) else (topic or []))
        situation = case.get("situation", _UNLABELLED)
        if situation is not None and not isinstance(situation, str):
            raise UserError(f"{path}: case {i + 1}: 'situation' must be a situation id or null")
        out.append(EvalCase(case["q"], expected, situation))
    return out


def ranked_topics(match: Match) -> list[str]:
    """The matcher's topics best first: the answer or suggestion, then the alternatives."""
    head = [match.topic] if match.topic else []
    return head + [a.topic for a in match.alternatives if a.topic != match.topic]


def evaluate(matcher: Matcher, cases: list[EvalCase]) -> EvalReport:
    report = EvalReport()
    for case in cases:
        match = matcher.match_question(case.question)
        got = match.topic if match.decision != "none" and match.topic else NONE
        if case.expected:
            report.in_scope += 1
            hit1 = got in case.expected
            report.top1 += hit1
            report.top3 += bool(case.expected.intersection(ranked_topics(match)[:3]))
            if not hit1:
                report.misses.append((case, match))
                report.confusion[(min(case.expected), got)] += 1
            if case.situation != _UNLABELLED:
                report.situated += 1
                if hit1 and match.situation == case.situation:
                    report.first_right += 1
                else:
                    report.situation_misses.append((case, match))
        else:
            report.out_of_scope += 1
            if got == NONE:
                report.rejected += 1
            else:
                report.misses.append((case, match))
                report.confusion[(NONE, got)] += 1
    return report


def evaluate_file(matcher: Matcher, path: Path) -> EvalReport:
    return evaluate(matcher, load_cases(path))


def crossvalidate(kb: KnowledgeBase, normaliser: TextNormaliser, folds: int = 5,
                  settings: MatchSettings | None = None) -> EvalReport:
    """k-fold cross-validation of the whole pipeline over the knowledge base's phrasings.

    Fold k holds out every folds-th phrasing of each topic and of the
    out-of-scope list; the matcher, classifier included, is rebuilt from the
    rest and asked the held-out ones.
    """
    if folds < 2:
        raise UserError("--folds needs at least 2 folds")
    total = EvalReport()
    for k in range(folds):
        held: list[EvalCase] = []
        topics = {}
        for tid, topic in kb.topics.items():
            held += [EvalCase(q, frozenset([tid]), None) for i, q in enumerate(topic.questions) if i % folds == k]
            held += [EvalCase(q, frozenset([tid]), s.id) for s in topic.situations
                     for i, q in enumerate(s.questions) if i % folds == k]
            situations = tuple(dataclasses.replace(s, questions=tuple(q for i, q in enumerate(s.questions) if i % folds != k))
                               for s in topic.situations)
            topics[tid] = dataclasses.replace(topic, questions=tuple(q for i, q in enumerate(topic.questions) if i % folds != k),
                                              situations=situations)
        held += [EvalCase(q, frozenset()) for i, q in enumerate(kb.out_of_scope) if i % folds == k]
        fold_kb = dataclasses.replace(kb, topics=topics, out_of_scope=tuple(q for i, q in enumerate(kb.out_of_scope) if i % folds != k))
        total.add(evaluate(Matcher(fold_kb, normaliser, settings), held))
    return total

"""Accuracy of the matcher on a labelled question file (format of shared/eval/dev.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import UserError
from .matcher import Match, Matcher


@dataclass
class EvalCase:
    question: str
    expected: frozenset[str]  # empty: out of scope


@dataclass
class EvalReport:
    in_scope: int = 0
    top1: int = 0
    top3: int = 0
    out_of_scope: int = 0
    rejected: int = 0
    misses: list[tuple[EvalCase, Match]] = field(default_factory=list)

    @property
    def top1_rate(self) -> float:
        return self.top1 / self.in_scope if self.in_scope else 1.0

    @property
    def top3_rate(self) -> float:
        return self.top3 / self.in_scope if self.in_scope else 1.0

    @property
    def rejection_rate(self) -> float:
        return self.rejected / self.out_of_scope if self.out_of_scope else 1.0

    def render(self, show_misses: bool = True) -> str:
        lines = []
        if show_misses and self.misses:
            lines.append(f"misses ({len(self.misses)}):")
            for case, match in self.misses:
                want = "|".join(sorted(case.expected)) or "none"
                alts = ", ".join(f"{a.topic} {a.score:.2f}" for a in match.alternatives)
                lines.append(f"  want {want:<24} got {match.decision:<7} {match.topic or '-':<24} {match.score:.2f}  [{alts}]  {case.question}")
        lines.append(f"in-scope top-1 accuracy:  {self.top1_rate:6.1%} ({self.top1}/{self.in_scope})")
        lines.append(f"in-scope top-3 accuracy:  {self.top3_rate:6.1%} ({self.top3}/{self.in_scope})")
        lines.append(f"out-of-scope rejection:   {self.rejection_rate:6.1%} ({self.rejected}/{self.out_of_scope})")
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
        out.append(EvalCase(case["q"], expected))
    return out


def ranked_topics(match: Match) -> list[str]:
    """The matcher's topics best first: the answer or suggestion, then the alternatives."""
    head = [match.topic] if match.topic else []
    return head + [a.topic for a in match.alternatives if a.topic != match.topic]


def evaluate(matcher: Matcher, cases: list[EvalCase]) -> EvalReport:
    report = EvalReport()
    for case in cases:
        match = matcher.match_question(case.question)
        if case.expected:
            report.in_scope += 1
            hit1 = match.topic in case.expected
            report.top1 += hit1
            report.top3 += bool(case.expected.intersection(ranked_topics(match)[:3]))
            if not hit1:
                report.misses.append((case, match))
        else:
            report.out_of_scope += 1
            if match.decision == "none":
                report.rejected += 1
            else:
                report.misses.append((case, match))
    return report


def evaluate_file(matcher: Matcher, path: Path) -> EvalReport:
    return evaluate(matcher, load_cases(path))

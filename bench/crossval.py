"""How well the matcher generalises: k-fold cross-validation over the knowledge base's own phrasings.

Each fold removes a fifth of every topic's phrasings (and of the out-of-scope
ones), builds the matcher on the rest, and asks the removed ones. Prints the
same figures as `python -m bot eval`, plus the dev and validation sets with the
same settings. Use --set name=value to try a MatchSettings change.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluate import EvalCase, EvalReport, evaluate, load_cases  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402
from bot.matcher import MatchSettings, Matcher  # noqa: E402
from bot.text import TextNormaliser  # noqa: E402


def crossval(kb, normaliser, settings, folds: int) -> EvalReport:
    total = EvalReport()
    for k in range(folds):
        held: list[EvalCase] = []
        topics = {}
        for tid, topic in kb.topics.items():
            keep = [q for i, q in enumerate(topic.questions) if i % folds != k]
            held += [EvalCase(q, frozenset([tid])) for i, q in enumerate(topic.questions) if i % folds == k]
            topics[tid] = dataclasses.replace(topic, questions=tuple(keep))
        oos_keep = tuple(q for i, q in enumerate(kb.out_of_scope) if i % folds != k)
        held += [EvalCase(q, frozenset()) for i, q in enumerate(kb.out_of_scope) if i % folds == k]
        fold_kb = dataclasses.replace(kb, topics=topics, out_of_scope=oos_keep)
        report = evaluate(Matcher(fold_kb, normaliser, settings), held)
        for name in ("in_scope", "top1", "top3", "out_of_scope", "rejected"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        total.misses += report.misses
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    overrides = {}
    for item in args.set:
        name, value = item.split("=", 1)
        overrides[name] = type(getattr(MatchSettings(), name))(value)
    settings = MatchSettings(**overrides)
    kb = load_knowledge()
    normaliser = TextNormaliser(kb.synonyms, kb.userdict)
    report = crossval(kb, normaliser, settings, args.folds)
    print(f"== {args.folds}-fold cross-validation over the knowledge base's phrasings")
    print(report.render(show_misses=args.misses), end="")
    full = Matcher(kb, normaliser, settings)
    # validation.yaml is an independent measure: its misses are not printed, so
    # nobody tunes phrasings to it by accident.
    for name, show in (("dev.yaml", args.misses), ("validation.yaml", False)):
        path = ROOT / "tests" / "data" / name
        if path.exists():
            print(f"== {name}")
            print(evaluate(full, load_cases(path)).render(show_misses=show), end="")


if __name__ == "__main__":
    main()

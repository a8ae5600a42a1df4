"""Scam checker: risky messages caught and benign ones flagged, and speed.

Prints figures; asserts nothing. Run: .venv/bin/python bench/bench_checker.py [SET.yaml ...]

- Cross-validation over knowledge/messages.yaml (the classifier's training
  data): each fold's classifier is trained on the other folds and judges the
  held-out messages. Beside the whole checker: the red flags alone, and the
  textbook baseline (a logistic regression over TF-IDF character 1-3-grams and
  jieba words, trained on the same folds).
- Each labelled set named on the command line (`cases: [{text, risky}]`), such
  as a sealed blind set: the checker trained on all of messages.yaml, the red
  flags alone, and the baseline trained on all of messages.yaml. A set whose
  messages are in messages.yaml measures training data: only a set kept out of
  it is a fair test.
- --sweep prints the thresholds of CheckSettings that cross-validation favours.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.checker import CheckSettings, MessageChecker  # noqa: E402
from bot.knowledge import LabelledMessage, load_knowledge  # noqa: E402
from bot.text import TextNormaliser  # noqa: E402


def logistic_baseline(messages: list[LabelledMessage], normaliser: TextNormaliser):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, preprocessor=normaliser.normalise),
        TfidfVectorizer(analyzer=normaliser.tokens, sublinear_tf=True),
    )
    model = make_pipeline(features, LogisticRegression(C=10, max_iter=2000))
    model.fit([m.text for m in messages], [m.topic is not None for m in messages])
    return model


class Tally:
    def __init__(self) -> None:
        self.caught = self.risky = self.flagged = self.benign = 0

    def add(self, risky: bool, said_risky: bool) -> None:
        if risky:
            self.risky += 1
            self.caught += said_risky
        else:
            self.benign += 1
            self.flagged += said_risky

    def __str__(self) -> str:
        return (f"caught {self.caught}/{self.risky} = {self.caught / max(self.risky, 1):6.1%}, "
                f"flagged {self.flagged}/{self.benign} = {self.flagged / max(self.benign, 1):5.1%}")


def judge(name: str, cases: list[tuple[str, bool]], checker: MessageChecker, flags_only: MessageChecker,
          baseline, times: list[float] | None = None) -> None:
    whole, flags, lr = Tally(), Tally(), Tally()
    predicted = baseline.predict([text for text, _ in cases])
    for (text, risky), base in zip(cases, predicted):
        start = time.perf_counter_ns()
        verdict = checker.check_message(text)
        if times is not None:
            times.append((time.perf_counter_ns() - start) / 1e6)
        whole.add(risky, verdict.risk != "low")
        flags.add(risky, flags_only.check_message(text).risk != "low")
        lr.add(risky, bool(base))
    print(f"== {name}")
    print(f"  this checker        {whole}")
    print(f"  red flags alone     {flags}")
    print(f"  logistic baseline   {lr}")


def folds_of(messages: tuple[LabelledMessage, ...], folds: int):
    for k in range(folds):
        yield ([m for i, m in enumerate(messages) if i % folds != k], [m for i, m in enumerate(messages) if i % folds == k])


def sweep(kb, normaliser: TextNormaliser, folds: int) -> None:
    """Cross-validated verdicts for every pair of thresholds; the best by caught minus flagged."""
    records = []  # (risky, flag score without the classifier, context cues..., probability)
    for train, test in folds_of(kb.messages, folds):
        fold = MessageChecker(dataclasses.replace(kb, messages=tuple(train)), normaliser,
                              model_cache=Path(tempfile.mkdtemp(prefix="checker-fold-")))
        for m in test:
            verdict = fold.check_message(m.text)
            records.append((m.topic is not None, fold, m.text, verdict.learned.probability))
    results = []
    names = ("high_probability", "medium_probability", "harmless_probability", "overrule_warning_from",
             "overrule_question_from")
    grid = itertools.product([0.85, 0.95], [0.35, 0.5, 0.6, 0.7], [0.1, 0.2, 0.3], [0.8, 0.9, 1.01], [0.6, 0.7, 0.8, 0.9])
    for values in grid:
        tally = Tally()
        for risky, fold, text, _ in records:
            fold.settings = dataclasses.replace(CheckSettings(), **dict(zip(names, values)))
            tally.add(risky, fold.check_message(text).risk != "low")
        results.append((tally.caught / tally.risky - 2 * tally.flagged / tally.benign, values, str(tally)))
    print("  " + ", ".join(names))
    for score, values, text in sorted(results, reverse=True)[:10]:
        print("  ", values, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", type=Path)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--sweep", action="store_true")
    args = parser.parse_args()
    kb = load_knowledge()
    normaliser = TextNormaliser(kb.synonyms, kb.userdict)
    flags_only = MessageChecker(kb, normaliser, train=False)
    if args.sweep:
        sweep(kb, normaliser, args.folds)
        return
    times: list[float] = []
    whole, flags, lr = Tally(), Tally(), Tally()
    for train, test in folds_of(kb.messages, args.folds):
        fold = MessageChecker(dataclasses.replace(kb, messages=tuple(train)), normaliser,
                              model_cache=Path(tempfile.mkdtemp(prefix="checker-fold-")))
        baseline = logistic_baseline(train, normaliser)
        predicted = baseline.predict([m.text for m in test])
        for m, base in zip(test, predicted):
            start = time.perf_counter_ns()
            verdict = fold.check_message(m.text)
            times.append((time.perf_counter_ns() - start) / 1e6)
            whole.add(m.topic is not None, verdict.risk != "low")
            flags.add(m.topic is not None, flags_only.check_message(m.text).risk != "low")
            lr.add(m.topic is not None, bool(base))
    print(f"== {args.folds}-fold cross-validation over knowledge/messages.yaml ({len(kb.messages)} messages)")
    print(f"  this checker        {whole}")
    print(f"  red flags alone     {flags}")
    print(f"  logistic baseline   {lr}")
    if args.sets:
        checker = MessageChecker(kb, normaliser)
        baseline = logistic_baseline(list(kb.messages), normaliser)
        for path in args.sets:
            cases = [(c["text"], bool(c["risky"])) for c in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]]
            judge(path.name, cases, checker, flags_only, baseline, times)
    times.sort()
    print(f"per message: median {statistics.median(times):.3f} ms, p99 {times[int(len(times) * 0.99)]:.3f} ms, n={len(times)}")


if __name__ == "__main__":
    main()

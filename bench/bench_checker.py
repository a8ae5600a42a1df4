"""Scam checker: risky messages caught and benign ones flagged on each labelled set, and speed.

Prints figures; asserts nothing. Run: .venv/bin/python bench/bench_checker.py [SET.yaml ...]
Beside the checker, a logistic-regression baseline (TF-IDF of character 1-3-grams
and jieba words) trained on every labelled set except the one measured.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.checker import MessageChecker  # noqa: E402
from bot.knowledge import load_knowledge  # noqa: E402

SETS = [
    ROOT / "tests" / "data" / "scam-dev.yaml",
    ROOT / "tests" / "data" / "scam-validation.yaml",
    ROOT / "bench" / "data" / "scam-holdout.yaml",
    ROOT / "bench" / "data" / "scam-holdout-2.yaml",
    ROOT / "bench" / "data" / "scam-holdout-3.yaml",
    ROOT / "bench" / "data" / "scam-holdout-4.yaml",
]


def load_set(path: Path) -> list[dict]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]


def logistic_baseline(train: list[dict], normaliser):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, preprocessor=normaliser.normalise),
        TfidfVectorizer(analyzer=normaliser.tokens, sublinear_tf=True),
    )
    model = make_pipeline(features, LogisticRegression(C=10, max_iter=2000))
    model.fit([c["text"] for c in train], [bool(c["risky"]) for c in train])
    return model


def main() -> None:
    kb = load_knowledge()
    checker = MessageChecker(kb)
    from bot.text import TextNormaliser

    normaliser = TextNormaliser(kb.synonyms, kb.userdict)
    paths = [Path(p) for p in sys.argv[1:]] or SETS
    labelled = {p: load_set(p) for p in SETS if p.exists()}
    times = []
    for path in paths:
        if not path.exists():
            continue
        cases = labelled.get(path) or load_set(path)
        model = logistic_baseline([c for p, cs in labelled.items() if p != path for c in cs], normaliser)
        predicted = model.predict([c["text"] for c in cases])
        lr_caught = sum(p for p, c in zip(predicted, cases) if c["risky"])
        lr_flagged = sum(p for p, c in zip(predicted, cases) if not c["risky"])
        caught = flagged = risky = benign = 0
        for case in cases:
            start = time.perf_counter_ns()
            verdict = checker.check_message(case["text"])
            times.append((time.perf_counter_ns() - start) / 1e6)
            if case["risky"]:
                risky += 1
                caught += verdict.risk != "low"
            else:
                benign += 1
                flagged += verdict.risk != "low"
        print(f"{path.name:<24} risky caught {caught}/{risky} = {caught / risky:6.1%}   "
              f"benign flagged {flagged}/{benign} = {flagged / benign:5.1%}   "
              f"(logistic baseline: {lr_caught / risky:6.1%} / {lr_flagged / benign:5.1%})")
    times.sort()
    print(f"per message: median {statistics.median(times):.3f} ms, p99 {times[int(len(times) * 0.99)]:.3f} ms, n={len(times)}")


if __name__ == "__main__":
    main()

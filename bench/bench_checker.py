"""Scam checker: risky messages caught and benign ones flagged on each labelled set, and speed.

Prints figures; asserts nothing. Run: .venv/bin/python bench/bench_checker.py
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


def main() -> None:
    checker = MessageChecker(load_knowledge())
    times = []
    for path in SETS:
        if not path.exists():
            continue
        cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
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
              f"benign flagged {flagged}/{benign} = {flagged / benign:5.1%}")
    times.sort()
    print(f"per message: median {statistics.median(times):.3f} ms, p99 {times[int(len(times) * 0.99)]:.3f} ms, n={len(times)}")


if __name__ == "__main__":
    main()

"""What a reload that retrains costs: wall and processor time, started from the serving models or from zeros.

On a copy of the knowledge base with a model cache of its own, each round adds
one phrasing to a topic and builds the new bundle twice: as a reload does
(bot.reload.build_knowledge from the serving bundle: the models start from its
weights, in children forked from the fork server) and from scratch (a matcher
without a previous one, into an empty cache: the models start from zeros).
Processor time counts this process and all its descendants (the fork server
and the training children). Prints figures; asserts nothing.
Run: .venv/bin/python bench/bench_retrain.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_reload import NEW_QUESTIONS, TOPIC, cpu_seconds  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-retrain-"))
    os.environ["ACCOUNT_SAFETY_BOT_CACHE"] = str(work / "cache")
    from bot import classifier
    from bot.matcher import Matcher
    from bot.reload import build_knowledge

    kb = work / "knowledge"
    shutil.copytree(ROOT / "knowledge", kb)
    load_start = os.getloadavg()[0]
    try:
        knowledge = build_knowledge(kb)  # the serving bundle (its models trained once, from zeros)
        classifier.start_trainer()
        time.sleep(3)  # the fork server has loaded scikit-learn, as after a curator's login or a first reload
        figures: dict[str, list[tuple[float, float]]] = {"from the serving models": [], "from zeros": []}
        path = kb / "topics" / f"{TOPIC}.yaml"
        for n in range(args.rounds):
            question = NEW_QUESTIONS[n % len(NEW_QUESTIONS)]
            path.write_text(path.read_text(encoding="utf-8").replace("questions:\n", f"questions:\n  - {question}\n", 1),
                            encoding="utf-8")
            wall, cpu = time.perf_counter(), cpu_seconds(os.getpid())
            new = build_knowledge(kb, previous=knowledge)
            figures["from the serving models"].append((time.perf_counter() - wall, cpu_seconds(os.getpid()) - cpu))
            cold_cache = work / f"cold-{n}"
            wall, cpu = time.perf_counter(), cpu_seconds(os.getpid())
            Matcher(new.kb, new.normaliser, model_cache=cold_cache)
            figures["from zeros"].append((time.perf_counter() - wall, cpu_seconds(os.getpid()) - cpu))
            shutil.rmtree(cold_cache, ignore_errors=True)
            knowledge = new
            print(f"round {n + 1}: " + "; ".join(f"{how}: {w:.1f} s wall, {c:.1f} s processor"
                                                 for how, [*_, (w, c)] in figures.items())
                  + f" (load average {os.getloadavg()[0]:.1f})", flush=True)
        print()
        print(f"machine: {os.cpu_count()} cores, load average {load_start:.1f} at the start, "
              f"{os.getloadavg()[0]:.1f} at the end (shared with other work)")
        for stat in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                if b"forkserver" in stat.read_bytes() and f"PPid:\t{os.getpid()}\n" in (stat.parent / "status").read_text():
                    rss = [line for line in (stat.parent / "status").read_text().splitlines() if line.startswith("VmRSS")]
                    print(f"the fork server: {rss[0].split(None, 1)[1]} resident")
            except OSError:
                continue
        for how, values in figures.items():
            walls, cpus = [w for w, _ in values], [c for _, c in values]
            print(f"a reload that retrains, {how}: wall median {statistics.median(walls):.1f} s "
                  f"({', '.join(f'{w:.1f}' for w in walls)}), processor median {statistics.median(cpus):.1f} s "
                  f"({', '.join(f'{c:.1f}' for c in cpus)})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

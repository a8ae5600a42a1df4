"""Speed of the matcher: start-up to first answer, retraining after a knowledge-base
change, and per-question latency on the real and on a generated knowledge base.

Prints figures; it asserts nothing. Run: .venv/bin/python bench/bench_matcher.py
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.knowledge import default_kb_dir  # noqa: E402
from bot.matcher import load_matcher  # noqa: E402


ASK = [sys.executable, "-m", "bot", "ask", "--json", "微信被封了怎么申诉"]


def startup_seconds(runs: int) -> tuple[list[float], list[float]]:
    """Wall time of a fresh process answering one question (warm caches), and its processor time (user + system).

    The processor time says what the start costs when others share the machine and the wall time waits for them.
    """
    subprocess.run(ASK, cwd=ROOT, capture_output=True, check=True)  # warm the cache
    times, cpu = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(ASK, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return times, cpu


def retrain_seconds(runs: int) -> list[float]:
    """Wall time of a fresh process answering one question right after a knowledge-base edit.

    An edited phrasing invalidates the tokenised phrasings and the classifier
    (the jieba dictionary only changes with userdict.txt, the pinyin table with
    pypinyin, the script table with OpenCC; the parsed files and patterns are found
    by content, the edited file's aside): the process re-tokenises, imports
    scikit-learn, trains, caches, then answers.
    """
    from bot.text import default_cache_dir

    kept = ("jieba*.bin", "pinyin-*.txt", "script-*.txt", "kb-*.json")
    jieba_cache = sorted(path for pattern in kept for path in default_cache_dir().glob(pattern))
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="retrain-") as cache:
            for path in jieba_cache:
                # Another process sharing the cache may have replaced an old file since the listing.
                with contextlib.suppress(FileNotFoundError):
                    shutil.copy(path, cache)
            env = {**os.environ, "ACCOUNT_SAFETY_BOT_CACHE": cache}
            start = time.perf_counter()
            subprocess.run(ASK, cwd=ROOT, capture_output=True, check=True, env=env)
            times.append(time.perf_counter() - start)
    return times


def reference_jieba_us(n: int = 5000) -> float:
    from bot.text import import_jieba

    jieba = import_jieba()
    jieba.setLogLevel(60)
    tok = jieba.Tokenizer()
    tok.initialize()
    start = time.perf_counter()
    for _ in range(n):
        tok.lcut("我的微信被封了里面的零钱还能取出来吗")
    return (time.perf_counter() - start) / n * 1e6


def question_pool(kb_dir: Path, n: int, seed: int = 7) -> list[str]:
    """n realistic questions: dev questions, phrasings, and phrasings cut or joined."""
    rng = random.Random(seed)
    dev = ROOT / "tests" / "data" / "dev.yaml"
    base = [c["q"] for c in yaml.safe_load(dev.read_text(encoding="utf-8"))["cases"]]
    for path in (kb_dir / "topics").glob("*.yaml"):
        base += yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]
    pool = []
    while len(pool) < n:
        q = rng.choice(base)
        roll = rng.random()
        if roll < 0.2:
            q = q[: max(2, len(q) // 2)]
        elif roll < 0.3:
            q = q + "，" + rng.choice(base)
        pool.append(q)
    return pool


def latencies_ms(matcher, questions: list[str], cpu: list[float] | None = None) -> list[float]:
    """Wall time of each question; with `cpu`, its processor time too (read outside the wall-time interval)."""
    times = []
    for q in questions:
        cpu_start = time.thread_time_ns()
        start = time.perf_counter_ns()
        matcher.match_question(q)
        times.append((time.perf_counter_ns() - start) / 1e6)
        if cpu is not None:
            cpu.append((time.thread_time_ns() - cpu_start) / 1e6)
    return times


def generated_kb(n_topics: int, seed: int = 11) -> Path:
    """A valid knowledge base of n_topics topics: the real ones plus generated ones built from their words."""
    rng = random.Random(seed)
    src = default_kb_dir()
    dest = Path(tempfile.mkdtemp(prefix="kb-bench-"))
    shutil.copytree(src, dest / "knowledge")
    kb_dir = dest / "knowledge"
    real = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted((src / "topics").glob("*.yaml"))]
    vocab_zh = sorted({w for t in real for q in t["questions"] for w in _chunks(q)})
    for i in range(max(0, n_topics - len(real))):
        topic = dict(real[i % len(real)])
        topic["id"] = f"gen-{i:04d}"
        topic["related"] = [real[i % len(real)]["id"]]
        topic.pop("situations", None)  # a phrasing may stand under one topic only
        topic["questions"] = [
            "".join(rng.sample(vocab_zh, rng.randint(3, 6))) + f"{i}-{j}" if j % 3 else
            " ".join(rng.choice(["how", "wechat", "account", "scam", "money", "ban", "report", "code"]) for _ in range(5)) + f" {i} {j}"
            for j in range(20)
        ]
        (kb_dir / "topics" / f"gen-{i:04d}.yaml").write_text(
            yaml.safe_dump(topic, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
    return kb_dir


def _chunks(text: str) -> list[str]:
    return [text[i: i + 2] for i in range(0, len(text) - 1, 2) if text[i: i + 2].strip()]


def summary(name: str, values: list[float], unit: str) -> str:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
    return f"{name}: median {statistics.median(values):.3f} {unit}, p99 {p99:.3f} {unit}, n={len(values)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--topics", type=int, default=1000, help="size of the generated knowledge base")
    parser.add_argument("--startup-runs", type=int, default=5)
    parser.add_argument("--parts", default="start,retrain,real,generated",
                        help="which measurements, comma-separated (default: all): start,retrain,real,generated")
    args = parser.parse_args()
    parts = set(args.parts.split(","))

    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} processors at the start")
    print(f"machine reference: plain jieba.lcut of a 17-character question {reference_jieba_us():.0f} µs "
          "(this machine's speed varied by about 1.5x during a day; compare figures against this)")
    if "start" in parts:
        start, start_cpu = map(sorted, startup_seconds(args.startup_runs))
        print(f"start-up to first answer (fresh process, warm cache): median {statistics.median(start):.3f} s, "
              f"best {start[0]:.3f} s, worst {start[-1]:.3f} s, n={len(start)}; "
              f"processor time median {statistics.median(start_cpu):.3f} s")
    if "retrain" in parts:
        retrain = sorted(retrain_seconds(3))
        print(f"first answer after a knowledge-base edit (re-tokenise, train, cache): median "
              f"{statistics.median(retrain):.2f} s, worst {retrain[-1]:.2f} s, n={len(retrain)}")
    if parts & {"real", "generated"}:
        per_question(args, parts)


def per_question(args, parts: set[str]) -> None:
    t0 = time.perf_counter()
    matcher = load_matcher()
    print(f"in-process load of the real knowledge base: {time.perf_counter() - t0:.3f} s")
    pool = question_pool(default_kb_dir(), args.questions)
    if "real" in parts:
        latencies_ms(matcher, pool[:1000])  # warm-up: first-call costs are not per-question costs
        cpu: list[float] = []
        print(summary("real knowledge base, per question", latencies_ms(matcher, pool, cpu), "ms"))
        print(summary("  processor time", cpu, "ms"))
    if "generated" not in parts:
        return

    kb_dir = generated_kb(args.topics)
    # Its own cache folder: the real knowledge base's cached model must survive the run.
    os.environ["ACCOUNT_SAFETY_BOT_CACHE"] = str(kb_dir.parent / "cache")
    try:
        t0 = time.perf_counter()
        big = load_matcher(kb_dir)
        print(f"generated knowledge base of {len(big.kb.topics)} topics: load and train {time.perf_counter() - t0:.1f} s "
              f"({len(big.model.index):,} features)")
        latencies_ms(big, pool[:1000])
        cpu = []
        print(summary(f"{len(big.kb.topics)} topics, per question", latencies_ms(big, pool, cpu), "ms"))
        print(summary("  processor time", cpu, "ms"))
    finally:
        shutil.rmtree(kb_dir.parent, ignore_errors=True)


if __name__ == "__main__":
    main()

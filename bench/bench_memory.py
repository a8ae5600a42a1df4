"""Memory per user: the bot process's resident memory while distinct users keep arriving.

The bot runs as its own process (bench/run_bot.py --unthrottled: the production
code path without the 30-messages-a-second pacing, which would make 100,000
users take an hour) against tests/fake_bot_api.py on 127.0.0.1. Each user sends
one question and gets an answer. Resident memory (VmRSS) is read after a warm-up
and every --every users; the figure is the growth from the warm-up to the end,
scaled to 100,000 users. Prints figures; asserts nothing.

  .venv/bin/python bench/bench_memory.py [--users 100000] [--root OLD_CHECKOUT]

--root runs `python -m bot run` from another checkout (e.g. an export of an old
commit) for a before/after comparison.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

from loopback import ROOT, start_bot

from tests.fake_bot_api import FakeBotAPI

QUESTIONS = [
    "微信被封了怎么申诉", "有人收手机卡，一张给200，能卖吗", "how do I report a gambling group", "什么是杀猪盘",
    "今天天气怎么样", "陌生人让我扫码帮他注册", "封号", "QQ被凍結了怎麼辦",
]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bot_command(root: Path) -> list[str]:
    if root == ROOT:
        return [sys.executable, str(ROOT / "bench" / "run_bot.py"), "--unthrottled"]
    return [sys.executable, "-m", "bot", "run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=5_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to run (default: this one)")
    args = parser.parse_args()
    root = args.root.resolve()
    with tempfile.TemporaryDirectory() as tmp, FakeBotAPI() as fake:
        bot = start_bot(fake, Path(tmp), bot_command(root), root)
        try:
            fake.wait_for("getUpdates", timeout=120)
            start_rss = rss_mb(bot.pid)
            print(f"{root.name or root}: started, {start_rss:.1f} MB", flush=True)
            warm_rss = None
            started = time.perf_counter()
            user = 0
            while user < args.users:
                batch = min(args.batch, args.users - user)
                fake.clear_recordings()  # keeps the fake's bookkeeping small
                for _ in range(batch):
                    fake.private_message(50_000_000 + user, QUESTIONS[user % len(QUESTIONS)])
                    user += 1
                fake.wait_for("sendMessage", count=batch, timeout=300)
                if user == args.warmup:
                    time.sleep(1.0)
                    warm_rss = rss_mb(bot.pid)
                    print(f"  {user:>7} users: {warm_rss:.1f} MB (warm-up)", flush=True)
                elif user % args.every == 0 or user == args.users:
                    print(f"  {user:>7} users: {rss_mb(bot.pid):.1f} MB", flush=True)
            time.sleep(1.0)
            end_rss = rss_mb(bot.pid)
            elapsed = time.perf_counter() - started
            if warm_rss is None:
                warm_rss, args.warmup = start_rss, 0
            per_100k = (end_rss - warm_rss) / (args.users - args.warmup) * 100_000
            print(f"{args.users} distinct users in {elapsed:.0f} s: {end_rss:.1f} MB resident; "
                  f"growth after the first {args.warmup}: {end_rss - warm_rss:.1f} MB, "
                  f"{per_100k:.1f} MB per 100,000 users", flush=True)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(60)


if __name__ == "__main__":
    main()

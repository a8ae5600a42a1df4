"""Memory per user: the bot process's resident memory while distinct users keep arriving.

The bot runs as its own process (bench/run_bot.py --unthrottled: the production
code path without the 30-messages-a-second pacing, which would make 100,000
users take an hour) against tests/fake_bot_api.py on 127.0.0.1. First a warm-up
(--warmup updates from --warmup-users users: what the process allocates once,
whoever asks), then --users distinct users each send one question and get an
answer. Resident memory (VmRSS) is read after the warm-up and every --every
users; the figure is what the distinct users added. Prints figures; asserts nothing.

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
    parser.add_argument("--users", type=int, default=100_000, help="distinct users, one question each")
    parser.add_argument("--warmup", type=int, default=20_000,
                        help="updates from --warmup-users users first: start-up and warm-up costs are not per user")
    parser.add_argument("--warmup-users", type=int, default=100)
    parser.add_argument("--every", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to run (default: this one)")
    args = parser.parse_args()
    root = args.root.resolve()
    with tempfile.TemporaryDirectory() as tmp, FakeBotAPI() as fake:
        bot = start_bot(fake, Path(tmp), bot_command(root), root)
        try:
            fake.wait_for("getUpdates", timeout=120)
            print(f"{root.name or root}: started, {rss_mb(bot.pid):.1f} MB", flush=True)

            def ask(count: int, sender) -> None:
                for start in range(0, count, args.batch):
                    batch = min(args.batch, count - start)
                    fake.clear_recordings()  # keeps the fake's bookkeeping small
                    for i in range(start, start + batch):
                        fake.private_message(sender(i), QUESTIONS[i % len(QUESTIONS)])
                    fake.wait_for("sendMessage", count=batch, timeout=300)
                    done = start + batch
                    if sender is distinct and (done % args.every == 0 or done == count):
                        print(f"  {done:>7} distinct users: {rss_mb(bot.pid):.1f} MB", flush=True)

            def distinct(i: int) -> int:
                return 50_000_000 + i

            ask(args.warmup, lambda i: 40_000_000 + i % args.warmup_users)
            time.sleep(1.0)
            warm = rss_mb(bot.pid)
            print(f"  after {args.warmup} updates from {args.warmup_users} users (warm-up): {warm:.1f} MB", flush=True)
            started = time.perf_counter()
            ask(args.users, distinct)
            time.sleep(1.0)
            end = rss_mb(bot.pid)
            print(f"{args.users} distinct users in {time.perf_counter() - started:.0f} s added {end - warm:.1f} MB "
                  f"({(end - warm) / args.users * 100_000:.1f} MB per 100,000 users)", flush=True)
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(60)


if __name__ == "__main__":
    main()

"""CPU per update: this bot against a bare PTB echo bot, side by side, through the same loopback Bot API.

Each bot runs as its own process against its own tests/fake_bot_api.py on
127.0.0.1 and gets the same stream of private questions from many users; the
figure is the process's CPU time (user + system, from /proc) from the first
update to the last reply, divided by the number of updates. Two feeds:

  paced   --rate updates a second (default 20), under Telegram's 30 messages a
          second, with the bot exactly as in production (flood-limit pacing on)
  burst   every update queued at once, the bot with bench/run_bot.py --unthrottled
          so that both bots run flat out

Prints figures; asserts nothing. Run: .venv/bin/python bench/bench_cpu.py
[--concurrency N --pool N] to try other settings of bot/tg/app.py.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_bot import QUESTIONS, cpu_seconds
from loopback import ROOT, start_bot

from tests.fake_bot_api import FakeBotAPI


def run_one(name: str, command: list[str], updates: int, users: int, rate: float | None) -> float:
    """CPU milliseconds per update of one bot process."""
    with tempfile.TemporaryDirectory() as tmp, FakeBotAPI() as fake:
        bot = start_bot(fake, Path(tmp), command)
        try:
            fake.wait_for("getUpdates", timeout=120)
            for i in range(20):  # warm-up: first-call costs are not per-update costs
                fake.private_message(2_000_000 + i, QUESTIONS[i % len(QUESTIONS)])
            fake.wait_for(lambda c: c.method == "sendMessage", count=20, timeout=60)
            time.sleep(1.0)
            fake.clear_recordings()
            cpu_before = cpu_seconds(bot.pid)
            start = time.perf_counter()
            for i in range(updates):
                if rate:
                    delay = start + i / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                fake.private_message(3_000_000 + i % users, QUESTIONS[i % len(QUESTIONS)])
            replies = fake.wait_for("sendMessage", count=updates, timeout=max(600, updates / 10))
            elapsed = time.perf_counter() - start
            cpu = cpu_seconds(bot.pid) - cpu_before
            print(f"  {name:<28} {cpu / updates * 1000:6.2f} ms CPU per update  ({updates} updates, "
                  f"{len(replies)} replies, {elapsed:.1f} s, {updates / elapsed:.0f} updates/s, "
                  f"rejected calls: {len(fake.rejections)})", flush=True)
            return cpu / updates * 1000
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1200)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="updates a second in the paced feed")
    parser.add_argument("--concurrency", type=int, help="override bot/tg/app.py CONCURRENT_UPDATES")
    parser.add_argument("--pool", type=int, help="override bot/tg/app.py CONNECTION_POOL_SIZE")
    parser.add_argument("--feeds", default="paced,burst")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each bot, alternating; medians are compared")
    args = parser.parse_args()
    echo = [sys.executable, str(ROOT / "bench" / "echo_bot.py")]
    bot = [sys.executable, str(ROOT / "bench" / "run_bot.py")]
    for flag in ("concurrency", "pool"):
        if getattr(args, flag):
            bot += [f"--{flag}", str(getattr(args, flag))]
    for feed in args.feeds.split(","):
        rate = args.rate if feed == "paced" else None
        label = f"{args.rate:g} updates/s" if rate else "all at once"
        print(f"{feed} feed ({label}), {args.users} users:", flush=True)
        echo_ms, bot_ms = [], []
        for _ in range(args.repeat):  # alternating, so that a busy moment of the machine hits both
            echo_ms.append(run_one("bare PTB echo bot", echo, args.updates, args.users, rate))
            bot_ms.append(run_one("this bot", bot + ([] if rate else ["--unthrottled"]), args.updates, args.users, rate))
        echo_median, bot_median = statistics.median(echo_ms), statistics.median(bot_ms)
        print(f"  medians: echo bot {echo_median:.2f} ms, this bot {bot_median:.2f} ms CPU per update: "
              f"{bot_median / echo_median:.2f}x the echo bot", flush=True)


if __name__ == "__main__":
    main()

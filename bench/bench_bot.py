"""Speed of the whole bot through a loopback Bot API: updates per second, and update-to-reply latency.

The bot runs as its own process (`python -m bot run`, as in production) and
polls tests/fake_bot_api.py on 127.0.0.1 in this process. Latency: one
update at a time, at most 20 a second, from the moment the update is queued at
the Bot API to the moment the reply reaches it. Throughput: a burst from many
users at once, which the bot answers at Telegram's 30 messages a second.
Prints figures; asserts nothing. Run: .venv/bin/python bench/bench_bot.py
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_bot_api import FakeBotAPI  # noqa: E402

QUESTIONS = [
    "微信被封了怎么申诉", "有人收手机卡，一张给200，能卖吗", "how do I report a gambling group",
    "什么是杀猪盘", "今天天气怎么样", "陌生人让我扫码帮他注册", "封号", "QQ被凍結了怎麼辦",
]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-updates", type=int, default=300)
    parser.add_argument("--burst", type=int, default=2000)
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, FakeBotAPI() as fake:
        (Path(tmp) / "config.yaml").write_text(
            "rate_limit:\n  messages: 1000000\nlogging:\n  level: WARNING\n", encoding="utf-8"
        )
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_BASE_URL": f"{fake.url}/bot",
               "PYTHONPATH": str(ROOT)}
        bot = subprocess.Popen([sys.executable, *os.environ.get("BENCH_PY_ARGS", "").split(), "-m", "bot", "run"], cwd=tmp, env=env, stdin=subprocess.DEVNULL)
        try:
            fake.wait_for("getUpdates", timeout=60)
            latencies = []
            for i in range(args.latency_updates):
                before = len(fake.calls_for("sendMessage"))
                # One at a time, under Telegram's 30 messages a second: faster, the bot's
                # own flood-limit pacing (1/30 s a message) would be what is measured.
                if latencies:
                    time.sleep(max(0.0, 0.05 - latencies[-1] / 1000))
                start = time.perf_counter()
                fake.private_message(900_000 + i % 50, QUESTIONS[i % len(QUESTIONS)])
                fake.wait_for("sendMessage", count=before + 1, timeout=30)
                latencies.append((time.perf_counter() - start) * 1000)
            latencies.sort()
            p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            print(f"update-to-reply latency: median {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms, "
                  f"n={len(latencies)}")

            before = len(fake.calls_for("sendMessage"))
            bot_cpu_before, fake_cpu_before = cpu_seconds(bot.pid), time.process_time()
            start = time.perf_counter()
            for i in range(args.burst):
                fake.private_message(1_000_000 + i % args.users, QUESTIONS[i % len(QUESTIONS)])
            fake.wait_for("sendMessage", count=before + args.burst, timeout=600)
            elapsed = time.perf_counter() - start
            bot_cpu = cpu_seconds(bot.pid) - bot_cpu_before
            fake_cpu = time.process_time() - fake_cpu_before
            print(f"burst of {args.burst} updates from {args.users} users: {elapsed:.2f} s, "
                  f"{args.burst / elapsed:.0f} updates/s, rejected calls: {len(fake.rejections)}; CPU: bot process "
                  f"{bot_cpu:.1f} s, fake Bot API {fake_cpu:.1f} s")
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(30)


if __name__ == "__main__":
    main()

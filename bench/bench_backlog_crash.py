"""A crash during a backlog: how many updates are lost, and how many answered twice.

The bot runs as its own process against tests/fake_bot_api.py on 127.0.0.1,
which confirms updates the way Telegram does (by the next getUpdates offset).
--updates users each send one question; once --kill-after replies are out the
bot is killed with SIGKILL (as the out-of-memory killer would), then started
again. Prints how many users were answered before the kill, never answered,
and answered more than once. Asserts nothing.

  .venv/bin/python bench/bench_backlog_crash.py [--updates 1000] [--root OLD_CHECKOUT]
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from loopback import ROOT, start_bot

from tests.fake_bot_api import FakeBotAPI

# Its answer is one message, so a user with two messages was answered twice.
QUESTION = "今天天气怎么样"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=1000)
    parser.add_argument("--kill-after", type=int, default=100, help="replies sent before the SIGKILL")
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to run (default: this one)")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds without a new reply that end the run")
    args = parser.parse_args()
    root = args.root.resolve()
    with tempfile.TemporaryDirectory() as tmp, FakeBotAPI() as fake:

        def start() -> subprocess.Popen:
            return start_bot(fake, Path(tmp), [sys.executable, "-m", "bot", "run"], root, stderr=subprocess.DEVNULL)

        def answered() -> Counter:
            return Counter(c.params["chat_id"] for c in fake.calls if c.method == "sendMessage")

        users = [60_000_000 + i for i in range(args.updates)]
        bot = start()
        fake.wait_for("getUpdates", timeout=120)
        for user in users:
            fake.private_message(user, QUESTION)
        fake.wait_for("sendMessage", count=args.kill_after, timeout=300)
        bot.kill()
        bot.wait(30)
        before = len(answered())
        started = time.perf_counter()
        bot = start()
        try:
            fake.wait_for("getUpdates", timeout=120)
            last, last_change = -1, time.monotonic()
            while time.monotonic() - last_change < args.settle and len(answered()) < len(users):
                count = sum(answered().values())
                if count != last:
                    last, last_change = count, time.monotonic()
                time.sleep(0.5)
            replies = answered()
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(60)
        lost = len(set(users) - set(replies))
        repeated = sum(1 for n in replies.values() if n > 1)
        print(f"{root.name or root}: {args.updates} updates queued, {before} users answered before the SIGKILL; "
              f"after the restart ({time.perf_counter() - started:.0f} s): {len(users) - lost} answered, "
              f"{lost} never answered, {repeated} answered twice")


if __name__ == "__main__":
    main()

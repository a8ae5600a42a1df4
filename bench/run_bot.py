"""`python -m bot run` for benchmarks, with the knobs a benchmark needs and production does not.

  --unthrottled      no proactive flood-limit throttling (AIORateLimiter with its rates at 0), so that
                     a benchmark of memory or CPU is not paced at Telegram's 30 messages a second
  --concurrency N    concurrent updates (bot/tg/app.py CONCURRENT_UPDATES)
  --pool N           HTTP connection pool size (bot/tg/app.py CONNECTION_POOL_SIZE)
  --profile FILE     write a cProfile of the whole run to FILE (read it with pstats)

Everything else is the production code path: config.yaml in the working directory,
TELEGRAM_BOT_TOKEN and TELEGRAM_BASE_URL from the environment.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unthrottled", action="store_true")
    parser.add_argument("--concurrency", type=int)
    parser.add_argument("--pool", type=int)
    parser.add_argument("--profile")
    args = parser.parse_args()

    from bot.__main__ import main as bot_main
    from bot.tg import app, outgoing

    if args.unthrottled:
        class Unthrottled(outgoing.TelegramLimiter):
            def __init__(self, **kwargs):
                super().__init__(overall_max_rate=0, group_max_rate=0, **kwargs)

        app.TelegramLimiter = Unthrottled
    if args.concurrency:
        app.CONCURRENT_UPDATES = args.concurrency
    if args.pool:
        app.CONNECTION_POOL_SIZE = args.pool
    if not args.profile:
        return bot_main(["run"])
    import cProfile

    profiler = cProfile.Profile()
    try:
        return profiler.runcall(bot_main, ["run"])
    finally:
        profiler.dump_stats(args.profile)


if __name__ == "__main__":
    sys.exit(main())

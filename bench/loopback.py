"""What the benchmarks that run a bot process against tests/fake_bot_api.py share."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# No per-user rate limit (a benchmark sends many messages per user), quiet logs.
BENCH_CONFIG = "rate_limit:\n  messages: 1000000\nlogging:\n  level: WARNING\n"


def start_bot(fake, workdir: Path, command: list[str], root: Path = ROOT, stderr=None) -> subprocess.Popen:
    """`command` run in `workdir` with the benchmark config, talking to `fake`; `root` on PYTHONPATH."""
    (Path(workdir) / "config.yaml").write_text(BENCH_CONFIG, encoding="utf-8")
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_BASE_URL": f"{fake.url}/bot",
           "PYTHONPATH": str(root)}
    return subprocess.Popen(command, cwd=workdir, env=env, stdin=subprocess.DEVNULL, stderr=stderr)

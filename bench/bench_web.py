"""Speed of the web channel: /api/ask latency and throughput beside a bare endpoint, and the page's weight.

Two uvicorn processes with one worker each, started side by side in the same
run: `python -m bot web` (the real app), and a bare Starlette app whose
POST /api/ask returns a constant JSON object. A small asyncio client (raw
HTTP/1.1 over keep-alive connections, so the client costs little) sends the same
questions to both. Prints figures; asserts nothing.
Run: .venv/bin/python bench/bench_web.py [--requests 3000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "微信被封了怎么申诉", "有人出50块让我帮他扫码解封", "my wechat got banned", "收手机卡一张200靠谱吗",
    "我個微信俾人封咗，點算？", "QQ被冻结了里面的钱怎么办", "陌生人发了个链接让我下载app", "今天天气怎么样",
]


def question_pool(n: int) -> list[str]:
    """Varied questions (the matcher benchmark's pool), so that no cache could flatter the figures."""
    sys.path.insert(0, str(ROOT))
    from bench.bench_matcher import question_pool as matcher_pool
    from bot.knowledge import default_kb_dir

    return QUESTIONS + matcher_pool(default_kb_dir(), n)

BARE_APP = '''
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def ask(request):
    await request.body()
    return JSONResponse({"topic": None, "decision": "none"})

app = Starlette(routes=[Route("/api/ask", ask, methods=["POST"])])
'''


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_ready(port: int, path: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port}{path}")


async def one_connection(port: int, bodies: list[bytes], latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for body in bodies:
            request = (f"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            start = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - start) * 1000)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(head.split(b"\r\n")[0].decode())
    finally:
        writer.close()


async def load(port: int, questions: list[str], concurrency: int) -> tuple[list[float], float]:
    bodies = [json.dumps({"q": q}, ensure_ascii=False).encode() for q in questions]
    shares = [bodies[i::concurrency] for i in range(concurrency)]
    latencies: list[float] = []
    start = time.perf_counter()
    await asyncio.gather(*(one_connection(port, share, latencies) for share in shares))
    return latencies, time.perf_counter() - start


def figures(name: str, latencies: list[float], seconds: float) -> float:
    ordered = sorted(latencies)
    rate = len(ordered) / seconds
    print(f"  {name:<22} {rate:7.0f} requests/s   latency median {statistics.median(ordered):6.2f} ms, "
          f"p99 {ordered[int(len(ordered) * 0.99)]:6.2f} ms   (n={len(ordered)})")
    return rate


def page_weight(port: int) -> None:
    total = 0
    parts = []
    for path in ("/", "/static/site.css", "/static/site.js"):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as response:
            size = len(response.read())
        parts.append(f"{path} {size:,} B")
        total += size
    print(f"first load of the page: {total:,} bytes uncompressed ({', '.join(parts)}); aim: under 50 KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(f"storage:\n  path: {tmp}/bot.sqlite3\nweb:\n  rate_limit:\n    requests: 1000000\n", encoding="utf-8")
        (Path(tmp) / "bare.py").write_text(BARE_APP, encoding="utf-8")
        real_port, bare_port = free_port(), free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        real = subprocess.Popen([sys.executable, "-m", "bot", "web", "--config", str(config), "--port", str(real_port)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        bare = subprocess.Popen([sys.executable, "-m", "uvicorn", "bare:app", "--port", str(bare_port), "--log-level", "warning",
                                 "--no-access-log", "--no-server-header"], cwd=tmp, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(real_port, "/healthz")
            wait_ready(bare_port, "/api/ask")
            page_weight(real_port)
            questions = question_pool(args.requests)[: args.requests]
            asyncio.run(load(real_port, questions[:300], args.concurrency))  # warm both
            asyncio.run(load(bare_port, questions[:300], args.concurrency))
            print(f"POST /api/ask, one uvicorn worker each, {args.concurrency} keep-alive connections, "
                  f"{len(set(questions))} different questions:")
            real_rate = figures("this app (/api/ask)", *asyncio.run(load(real_port, questions, args.concurrency)))
            bare_rate = figures("bare Starlette endpoint", *asyncio.run(load(bare_port, questions, args.concurrency)))
            print(f"  this app serves {real_rate / bare_rate:.0%} of the bare endpoint's rate (aim: at least 50%)")
        finally:
            for process in (real, bare):
                process.terminate()
                process.wait(timeout=10)


if __name__ == "__main__":
    main()

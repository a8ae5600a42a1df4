"""Requests per second through nginx with one and with two `web` processes, and PostgreSQL's cost against SQLite's.

In one run, on this machine: nginx (README's configuration) in front of
  1. one `web` process on SQLite,
  2. one `web` process on PostgreSQL,
  3. two `web` processes on PostgreSQL,
each driven for --seconds by the same closed-loop mix over keep-alive connections
(a small asyncio client writing raw HTTP/1.1, so that the client costs little):
questions (/api/ask) 50%, scam checks (/api/check) 20%, votes (a new visitor each,
written and committed before the answer) 15%, WeChat text messages (signed, replay
and resend memories, a stored question) 15%. PostgreSQL is Debian's, started by the
script in a temporary folder (fsync on, as in production). Processor time per request
is the web processes', PostgreSQL's and nginx's together, read from /proc.
Run: ACCOUNT_SAFETY_BOT_CACHE=/tmp/own-cache .venv/bin/python bench/bench_proxy.py [--seconds 20] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.cluster import Nginx, WebProcess  # noqa: E402
from tests.postgres import PostgresServer  # noqa: E402
from tests.test_wechat import message_xml, signature  # noqa: E402

WECHAT_TOKEN = "bench-wechat-token"
QUESTIONS = ["微信被封了怎么申诉", "有人出50块让我帮他扫码解封", "my wechat got banned", "收手机卡一张200靠谱吗",
             "我個微信俾人封咗，點算？", "QQ被冻结了里面的钱怎么办", "陌生人发了个链接让我下载app", "今天天气怎么样"]
ADS = ["高价收购手机卡，一张200，当天结算，联系V：abc123", "明天开会", "兼职帮人解封微信，日结300"]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: set[int]) -> float:
    """utime + stime of these processes and their children still running (PostgreSQL's backends, nginx's workers)."""
    total = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(entry), int(fields[1])
        if pid in pids or ppid in pids:
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def server_pids(process) -> set[int]:
    """A process and, for those started through runuser or a shell, the one it runs."""
    pids = {process.pid}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == process.pid:
                    pids.add(int(entry))
            except OSError:
                pass
    return pids


class Mix:
    """The requests of the mix, made on demand (each WeChat message newly signed, with its own MsgId)."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)

    def next(self) -> tuple[str, bytes, str]:
        i = next(self.counter)
        slot = i % 20
        if slot < 10:
            return "/api/ask", json.dumps({"q": QUESTIONS[i % len(QUESTIONS)]}).encode(), "application/json"
        if slot < 14:
            return "/api/check", json.dumps({"text": ADS[i % len(ADS)]}).encode(), "application/json"
        if slot < 17:
            topic = ("ban-appeal", "sell-sim-card")[i % 2]
            return f"/t/{topic}/vote", b"up=1", "application/x-www-form-urlencoded"
        timestamp, nonce = str(int(time.time())), str(i)
        query = urllib.parse.urlencode({"signature": signature(WECHAT_TOKEN, timestamp, nonce),
                                        "timestamp": timestamp, "nonce": nonce})
        body = message_xml(f"oBench{i % 500}", "text", 5_000_000_000 + i, Content=QUESTIONS[i % len(QUESTIONS)])
        return "/wechat?" + query, body.encode(), "text/xml"


async def one_connection(port: int, mix: Mix, until: float, latencies: list[float], errors: list[str]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            path, body, kind = mix.next()
            request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {kind}\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            start = time.perf_counter()
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length")), 0)
            await reader.readexactly(length)
            latencies.append((time.perf_counter() - start) * 1000)
            status = head.split(b" ", 2)[1]
            if status not in (b"200", b"303"):
                errors.append(status.decode())
            if b"\r\nconnection: close" in head.lower():  # nginx's keepalive_requests (1,000) reached: a new one
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


async def drive(port: int, seconds: float, concurrency: int) -> tuple[list[float], list[str], float]:
    mix, latencies, errors = Mix(), [], []
    start = time.perf_counter()
    await asyncio.gather(*(one_connection(port, mix, start + seconds, latencies, errors) for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - start


def run_setup(name: str, folder: Path, env: dict[str, str], processes: int, pg: PostgresServer | None,
              seconds: float, concurrency: int) -> dict:
    config = folder / "config.yaml"
    folder.mkdir(parents=True)
    config.write_text(f"storage:\n  path: {folder}/bot.sqlite3\nweb:\n  rate_limit:\n    requests: 10000000\n"
                      "rate_limit:\n  messages: 10000000\nlogging:\n  level: WARNING\nknowledge:\n  watch_seconds: 0\n",
                      encoding="utf-8")
    env = dict(env)
    if pg is not None:
        env["STORAGE_URL"] = pg.new_database()
    webs = [WebProcess(folder / f"web{i}", config, env) for i in range(processes)]
    nginx = None
    try:
        for web in webs:
            web.wait_healthy()
        nginx = Nginx([web.port for web in webs])
        asyncio.run(drive(nginx.port, min(3.0, seconds), concurrency))  # warm-up
        parts = {"web": set().union(*(server_pids(web.process) for web in webs)),
                 "nginx": server_pids(nginx.process), "postgres": server_pids(pg.process) if pg is not None else set()}
        before, wall_before = {k: cpu_seconds(v) for k, v in parts.items()}, time.perf_counter()
        latencies, errors, elapsed = asyncio.run(drive(nginx.port, seconds, concurrency))
        spent = {k: cpu_seconds(v) - before[k] for k, v in parts.items()}
        cpu = sum(spent.values())
        load = os.getloadavg()[0]
        ordered = sorted(latencies)
        result = {"name": name, "requests": len(ordered), "rate": len(ordered) / elapsed,
                  "median": statistics.median(ordered), "p99": ordered[int(len(ordered) * 0.99)],
                  "errors": len(errors), "cpu_ms": cpu / len(ordered) * 1000, "load": load,
                  "parts": {k: v / len(ordered) * 1000 for k, v in spent.items()},
                  "wall": time.perf_counter() - wall_before}
        print(f"  {name:<34} {result['rate']:6.0f} requests/s  median {result['median']:6.1f} ms  "
              f"p99 {result['p99']:6.1f} ms  errors {result['errors']}  processor {result['cpu_ms']:.2f} ms/request "
              f"(n={result['requests']}, load average {load:.1f})", flush=True)
        print("  " + " " * 34 + " processor ms/request: " +
              ", ".join(f"{k} {v:.2f}" for k, v in result["parts"].items() if parts[k]), flush=True)
        return result
    finally:
        if nginx is not None:
            nginx.stop()
        for web in webs:
            web.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECHAT_", "STORAGE_"))}
    env["WECHAT_TOKEN"] = WECHAT_TOKEN
    pg = PostgresServer(fsync=True).start()
    print(f"{os.cpu_count()} cores; {args.concurrency} connections to nginx, {args.seconds:.0f} s per setup; "
          "the mix: 50% questions, 20% checks, 15% votes, 15% WeChat messages")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-proxy-") as tmp:
            started = time.perf_counter(), time.process_time()
            sqlite = run_setup("nginx + 1 web, SQLite", Path(tmp) / "s1", env, 1, None, args.seconds, args.concurrency)
            one = run_setup("nginx + 1 web, PostgreSQL", Path(tmp) / "p1", env, 1, pg, args.seconds, args.concurrency)
            two = run_setup("nginx + 2 web, PostgreSQL", Path(tmp) / "p2", env, 2, pg, args.seconds, args.concurrency)
    finally:
        pg.stop()
    print(f"two web processes / one: {two['rate'] / one['rate']:.2f}x requests/s")
    print(f"PostgreSQL / SQLite, one web process: {one['rate'] / sqlite['rate']:.2f}x requests/s, "
          f"{one['cpu_ms'] / sqlite['cpu_ms']:.2f}x processor time per request "
          f"({one['cpu_ms']:.2f} against {sqlite['cpu_ms']:.2f} ms)")
    print(f"the whole run: {time.perf_counter() - started[0]:.0f} s wall")


if __name__ == "__main__":
    main()

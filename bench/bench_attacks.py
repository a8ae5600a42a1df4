"""Issue 20's attacks rerun against `python -m bot web` on 127.0.0.1, in bounded loops. Prints figures; asserts nothing.

  idle     1,100 idle connections and 200 slow clients (headers or bodies a byte a second, reconnecting when cut
           off), held for --seconds; /healthz timed on a new connection twice a second meanwhile
  lang     10,000 GET /lang/en without a cookie; the database's rows before and after
  sigkill  web votes and WeChat checklist choices under load, then SIGKILL, --rounds times; how many confirmed
           writes are missing from the database afterwards
  soak     a mixed load (pages, questions, the API, votes, language links, WeChat) for --minutes at about --rate
           requests a second; the server's memory (RSS) sampled every --every seconds

Run: .venv/bin/python bench/bench_attacks.py idle|lang|sigkill|soak [options]; the server starts with an open-file
limit of --nofile (soft) and --hard (hard), 1,024 and the system's by default (the server raises the soft one).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import http.client
import json
import os
import random
import resource
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-wechat-token"
QUESTIONS = ["微信被封了怎么申诉", "有人出50块让我帮他扫码解封", "my wechat got banned", "收手机卡一张200靠谱吗",
             "我個微信俾人封咗，點算？", "QQ被冻结了里面的钱怎么办", "今天天气怎么样", "那聊天记录呢？"]
ADS = ["高价收购手机卡，一张200，当天结算，联系V：abc123", "兼职刷单，日赚300，加微信 tiger_2020"]
TOPICS = ["ban-appeal", "sell-sim-card", "regional-fraud-ban", "banned-funds-withdrawal", "paid-unseal-service"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


RUNNING: list["Server"] = []  # stopped by main() whatever happens


class Server:
    """`python -m bot web` in its own process, on a fresh database."""

    def __init__(self, folder: Path, nofile: int, hard: int | None, extra: str = "") -> None:
        self.folder = folder
        self.port = free_port()
        self.db = folder / "bot.sqlite3"
        (folder / "config.yaml").write_text(
            f"storage:\n  path: {self.db}\nweb:\n  rate_limit:\n    requests: 100000000\n"
            f"wechat:\n  token: {TOKEN}\nrate_limit:\n  messages: 1000000\nlogging:\n  level: WARNING\n" + extra,
            encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "WECHAT_"))}
        env["PYTHONPATH"] = str(ROOT)
        self.log = (folder / "web.log").open("ab")
        hard_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[1] if hard is None else hard

        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, hard_limit))

        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "web", "--config", str(folder / "config.yaml"), "--port", str(self.port)],
            cwd=folder, env=env, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL, preexec_fn=limits)
        RUNNING.append(self)
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2).read()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((folder / "web.log").read_text()[-2000:])
                time.sleep(0.2)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def stop(self) -> None:
        if self in RUNNING:
            RUNNING.remove(self)
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)
        self.log.close()


FAILURES: dict[str, int] = {}


def health(port: int, timeout: float = 1.0) -> float | None:
    """Seconds /healthz took on a new connection, or None when it failed or took longer than `timeout`."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as response:
            response.read()
            elapsed = time.perf_counter() - started
            if response.status == 200 and elapsed <= timeout:
                return elapsed
            reason = f"status {response.status}" if response.status != 200 else "slower than the time-out"
    except OSError as exc:
        reason = type(getattr(exc, "reason", exc)).__name__
    FAILURES[reason] = FAILURES.get(reason, 0) + 1
    return None


def table_rows(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("kv", "votes", "unanswered", "topic_views", "meta") if t in tables}
    finally:
        conn.close()


def wechat_query(timestamp: int | None = None) -> str:
    timestamp = str(timestamp or int(time.time()))
    nonce = os.urandom(8).hex()
    signature = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    return urllib.parse.urlencode({"signature": signature, "timestamp": timestamp, "nonce": nonce})


def wechat_xml(sender: str, text: str, msg_id: int) -> bytes:
    return (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[{sender}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
            f"<Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>").encode()


# -- idle and slow connections -------------------------------------------------------------------


async def hold_idle(port: int, stop: asyncio.Event, closed: list[int]) -> None:
    """One idle connection, opened again whenever the server closes it."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.5)
            continue
        try:
            while not stop.is_set():
                try:
                    if await asyncio.wait_for(reader.read(1), 1.0) == b"":
                        closed[0] += 1
                        break
                except asyncio.TimeoutError:
                    continue
        except OSError:
            closed[0] += 1
        finally:
            writer.close()


async def slow_client(port: int, stop: asyncio.Event, closed: list[int], body: bool) -> None:
    """Sends a request a byte a second (its headers, or a 60 KB body), reconnecting when cut off."""
    if body:
        head = (b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 60000\r\n\r\n")
        trickle = b'{"q": "' + b"a" * 59990
    else:
        head, trickle = b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 10000
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head)
            for i in range(len(trickle)):
                if stop.is_set():
                    break
                writer.write(trickle[i:i + 1])
                await writer.drain()
                try:
                    if await asyncio.wait_for(reader.read(1024), 1.0) == b"" or reader.at_eof():
                        closed[0] += 1
                        break
                except asyncio.TimeoutError:
                    pass
            writer.close()
        except OSError:
            closed[0] += 1
            await asyncio.sleep(0.2)


def run_idle(args) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-attacks-") as tmp:
        server = Server(Path(tmp), args.nofile, args.hard)
        print(f"server: open-file limit {args.nofile} (soft) / {args.hard or 'system'} (hard) at start")
        print(f"attack: {args.idle} idle connections, {args.slow} slow clients ({args.slow // 2} headers, "
              f"{args.slow - args.slow // 2} bodies, a byte a second), {args.seconds} s, all reconnecting")
        stop_flag = threading.Event()
        probes: list[float | None] = []
        fds: list[int] = []

        def probe() -> None:
            while not stop_flag.is_set():
                probes.append(health(server.port, 1.0))
                fds.append(server.open_files())
                time.sleep(0.5)

        async def attack() -> tuple[int, int]:
            stop = asyncio.Event()
            closed_idle, closed_slow = [0], [0]
            tasks = [asyncio.create_task(hold_idle(server.port, stop, closed_idle)) for _ in range(args.idle)]
            tasks += [asyncio.create_task(slow_client(server.port, stop, closed_slow, body=i % 2 == 1))
                      for i in range(args.slow)]
            await asyncio.sleep(args.seconds)
            stop.set()
            await asyncio.wait(tasks, timeout=10)
            return closed_idle[0], closed_slow[0]

        thread = threading.Thread(target=probe)
        thread.start()
        closed_idle, closed_slow = asyncio.run(attack())
        stop_flag.set()
        thread.join()
        answered = [p for p in probes if p is not None]
        print(f"/healthz probes: {len(probes)}; answered within 1 s: {len(answered)} "
              f"({100 * len(answered) / max(1, len(probes)):.1f}%)")
        if answered:
            answered.sort()
            print(f"/healthz latency of those answered: median {1000 * statistics.median(answered):.1f} ms, "
                  f"90th percentile {1000 * answered[int(0.9 * (len(answered) - 1))]:.1f} ms, "
                  f"max {1000 * max(answered):.1f} ms")
        if FAILURES:
            print(f"/healthz failures: {FAILURES}")
        print(f"connections the server closed: {closed_idle} idle, {closed_slow} slow")
        print(f"server's open files during the attack: max {max(fds) if fds else 0}")
        log = (Path(tmp) / "web.log").read_text(errors="replace")
        print(f"'Too many open files' in the log: {log.count('Too many open files')}; "
              f"tracebacks: {log.count('Traceback')}")
        server.stop()


# -- 10,000 language choices ---------------------------------------------------------------------


def run_lang(args) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-attacks-") as tmp:
        server = Server(Path(tmp), args.nofile, args.hard)
        before = table_rows(server.db)
        size_before = server.db.stat().st_size + sum(p.stat().st_size for p in Path(tmp).glob("bot.sqlite3-*"))
        started = time.perf_counter()
        statuses: dict[int, int] = {}

        def worker(n: int) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            for _ in range(n):
                conn.request("GET", "/lang/en?next=/")  # no Cookie header: every request a new visitor
                response = conn.getresponse()
                response.read()
                statuses[response.status] = statuses.get(response.status, 0) + 1

        threads = [threading.Thread(target=worker, args=(args.requests // 8,)) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        time.sleep(1.0)  # past the writer's batch delay
        after = table_rows(server.db)
        size_after = server.db.stat().st_size + sum(p.stat().st_size for p in Path(tmp).glob("bot.sqlite3-*"))
        server.stop()
        print(f"{sum(statuses.values())} GET /lang/en without a cookie in {elapsed:.1f} s "
              f"({sum(statuses.values()) / elapsed:.0f}/s); statuses {statuses}")
        print(f"rows before: {before}")
        print(f"rows after:  {after}")
        print(f"rows added: {sum(after.values()) - sum(before.values())}; "
              f"database files {size_before} -> {size_after} bytes")


# -- SIGKILL under load ----------------------------------------------------------------------------


def run_sigkill(args) -> None:
    sys.path.insert(0, str(ROOT))
    from bot.store import Store

    totals = {"votes": [0, 0], "choices": [0, 0]}
    for round_ in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="bench-attacks-") as tmp:
            server = Server(Path(tmp), args.nofile, args.hard)
            votes: list[str] = []
            choices: list[str] = []
            stop = threading.Event()

            def voter() -> None:
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
                while not stop.is_set():
                    try:
                        conn.request("POST", f"/t/{random.choice(TOPICS)}/vote", body="up=1",
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
                        response = conn.getresponse()
                        response.read()
                    except (OSError, http.client.HTTPException):
                        return
                    if response.status == 303:
                        votes.append(response.getheader("set-cookie").split(";")[0].split("=", 1)[1].split(".")[0])

            def follower(n: int) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
                i = 0
                while not stop.is_set():
                    sender = f"oBench{n:02d}x{i:06d}"
                    i += 1
                    try:
                        for step, text in enumerate(("被封清单", "1")):  # the checklist, then the platform: WeChat
                            conn.request("POST", "/wechat?" + wechat_query(),
                                         body=wechat_xml(sender, text, n * 10**9 + i * 10 + step),
                                         headers={"Content-Type": "text/xml"})
                            response = conn.getresponse()
                            body = response.read()
                        if response.status == 200 and b"CDATA" in body and "没能保存".encode() not in body:
                            choices.append(sender)  # the follower was asked for the ban's reason: platform saved
                    except (OSError, http.client.HTTPException):
                        return

            threads = [threading.Thread(target=voter) for _ in range(3)]
            threads += [threading.Thread(target=follower, args=(n,)) for n in range(3)]
            for thread in threads:
                thread.start()
            time.sleep(random.uniform(2.0, 4.0))
            server.process.kill()
            server.process.wait(10)
            stop.set()
            for thread in threads:
                thread.join()
            server.log.close()
            store = Store(server.db)  # as the next start finds the database
            try:
                conn = sqlite3.connect(server.db)
                saved_votes = {row[0] for row in conn.execute("SELECT voter FROM votes")}
                saved_flows = {row[0]: row[1] for row in conn.execute(
                    "SELECT key, value FROM kv WHERE key LIKE 'flow:banned:wx:%'")}
                conn.close()
                lost_votes = sum(1 for v in votes if store.voter(f"web:{v}") not in saved_votes)
                lost_choices = sum(1 for s in choices
                                   if '"wechat"' not in saved_flows.get(f"flow:banned:wx:{s}", ""))
            finally:
                store.close()
            print(f"round {round_}: {len(votes)} confirmed votes, {lost_votes} lost; "
                  f"{len(choices)} confirmed checklist choices, {lost_choices} lost")
            totals["votes"][0] += len(votes)
            totals["votes"][1] += lost_votes
            totals["choices"][0] += len(choices)
            totals["choices"][1] += lost_choices
    for kind, (confirmed, lost) in totals.items():
        print(f"total {kind}: {confirmed} confirmed, {lost} lost ({100 * lost / max(1, confirmed):.2f}%)")


# -- mixed soak ------------------------------------------------------------------------------------


def run_soak(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    server = Server(folder, args.nofile, args.hard)
    stop = threading.Event()
    counts = {"requests": 0, "errors": 0}
    lock = threading.Lock()
    interval = 8 / args.rate  # eight workers

    def request(conn, method, path, body=None, headers=None) -> int:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        response.read()
        return response.status

    def worker(n: int) -> None:
        rng = random.Random(n)
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        cookie = ""
        msg = 0
        while not stop.is_set():
            started = time.monotonic()
            kind = rng.random()
            form = {"Content-Type": "application/x-www-form-urlencoded"}
            try:
                if kind < 0.15:
                    status = request(conn, "GET", "/")
                elif kind < 0.30:
                    status = request(conn, "GET", f"/t/{rng.choice(TOPICS)}", headers={"Cookie": cookie})
                elif kind < 0.45:
                    conn.request("POST", "/", body=urllib.parse.urlencode({"q": rng.choice(QUESTIONS + ADS)}),
                                 headers={**form, "Cookie": cookie})
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    if rng.random() < 0.1 or not cookie:  # now and then a new visitor
                        set_cookie = response.getheader("set-cookie") or ""
                        cookie = set_cookie.split(";")[0] if set_cookie.startswith("v=") else cookie
                elif kind < 0.60:
                    status = request(conn, "POST", "/api/ask", json.dumps({"q": rng.choice(QUESTIONS)}).encode(),
                                     {"Content-Type": "application/json"})
                elif kind < 0.70:
                    status = request(conn, "POST", "/api/check", json.dumps({"text": rng.choice(ADS)}).encode(),
                                     {"Content-Type": "application/json"})
                elif kind < 0.78:
                    status = request(conn, "POST", f"/t/{rng.choice(TOPICS)}/vote", b"up=1", form)
                elif kind < 0.86:
                    status = request(conn, "GET", f"/lang/{rng.choice(['en', 'zh', 'zh-Hant'])}?next=/")
                elif kind < 0.98:
                    msg += 1
                    sender = f"oSoak{n}x{rng.randrange(100000)}"  # many followers, some coming back
                    status = request(conn, "POST", "/wechat?" + wechat_query(),
                                     wechat_xml(sender, rng.choice(QUESTIONS + ["菜单", "被封清单", "1", "2"]),
                                                n * 10**12 + msg), {"Content-Type": "text/xml"})
                else:
                    status = request(conn, "GET", "/healthz")
                ok = status in (200, 303)
            except (OSError, http.client.HTTPException):
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            with lock:
                counts["requests"] += 1
                counts["errors"] += not ok
            time.sleep(max(0.0, interval - (time.monotonic() - started)))

    # SIGTERM (a kill of the bench) stops the soak like the end of its time: the server is stopped, figures printed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(8)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    print(f"soak: {args.minutes} min planned, about {args.rate} requests/s, RSS every {args.every} s "
          f"(database {server.db})", flush=True)
    print("minutes  rss_mb  requests  errors  open_files  rows(kv,votes,unanswered)", flush=True)
    samples = []
    try:
        while time.monotonic() - started < args.minutes * 60:
            time.sleep(args.every)
            rows = table_rows(server.db)
            rss = server.rss_mb()
            samples.append(rss)
            print(f"{(time.monotonic() - started) / 60:7.2f}  {rss:6.1f}  {counts['requests']:8d}  "
                  f"{counts['errors']:6d}  {server.open_files():10d}  "
                  f"{rows['kv']},{rows['votes']},{rows['unanswered']}", flush=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
        server.stop()
        elapsed = (time.monotonic() - started) / 60
        if samples:
            print(f"ran {elapsed:.1f} min: {counts['requests']} requests, {counts['errors']} errors; RSS first "
                  f"{samples[0]:.1f} MB, last {samples[-1]:.1f} MB, max {max(samples):.1f} MB", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("attack", choices=("idle", "lang", "sigkill", "soak"))
    parser.add_argument("--nofile", type=int, default=1024, help="soft open-file limit the server starts with")
    parser.add_argument("--hard", type=int, default=None, help="hard open-file limit (default: the system's)")
    parser.add_argument("--idle", type=int, default=1100)
    parser.add_argument("--slow", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--requests", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--minutes", type=float, default=15)
    parser.add_argument("--rate", type=float, default=80)
    parser.add_argument("--every", type=float, default=30)
    args = parser.parse_args()
    try:
        {"idle": run_idle, "lang": run_lang, "sigkill": run_sigkill, "soak": run_soak}[args.attack](args)
    finally:
        for server in list(RUNNING):  # a failed run leaves no server behind
            server.process.kill()
            server.process.wait(10)


if __name__ == "__main__":
    main()

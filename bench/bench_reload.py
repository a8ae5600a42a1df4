"""Live reloads under load: time from a change to the new answer, failed requests, mixed answers, memory.

Runs the real `python -m bot web` on a copy of the knowledge base (with a model
cache of its own, warmed first), keeps a steady load of questions on /api/ask
from a few threads, and in each round:

1. edits a topic file (a new phrasing, so the models retrain, and a marked
   answer) and times the edit to the first answer of the new phrasing with the
   new topic, through the folder watcher;
2. does the same through SIGHUP;
3. with --curate TOKEN: through a curator's publish on /curate (log in, add the
   phrasing, publish), timed from the publish request to the new answer;
4. breaks a topic file (a YAML syntax error), waits for the log line, restores it.

Every answer is checked: the new phrasing comes with the new card and the old
one with the old card, never one of each. Prints figures; asserts nothing.
Run: .venv/bin/python bench/bench_reload.py [--rounds 3] [--threads 3] [--watch 1]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPIC = "banned-data-recovery"
# One made-up question per change, unlike each other, so that no change teaches the model the next one.
NEW_QUESTIONS = ["斑马跳舞的时候芒果会不会生气", "火星土豆排队买彩虹伞", "企鹅弹钢琴为什么要戴墨镜", "柠檬骑自行车去月亮开会",
                 "长颈鹿在图书馆卖冰淇淋合法吗", "蜗牛开飞机需要几张驾照", "西瓜和乌龟谁先到达北极", "海豚能不能帮我织毛衣",
                 "仙人掌参加马拉松要穿什么鞋", "灯笼鱼给雪人写情书", "橡皮擦去沙漠度假带伞吗", "松鼠指挥交响乐团收门票吗",
                 "北极熊在沙漠里开奶茶店要交税吗", "彩虹糖能不能当作飞船燃料", "章鱼给自己织了八只袜子吗",
                 "月亮上的兔子会不会打篮球", "机器人厨师为什么讨厌香菜", "纸飞机能飞到海王星吗",
                 "小狗当选村长后先修哪座桥", "大象坐电梯需要买几张票", "蒲公英去火山旅行要带防晒霜吗",
                 "袋鼠参加钢琴比赛评委打几分", "雪糕在冬天会不会感冒发烧", "蚂蚁搬家为什么不请搬家公司",
                 "土星的戒指是谁送的订婚礼物", "鹦鹉学会了三门外语能当翻译吗"]
# Once a few of them are phrasings of TOPIC, the model may take the next one for TOPIC before its change:
# such a question is skipped (and said), since it could not show when the change is served.
LOAD_QUESTIONS = ["微信被封了怎么申诉", "收手机卡一张200靠谱吗", "聊天记录还能找回吗", "my wechat got banned",
                  "陌生人发了个链接让我下载app", "今天天气怎么样", "我個微信俾人封咗，點算？"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ask(url: str, question: str) -> dict:
    request = urllib.request.Request(f"{url}/api/ask", data=json.dumps({"q": question}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def cpu_seconds(pid: int) -> float:
    """Processor time of a process and its descendants, running or ended (the fork server, training
    and evaluation children)."""
    total, children = 0.0, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        todo += children.get(current, [])
    return total


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Load:
    def __init__(self, url: str, threads: int) -> None:
        self.url = url
        self.extra: list[str] = []  # the new phrasings, asked beside the usual questions
        self.answers: list[tuple[float, float, str, dict]] = []  # (start, seconds, question, answer)
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def run(self, offset: int) -> None:
        i = offset
        while not self.stop.is_set():
            pool = LOAD_QUESTIONS + self.extra
            question = pool[i % len(pool)]
            i += 1
            start = time.monotonic()
            try:
                answer = ask(self.url, question)
                self.answers.append((start, time.monotonic() - start, question, answer))
            except Exception as exc:  # noqa: BLE001 - counted
                self.failures.append(f"{question}: {exc!r}")

    def wait_for(self, question: str, since: float, timeout: float = 300.0) -> float:
        """Seconds from `since` to the first request (started after it) answering `question` with TOPIC."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for start, seconds, q, answer in list(self.answers):
                if q == question and start >= since and answer["topic"] == TOPIC:
                    return start + seconds - since
            time.sleep(0.05)
        return float("nan")


def edit(kb: Path, question: str, mark: str) -> None:
    path = kb / "topics" / f"{TOPIC}.yaml"
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"answer:\n  zh: \|\n    (【r\d+】)?", f"answer:\n  zh: |\n    {mark}", text, count=1)
    path.write_text(text.replace("questions:\n", f"questions:\n  - {question}\n", 1), encoding="utf-8")


class Curator:
    """A curator's browser session on /curate: log in, add a phrasing, publish."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        self.token = token

    def get(self, path: str) -> str:
        request = urllib.request.Request(self.url + path, headers={"Sec-Fetch-Site": "same-origin"})
        with self.opener.open(request, timeout=120) as response:
            return response.read().decode()

    def post(self, path: str, form: dict) -> str:
        request = urllib.request.Request(self.url + path, data=urllib.parse.urlencode(form).encode(), method="POST",
                                         headers={"Sec-Fetch-Site": "same-origin", "Origin": self.url})
        with self.opener.open(request, timeout=300) as response:
            return response.read().decode()

    def csrf(self, html: str) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', html).group(1)

    def login(self) -> None:
        page = self.get("/curate/login")
        self.post("/curate/login", {"token": self.token, "csrf": self.csrf(page), "name": "bench"})

    def add_phrasing(self, question: str) -> None:
        page = self.get("/curate")
        self.post("/curate/phrasing", {"csrf": self.csrf(page), "text": question, "target": TOPIC})

    def publish(self, wait_for_evaluation: bool, on_send=lambda: None) -> float:
        """Publish from the draft page, at once or once its evaluation is shown; when the publish was sent."""
        page = self.get("/curate/draft")
        while wait_for_evaluation and "Evaluating in the background" in page:
            time.sleep(1)
            page = self.get("/curate/draft")
        on_send()
        start = time.monotonic()
        result = self.post("/curate/publish", {"csrf": self.csrf(page)})
        if "Published by" not in result:
            print("publish failed:", re.findall(r"Not published[^<]*", result)[:1], flush=True)
        return start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--watch", type=float, default=1.0, help="knowledge.watch_seconds of the server")
    parser.add_argument("--curate", metavar="TOKEN", help="also publish through /curate with this token")
    parser.add_argument("--folds", type=int, default=5, help="curate.folds of the server (the draft's cross-validation)")
    args = parser.parse_args()
    # Ctrl-C or SIGTERM still stops the server this script started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))

    load_start = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-reload-"))
    kb = work / "knowledge"
    shutil.copytree(ROOT / "knowledge", kb)
    env = {**os.environ, "ACCOUNT_SAFETY_BOT_CACHE": str(work / "cache"), "PYTHONUNBUFFERED": "1"}
    env.pop("TELEGRAM_BOT_TOKEN", None)
    env.pop("WECHAT_TOKEN", None)
    if args.curate:
        env["CURATE_TOKEN"] = args.curate
    print(f"warming the model cache in {work / 'cache'} …", flush=True)
    subprocess.run([sys.executable, "-m", "bot", "--kb", str(kb), "ask", "warm"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    config = work / "config.yaml"
    config.write_text(f"storage:\n  path: {work / 'bot.sqlite3'}\nknowledge:\n  dir: {kb}\n  watch_seconds: {args.watch}\n"
                      f"web:\n  rate_limit:\n    requests: 100000000\ncurate:\n  folds: {args.folds}\n", encoding="utf-8")
    port = free_port()
    log = work / "web.log"
    server = subprocess.Popen([sys.executable, "-m", "bot", "web", "--config", str(config), "--port", str(port)],
                              cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=open(log, "wb"))
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2)
            break
        except OSError:
            if server.poll() is not None:
                sys.exit(log.read_text())
            time.sleep(0.2)
    load = Load(url, args.threads)
    for thread in load.threads:
        thread.start()
    time.sleep(3)
    rss_start = rss_mb(server.pid)
    timings: dict[str, list[float]] = {"watcher": [], "SIGHUP": [], "curator publish": [],
                                       "curator publish after the evaluation": []}
    cpu_times: dict[str, list[float]] = {how: [] for how in timings}
    curator = Curator(url, args.curate) if args.curate else None
    if curator:
        curator.login()
    windows = []  # (start, end) of each reload, for the latency during reloads
    marks = {0: 0}  # change number -> the number of the answer's mark in force after it
    numbers: dict[str, int] = {}  # new phrasing -> its change number
    changed_at: dict[str, float] = {}  # new phrasing -> when its change was made (or published)
    unused = iter(NEW_QUESTIONS)
    n = 0
    try:
        for round_ in range(args.rounds):
            curated = ("curator publish", "curator publish after the evaluation") if curator else ()
            for how in ("watcher", "SIGHUP") + curated:
                n += 1
                for question in unused:
                    if ask(url, question)["topic"] != TOPIC:
                        break
                    print(f"note: {question!r} is answered with {TOPIC} before any change: skipped", flush=True)
                else:
                    sys.exit("bench_reload: out of new questions (add some to NEW_QUESTIONS)")
                numbers[question] = n
                load.extra.append(question)
                mark = f"【r{n}】"
                marks[n] = marks[n - 1] if how.startswith("curator") else n
                cpu_before = cpu_seconds(server.pid)
                if how.startswith("curator"):
                    curator.add_phrasing(question)

                    def sent() -> None:
                        nonlocal cpu_before  # after an evaluation: only what the publish costs
                        cpu_before = cpu_seconds(server.pid)

                    # A curator's publish writes the phrasing; the marked answer is only for the mixing check.
                    after_evaluation = how.endswith("evaluation")
                    since = curator.publish(after_evaluation, sent if after_evaluation else lambda: None)
                else:
                    since = time.monotonic()
                    edit(kb, question, mark)
                    if how == "SIGHUP":
                        server.send_signal(signal.SIGHUP)
                changed_at[question] = since
                seconds = load.wait_for(question, since)
                timings[how].append(seconds)
                # Processor time of the server and its children meanwhile (an evaluation running
                # in the background counts too), and the machine's load (others share it).
                cpu = cpu_seconds(server.pid) - cpu_before
                cpu_times[how].append(cpu)
                windows.append((since, since + seconds))
                print(f"round {round_ + 1}: {how}: new answer served {seconds:.1f} s after the change "
                      f"(server and children: {cpu:.1f} s of processor time; load average "
                      f"{os.getloadavg()[0]:.1f})", flush=True)
                time.sleep(2)
            # A broken knowledge base: reported, and the current one keeps serving.
            path = kb / "topics" / "sell-sim-card.yaml"
            good = path.read_text(encoding="utf-8")
            path.write_text(good.replace("questions:\n", "questions: [oops\n", 1), encoding="utf-8")
            before = log.read_text(errors="replace").count("NOT reloaded")
            broken_at = time.monotonic()
            if args.watch <= 0:
                server.send_signal(signal.SIGHUP)
            while log.read_text(errors="replace").count("NOT reloaded") == before and time.monotonic() - broken_at < 60:
                time.sleep(0.1)
            print(f"round {round_ + 1}: broken file reported after {time.monotonic() - broken_at:.1f} s", flush=True)
            time.sleep(2)
            path.write_text(good, encoding="utf-8")
            time.sleep(2)
    finally:
        load.stop.set()
        for thread in load.threads:
            thread.join(60)
        rss_end = rss_mb(server.pid)
        server.send_signal(signal.SIGTERM)
        server.wait(30)
    # Mixed answers: a new phrasing answered with its topic, once it was written, must come with a card at
    # least as new as the phrasing (the mark written with it, or the last one before a curator's publish).
    mixed = 0
    for start, _, question, answer in load.answers:
        if question in numbers and answer["topic"] == TOPIC and start >= changed_at.get(question, float("inf")):
            number = numbers[question]
            shown = re.match(r"【r(\d+)】", answer["answer"])
            if marks.get(number) and (shown is None or int(shown.group(1)) < marks[number]):
                mixed += 1
    steady = [s for start, s, _, _ in load.answers if not any(a - 1 <= start <= b + 1 for a, b in windows)]
    during = [s for start, s, _, _ in load.answers if any(a <= start <= b for a, b in windows)]

    def pct(values: list[float], p: float) -> float:
        return sorted(values)[min(len(values) - 1, int(p * len(values)))] * 1000 if values else float("nan")

    print()
    print(f"machine: {os.cpu_count()} cores, load average {load_start:.1f} at the start, "
          f"{os.getloadavg()[0]:.1f} at the end (shared with other work)")
    print(f"requests: {len(load.answers)} answered, {len(load.failures)} failed, {mixed} mixed answers")
    for how, values in timings.items():
        if values:
            print(f"change to new answer, {how}: " + ", ".join(f"{v:.1f}" for v in values)
                  + f" s (median {statistics.median(values):.1f} s); processor time of the server and its "
                  f"children meanwhile: " + ", ".join(f"{v:.1f}" for v in cpu_times[how]) + " s")
    print(f"/api/ask latency, steady: median {pct(steady, 0.5):.0f} ms, p99 {pct(steady, 0.99):.0f} ms ({len(steady)} requests)")
    print(f"/api/ask latency, during reloads: median {pct(during, 0.5):.0f} ms, p99 {pct(during, 0.99):.0f} ms, "
          f"max {max(during) * 1000 if during else float('nan'):.0f} ms ({len(during)} requests)")
    print(f"server memory: {rss_start:.0f} MB before the first reload, {rss_end:.0f} MB after {n} reloads "
          f"and {args.rounds} refused ones")
    reloaded = len(re.findall("knowledge base reloaded", log.read_text(errors="replace")))
    print(f"log: {log.read_text(errors='replace').count('NOT reloaded')} 'NOT reloaded' lines; {reloaded} reload lines")
    if load.failures:
        print("failures:", *load.failures[:5], sep="\n  ")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""A running bot picks up a changed knowledge base without a restart, and never a broken one.

In-process: the bundle swap, pinning, the watcher, SIGHUP, the shared model cache.
As real processes: `web` under a steady load of questions through a good and a bad
reload (no failed request, no answer mixing two knowledge bases), and `run` on SIGHUP.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from bot import classifier
from bot.conversation import Card, Conversation
from bot.reload import LiveKnowledge, content_version
from bot.store import Store

from .conftest import ROOT

MARK = "【第二版】"


def mark_answer(kb_dir: Path, topic: str, mark: str = MARK) -> None:
    """Put `mark` at the start of a topic's Chinese answer (no phrasing changes: no retraining)."""
    path = kb_dir / "topics" / f"{topic}.yaml"
    text = path.read_text(encoding="utf-8")
    assert "answer:\n  zh: |\n    " in text
    path.write_text(text.replace("answer:\n  zh: |\n    ", f"answer:\n  zh: |\n    {mark}", 1), encoding="utf-8")


def add_phrasing(kb_dir: Path, topic: str, question: str) -> None:
    path = kb_dir / "topics" / f"{topic}.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("questions:\n", f"questions:\n  - {question}\n", 1), encoding="utf-8")


def break_yaml(kb_dir: Path, topic: str) -> str:
    """A YAML syntax error in a topic file; returns the good text, to put back."""
    path = kb_dir / "topics" / f"{topic}.yaml"
    good = path.read_text(encoding="utf-8")
    path.write_text(good.replace("questions:\n", "questions: [unclosed\n", 1), encoding="utf-8")
    return good


@pytest.fixture
def live(kb_copy) -> LiveKnowledge:
    return LiveKnowledge.load(kb_copy)


# -- in one process ----------------------------------------------------------------------------


def test_a_changed_knowledge_base_is_swapped_in_whole(live, kb_copy, tmp_path):
    old = live.current
    assert live.reload_now("nothing changed").outcome == "unchanged"
    mark_answer(kb_copy, "ban-appeal")
    result = live.reload_now("test")
    assert result.outcome == "reloaded" and result.version == content_version(kb_copy) != old.version
    new = live.current
    assert new is not old and new.kb.topics["ban-appeal"].answer.zh.startswith(MARK)
    assert new.matcher.kb is new.kb and new.checker.kb is new.kb
    # The old bundle is untouched: whoever still holds it answers as before.
    assert not old.kb.topics["ban-appeal"].answer.zh.startswith(MARK)
    # Only the answer changed: the text tools (jieba's dictionary) are reused, not loaded again.
    assert new.normaliser is old.normaliser
    store = Store(tmp_path / "s.sqlite3")
    try:
        reply = Conversation(None, None, store, knowledge=live).open("u1", "ban-appeal", "zh")
        assert isinstance(reply, Card) and reply.topic.answer.zh.startswith(MARK)
    finally:
        store.close()


def test_a_broken_knowledge_base_never_replaces_the_working_one(live, kb_copy, caplog):
    serving = live.current
    good = break_yaml(kb_copy, "sell-sim-card")
    with caplog.at_level(logging.INFO, logger="bot.reload"):
        result = live.reload_now("test")
    assert result.outcome == "failed" and live.current is serving
    assert any("sell-sim-card.yaml" in p and "YAML syntax error" in p for p in result.problems)
    # One clear line: what failed, that the old version keeps serving, and the first problem.
    [record] = caplog.records
    assert record.levelno == logging.ERROR and "\n" not in record.getMessage()
    assert "NOT reloaded" in record.getMessage() and serving.version in record.getMessage()
    assert "sell-sim-card.yaml" in record.getMessage()
    assert live.status()["error"] == list(result.problems) and live.failures == 1
    # The watcher does not retry the same broken content every few seconds…
    assert not live.changed_on_disk()
    # …but sees the fix, and the fix clears the error.
    (kb_copy / "topics" / "sell-sim-card.yaml").write_text(good, encoding="utf-8")
    mark_answer(kb_copy, "sell-sim-card")
    assert live.changed_on_disk()
    assert live.reload_now("fixed").outcome == "reloaded"
    assert live.status()["error"] == [] and live.current.kb.topics["sell-sim-card"].answer.zh.startswith(MARK)


def test_a_validation_error_is_refused_like_check_refuses_it(live, kb_copy):
    path = kb_copy / "topics" / "ban-appeal.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("theme: banned", "theme: no-such-theme", 1),
                    encoding="utf-8")
    result = live.reload_now("test")
    assert result.outcome == "failed"
    assert any("no-such-theme" in p for p in result.problems)


def test_requests_in_flight_finish_on_the_bundle_they_pinned(live, kb_copy, tmp_path):
    store = Store(tmp_path / "s.sqlite3")
    talk = Conversation(None, None, store, knowledge=live)
    try:
        with live.pinned() as pinned:
            mark_answer(kb_copy, "ban-appeal")
            assert live.reload_now("during a request").outcome == "reloaded"
            assert live.current is not pinned
            # The request still reads the knowledge base it started with, in worker threads too.
            assert talk.kb is pinned.kb and not talk.kb.topics["ban-appeal"].answer.zh.startswith(MARK)
            in_thread = asyncio.run(_in_worker_thread(lambda: talk.kb))
            assert in_thread is pinned.kb
        assert talk.kb is live.current.kb and talk.kb.topics["ban-appeal"].answer.zh.startswith(MARK)
    finally:
        store.close()


async def _in_worker_thread(function):
    return await asyncio.to_thread(function)


def test_the_version_ignores_drafts_editor_files_and_touches(kb_copy):
    version = content_version(kb_copy)
    (kb_copy / "drafts").mkdir()
    (kb_copy / "drafts" / "new-topic.yaml").write_text("id: new-topic\n", encoding="utf-8")
    (kb_copy / "topics" / ".ban-appeal.yaml.swp").write_bytes(b"\0swap")
    (kb_copy / "topics" / "ban-appeal.yaml~").write_text("backup", encoding="utf-8")
    os.utime(kb_copy / "topics" / "ban-appeal.yaml")
    assert content_version(kb_copy) == version
    mark_answer(kb_copy, "ban-appeal")
    assert content_version(kb_copy) != version


def test_the_watcher_and_sighup_reload_inside_the_event_loop(live, kb_copy):
    async def scenario():
        async with live.running(watch_seconds=0.2):
            mark_answer(kb_copy, "ban-appeal")
            await _until(lambda: live.reloads == 1)
            assert live.last_result.reason == "file change"
            # SIGHUP reloads even an unchanged folder (an operator's explicit request).
            os.kill(os.getpid(), signal.SIGHUP)
            await _until(lambda: live.reloads == 2)
            assert live.last_result.reason == "SIGHUP"
        # Leaving the block removes the SIGHUP handler again.
        assert asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP) is False

    asyncio.run(scenario())


async def _until(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_processes_sharing_the_cache_train_a_model_once(tmp_path, monkeypatch):
    """Two reloads of one new knowledge base at once (web and run): one trains, the other loads its model."""
    started = []
    real_start = classifier._start_child

    def counting_start(path, job):
        started.append(path.name)
        return real_start(path, job)

    monkeypatch.setattr(classifier, "_start_child", counting_start)
    samples = [(t, list(t)) for t in ("微信被封", "怎么申诉", "卖手机卡", "收手机卡", "天气", "吃饭")]
    job = classifier.TrainingJob("topics", samples, ["a", "a", "b", "b", "-", "-"])
    results = []
    threads = [threading.Thread(target=lambda: results.append(classifier.cached_models(tmp_path, [job])[0]))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert len(results) == 2 and len(started) == 1
    assert results[0].classes == results[1].classes == ("-", "a", "b")


SMALL = [(t, list(t)) for t in ("微信被封", "微信封号了", "怎么申诉", "申诉不通过", "卖手机卡", "收手机卡",
                                 "手机卡出租", "天气", "吃饭", "今天吃什么")]
SMALL_LABELS = ["a", "a", "a", "a", "b", "b", "b", "-", "-", "-"]


def test_a_reload_trains_starting_from_the_serving_models(live, kb_copy, monkeypatch):
    """The edited knowledge base's models start from the serving ones' weights (a few solver steps, not all)."""
    import bot.matcher

    serving = live.current.matcher
    jobs = []

    def record(cache_dir, wanted):
        jobs.extend(wanted)
        return [serving.model, serving.situation_model][:len(wanted)]

    monkeypatch.setattr(bot.matcher, "cached_models", record)
    add_phrasing(kb_copy, "ban-appeal", "橙色企鹅今天申诉了吗")
    assert live.reload_now("test").outcome == "reloaded"
    assert [job.name for job in jobs] == ["topics", "situations"]
    assert jobs[0].start is serving.model and jobs[1].start is serving.situation_model
    # Where the solver starts is not what the model is: the cache key ignores it.
    assert jobs[0].path(Path("c")) == classifier.TrainingJob("topics", jobs[0].samples, jobs[0].labels,
                                                             jobs[0].c, min_df=jobs[0].min_df).path(Path("c"))


@pytest.mark.parametrize("labels", [SMALL_LABELS, ["a" if x == "b" else x for x in SMALL_LABELS]],
                         ids=["three classes", "two classes"])
def test_the_starting_weights_are_the_start_models_own(labels):
    """Laid out for scikit-learn and exported back, the starting weights score every text as the start model did."""
    start = classifier.train(SMALL, labels)
    keys = sorted(start.index, key=start.index.__getitem__)
    coef, intercept = classifier._starting_weights(start, keys, sorted(set(labels)))
    if len(start.classes) == 2:  # exported as train() exports a binary model
        coef, intercept = classifier.np.vstack([-coef / 2, coef / 2]), classifier.np.hstack([-intercept / 2, intercept / 2])
    again = classifier.LinearModel(start.classes, start.index, start.block_of, start.idf, coef.T.copy(), intercept)
    for sample in SMALL + [("微信申诉", ["微信", "申诉"]), ("没见过", [])]:
        assert classifier.np.allclose(again.scores(*sample), start.scores(*sample), atol=1e-12)


def test_a_model_trained_from_a_start_is_the_same_model_within_the_solvers_tolerance(tmp_path):
    """Warm-started in a child process (the reload's way): it did start there, and it ends where a cold start ends."""
    start = classifier.train(SMALL, SMALL_LABELS)
    samples, labels = SMALL + [("手机卡卖给别人", ["手机卡", "卖给", "别人"])], SMALL_LABELS + ["b"]
    cold = classifier.train(samples, labels)
    [warm] = classifier.cached_models(tmp_path, [classifier.TrainingJob("topics", samples, labels, start=start)])
    assert warm.classes == cold.classes and warm.index == cold.index
    assert not classifier.np.array_equal(warm.coef, cold.coef)  # the start was used…
    for sample in samples:  # …and it reached the same optimum, to the solver's tolerance
        assert classifier.np.abs(warm.scores(*sample) - cold.scores(*sample)).max() < 0.02
        assert warm.scores(*sample).argmax() == cold.scores(*sample).argmax()
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        classifier.TrainingJob("topics", samples, labels).path(tmp_path).name]  # the start's file is gone


def test_the_cache_keeps_the_models_of_the_last_few_knowledge_bases(tmp_path):
    for i in range(classifier.KEEP_MODELS + 2):
        (tmp_path / f"topics-{i:020d}.npz").write_bytes(b"x")
        os.utime(tmp_path / f"topics-{i:020d}.npz", (1000 + i, 1000 + i))
    classifier._prune(tmp_path, "topics")
    kept = sorted(p.name for p in tmp_path.glob("topics-*.npz"))
    assert kept == [f"topics-{i:020d}.npz" for i in range(2, classifier.KEEP_MODELS + 2)]


# -- as real processes -------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_web(tmp_path: Path, kb_dir: Path, watch_seconds: float) -> tuple[subprocess.Popen, str, Path]:
    config = tmp_path / "config.yaml"
    config.write_text(f"storage:\n  path: {tmp_path / 'bot.sqlite3'}\nknowledge:\n  dir: {kb_dir}\n"
                      f"  watch_seconds: {watch_seconds}\nweb:\n  rate_limit:\n    requests: 1000000\n",
                      encoding="utf-8")
    port = free_port()
    log = tmp_path / "web.log"
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "WECHAT_TOKEN")}
    process = subprocess.Popen([sys.executable, "-m", "bot", "web", "--config", str(config), "--port", str(port)],
                               cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, log.read_text(encoding="utf-8", errors="replace")[-3000:]
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                break
        except OSError:
            assert time.monotonic() < deadline, "web did not start"
            time.sleep(0.2)
    return process, url, log


def ask(url: str, question: str) -> dict:
    request = urllib.request.Request(f"{url}/api/ask", data=json.dumps({"q": question}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


class SteadyLoad:
    """Threads asking questions without pause; every answer and every failure is kept."""

    def __init__(self, url: str, questions: list[str], threads: int = 3) -> None:
        self.url = url
        self.questions = questions
        self.answers: list[tuple[float, str, dict]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def _run(self, offset: int) -> None:
        i = offset
        while not self._stop.is_set():
            question = self.questions[i % len(self.questions)]
            i += 1
            try:
                self.answers.append((time.monotonic(), question, ask(self.url, question)))
            except Exception as exc:  # noqa: BLE001 - every failure is what the test counts
                self.failures.append(f"{question}: {exc!r}")

    def __enter__(self) -> "SteadyLoad":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def test_web_reloads_under_load_with_no_failed_request_and_no_mixed_answer(kb_copy, tmp_path):
    new_question = "蓝色长颈鹿口令能不能帮我把号弄回来"
    topic = "banned-data-recovery"
    process, url, log = start_web(tmp_path, kb_copy, watch_seconds=0.5)
    try:
        before = ask(url, new_question)
        assert before["topic"] != topic and MARK not in before["answer"]
        version = json.loads(urllib.request.urlopen(f"{url}/api/kb").read())["version"]
        with SteadyLoad(url, [new_question, "微信被封了怎么申诉", "聊天记录还能找回吗"]) as load:
            time.sleep(1)
            # A good reload: a new phrasing (the models retrain) and a changed answer, in one edit.
            add_phrasing(kb_copy, topic, new_question)
            mark_answer(kb_copy, topic)
            deadline = time.monotonic() + 180
            while not any(q == new_question and a["topic"] == topic for _, q, a in load.answers[-20:]):
                assert time.monotonic() < deadline, "the new phrasing was not answered within 180 s"
                assert not load.failures, load.failures[:3]
                time.sleep(0.2)
            swapped = time.monotonic()
            # A bad reload: the old (new) version keeps serving; one line in the log says why.
            good = break_yaml(kb_copy, "sell-sim-card")
            deadline = time.monotonic() + 60
            while "NOT reloaded" not in log.read_text(encoding="utf-8", errors="replace"):
                assert time.monotonic() < deadline, "the broken knowledge base was not reported"
                time.sleep(0.2)
            time.sleep(2)
            (kb_copy / "topics" / "sell-sim-card.yaml").write_text(good, encoding="utf-8")
            time.sleep(2)
        assert load.failures == []
        assert len(load.answers) > 50
        # No answer from a half-loaded knowledge base: the new topic comes with the new answer, always.
        kinds = Counter()
        for at, question, answer in load.answers:
            marked = MARK in answer["answer"]
            if question == new_question:
                # Old matcher and old card, or new matcher and new card: never one of each.
                assert marked == (answer["topic"] == topic), answer
            if marked:
                assert answer["topic"] == topic
            kinds[(question, marked)] += 1
            if at > swapped + 5 and answer["topic"] == topic:
                assert marked, "an answer after the swap (and through the broken reload) came from the old version"
        # Asked both before and after the swap; the card the other question opens changed with it.
        assert kinds[(new_question, False)] and kinds[(new_question, True)]
        assert kinds[("聊天记录还能找回吗", False)] and kinds[("聊天记录还能找回吗", True)]
        text = log.read_text(encoding="utf-8", errors="replace")
        lines = [line for line in text.splitlines() if "NOT reloaded" in line]
        assert len(lines) == 1 and "sell-sim-card.yaml" in lines[0], text[-3000:]
        assert "Traceback" not in text
        after = json.loads(urllib.request.urlopen(f"{url}/api/kb").read())
        assert after["version"] != version
        assert next(t for t in after["topics"] if t["id"] == topic)["answer"]["zh"].startswith(MARK)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def test_the_telegram_process_reloads_on_sighup(fake_api, kb_copy, tmp_path):
    (tmp_path / "config.yaml").write_text(f"storage:\n  path: {tmp_path / 'bot.sqlite3'}\nknowledge:\n"
                                          f"  dir: {kb_copy}\n  watch_seconds: 0\n", encoding="utf-8")
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake_api.token, "TELEGRAM_BASE_URL": f"{fake_api.url}/bot",
           "PYTHONPATH": str(ROOT)}
    log = tmp_path / "run.log"
    process = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=open(log, "wb"))
    try:
        fake_api.wait_for("getUpdates", timeout=60)
        fake_api.private_message(7001, "/start ban-appeal")
        [first] = fake_api.wait_for("sendMessage", timeout=30)
        assert MARK not in first.params["text"]
        mark_answer(kb_copy, "ban-appeal")
        time.sleep(1.5)  # watch_seconds 0: nothing happens until the signal
        fake_api.private_message(7001, "/start ban-appeal")
        calls = fake_api.wait_for("sendMessage", count=2, timeout=30)
        assert MARK not in calls[1].params["text"]
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 180
        while "knowledge base reloaded (SIGHUP)" not in log.read_text(encoding="utf-8", errors="replace"):
            assert process.poll() is None and time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.2)
        fake_api.private_message(7001, "/start ban-appeal")
        calls = fake_api.wait_for("sendMessage", count=3, timeout=30)
        assert MARK in calls[2].params["text"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
    text = log.read_text(encoding="utf-8", errors="replace")
    assert process.returncode == 0, text[-2000:]
    assert "Traceback" not in text

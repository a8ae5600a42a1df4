"""Curation: turning what people asked into knowledge (the core of /curate; no web code here).

- The queue: stored unanswered and unsure questions, and messages people meant as
  questions, grouped by near-duplicates (rapidfuzz), most asked first.
- The draft: changes a curator queued (a phrasing for a topic or one of its
  situations, an out-of-scope question, a finished draft topic), applied to a
  copy of the knowledge folder by a round-trip YAML editor that keeps every
  file's order, comments and layout; validated like `check`, shown as a diff.
- Evaluation before and after, in a child process (`python -m bot eval --json`):
  cross-validated top-1 and out-of-scope rejection, and the labelled question sets.
- Publishing: the changed files written into the knowledge folder, the live
  knowledge reloaded (a failure puts the files back), and the change recorded.
  The draft's models are trained as soon as it changes, in the background, so
  that publishing finds them in the content-keyed cache.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import io
import json
import logging
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from rapidfuzz import fuzz, process

from .knowledge import ID_PATTERN, MAX_ID_LEN, KnowledgeError, load_knowledge, question_key
from .reload import DRAFTS, LiveKnowledge, build_knowledge, content_version

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
# The project's labelled question sets a change is measured on (never the sealed ones).
EVAL_SETS = ("tests/data/dev.yaml", "tests/data/validation.yaml", "bench/data/holdout-questions.yaml",
             "bench/data/blind/questions-everyday.yaml", "bench/data/blind/questions-stories.yaml")
# Two stored questions whose normalised texts are at least this similar (rapidfuzz ratio) are one group.
NEAR_DUPLICATE = 82.0
MAX_VARIANTS = 40  # wordings of a group that the page shows and an action applies to
EVAL_NICENESS = 10  # how much lower the evaluation's priority is than the server's
KINDS = {"none": "no answer", "low": "unsure", "as_question": "meant as a question"}


class CurationError(Exception):
    """A change that cannot be made; the message is for the curator."""


# -- the queue ----------------------------------------------------------------------------


@dataclass
class QuestionGroup:
    """Near-duplicate stored questions: one thing people keep asking."""

    text: str  # the most asked wording
    count: int = 0
    kinds: Counter = field(default_factory=Counter)
    langs: Counter = field(default_factory=Counter)
    first_seen: float = float("inf")
    last_seen: float = 0.0
    variants: list[tuple[str, int]] = field(default_factory=list)  # (wording, times asked), most asked first
    top: list[tuple[str, float]] = field(default_factory=list)  # the bot's current three closest topics
    decision: str = ""  # what the bot would do now (answer, suggest, none)

    @property
    def key(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:12]

    @property
    def questions(self) -> list[str]:
        return [v for v, _ in self.variants[:MAX_VARIANTS]]


def group_questions(rows: list[tuple[str, str, str, int, float, float]], normalise: Callable[[str], str],
                    kinds: tuple[str, ...] = ("none", "low")) -> list[QuestionGroup]:
    """Stored (question, kind, lang, count, first, last) rows of `kinds` as near-duplicate groups, most asked first."""
    merged: dict[str, QuestionGroup] = {}
    order: list[str] = []
    for question, kind, lang, count, first, last in rows:
        if kind not in kinds:
            continue
        group = merged.get(question)
        if group is None:
            group = merged[question] = QuestionGroup(question)
            order.append(question)
        group.count += count
        group.kinds[kind] += count
        group.langs[lang] += count
        group.first_seen, group.last_seen = min(group.first_seen, first), max(group.last_seen, last)
    singles = sorted((merged[q] for q in order), key=lambda g: (-g.count, -g.last_seen))
    groups: list[QuestionGroup] = []
    keys: list[str] = []  # normalised text of each group's first wording
    for single in singles:
        norm = normalise(single.text)
        hit = process.extractOne(norm, keys, scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE) if keys else None
        if hit is None:
            single.variants = [(single.text, single.count)]
            groups.append(single)
            keys.append(norm)
            continue
        group = groups[hit[2]]
        group.count += single.count
        group.kinds.update(single.kinds)
        group.langs.update(single.langs)
        group.first_seen, group.last_seen = min(group.first_seen, single.first_seen), max(group.last_seen, single.last_seen)
        group.variants.append((single.text, single.count))
    groups.sort(key=lambda g: (-g.count, -g.last_seen))
    return groups


# -- the round-trip YAML editor -------------------------------------------------------------


# Indentations tried, in order: the knowledge base's own files use the first.
_LAYOUTS = ((2, 4, 2), (2, 2, 0), (2, 2, 2), (4, 4, 2), (2, 4, 4))


class YamlFile:
    """A YAML file edited in place: ruamel.yaml's round trip, in the layout that reproduces the file exactly.

    If no layout reproduces the file byte for byte, editing it is refused: a
    curator's one-line change must never reformat a whole file.
    """

    def __init__(self, path: Path) -> None:
        from ruamel.yaml import YAML

        self.path = path
        self.original = path.read_text(encoding="utf-8")
        for mapping, sequence, offset in _LAYOUTS:
            yaml = YAML()
            yaml.preserve_quotes = True
            yaml.width = 100_000
            yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
            data = yaml.load(self.original)
            if self._dump(yaml, data) == self.original:
                self.yaml, self.data = yaml, data
                return
        raise CurationError(f"{path.name} cannot be edited without reformatting it: edit it by hand")

    @staticmethod
    def _dump(yaml, data) -> str:
        out = io.StringIO()
        yaml.dump(data, out)
        return out.getvalue()

    def text(self) -> str:
        return self._dump(self.yaml, self.data)

    def save(self) -> None:
        self.path.write_text(self.text(), encoding="utf-8")


# -- the draft ------------------------------------------------------------------------------


@dataclass
class Change:
    """One queued change to the knowledge base."""

    kind: str  # "phrasing", "out_of_scope" or "topic" (a draft topic, published as a topic)
    text: str = ""  # the phrasing or out-of-scope question
    topic: str = ""  # the topic it goes to (phrasing, topic)
    situation: str = ""  # the situation of the topic it goes to ("": the general reader)
    by: str = ""
    at: float = 0.0
    forget: list[str] = field(default_factory=list)  # stored questions answered by it, deleted on publish

    def describe(self) -> str:
        if self.kind == "phrasing":
            where = f"{self.topic} / {self.situation}" if self.situation else self.topic
            return f"phrasing {self.text!r} → {where}"
        if self.kind == "out_of_scope":
            return f"out of scope: {self.text!r}"
        return f"new topic {self.topic}"


class Draft:
    """The changes queued for the next publish, in a JSON file beside the database (one draft, shared)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def changes(self) -> list[Change]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return [Change(**item) for item in data]
        except (OSError, ValueError, TypeError):
            return []

    def _write(self, changes: list[Change]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps([asdict(c) for c in changes], ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, self.path)

    def add(self, change: Change) -> None:
        with self._lock:
            changes = self.changes()
            if any((c.kind, c.text, c.topic) == (change.kind, change.text, change.topic) for c in changes):
                return
            self._write(changes + [change])

    def remove(self, index: int) -> None:
        with self._lock:
            changes = self.changes()
            if 0 <= index < len(changes):
                del changes[index]
                self._write(changes)

    def clear(self, published: list[Change]) -> None:
        """Drop what was published (changes queued meanwhile stay)."""
        with self._lock:
            done = [asdict(c) for c in published]
            self._write([c for c in self.changes() if asdict(c) not in done])


def apply_changes(root: Path, changes: list[Change], dest: Path) -> list[str]:
    """A copy of the knowledge folder in `dest` with the changes made; the relative paths changed.

    Raises CurationError when a change cannot be made (an unknown topic or
    situation, a phrasing the knowledge base already has).
    """
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(root, dest, ignore=shutil.ignore_patterns(".*"))
    files: dict[str, YamlFile] = {}

    def edit(relative: str) -> YamlFile:
        if relative not in files:
            path = dest / relative
            if not path.exists():
                raise CurationError(f"{relative} does not exist")
            files[relative] = YamlFile(path)
        return files[relative]

    known = _known_questions(dest)
    new_topics = []
    for change in changes:
        if change.kind in ("phrasing", "out_of_scope"):
            key = question_key(change.text)
            if not key:
                raise CurationError(f"an empty question cannot be added ({change.text!r})")
            if key in known:
                raise CurationError(f"{change.text!r} is already in the knowledge base ({known[key]})")
        if change.kind == "phrasing":
            if not ID_PATTERN.match(change.topic) or not (dest / "topics" / f"{change.topic}.yaml").exists():
                raise CurationError(f"no topic {change.topic!r}")
            data = edit(f"topics/{change.topic}.yaml").data
            if change.situation:
                found = [s for s in data.get("situations") or [] if s.get("id") == change.situation]
                if not found:
                    raise CurationError(f"topic {change.topic!r} has no situation {change.situation!r}")
                found[0]["questions"].append(change.text)
            else:
                data["questions"].append(change.text)
            known[question_key(change.text)] = f"topic {change.topic}"
        elif change.kind == "out_of_scope":
            edit("out_of_scope.yaml").data["questions"].append(change.text)
            known[question_key(change.text)] = "out of scope"
        elif change.kind == "topic":
            source = dest / DRAFTS / f"{change.topic}.yaml"
            target = dest / "topics" / f"{change.topic}.yaml"
            if not source.exists():
                raise CurationError(f"no draft topic {change.topic!r}")
            if target.exists():
                raise CurationError(f"a topic {change.topic!r} exists already")
            shutil.copyfile(source, target)
            new_topics.append(f"topics/{change.topic}.yaml")
        else:
            raise CurationError(f"unknown change {change.kind!r}")
    for yaml_file in files.values():
        yaml_file.save()
    return sorted(set(files) | set(new_topics))


def _known_questions(root: Path) -> dict[str, str]:
    """question_key -> where it is, for every phrasing and out-of-scope question of a folder (no validation)."""
    import yaml

    known: dict[str, str] = {}
    for path in sorted((root / "topics").glob("*.yaml")):
        with contextlib.suppress(Exception):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for q in data.get("questions") or []:
                known[question_key(str(q))] = f"topic {path.stem}"
            for s in data.get("situations") or []:
                for q in s.get("questions") or []:
                    known[question_key(str(q))] = f"topic {path.stem} / {s.get('id')}"
    with contextlib.suppress(Exception):
        data = yaml.safe_load((root / "out_of_scope.yaml").read_text(encoding="utf-8")) or {}
        for q in data.get("questions") or []:
            known[question_key(str(q))] = "out of scope"
    return known


def diff(root: Path, candidate: Path, files: list[str]) -> list[tuple[str, list[str]]]:
    """(file, unified diff lines) of each changed file."""
    out = []
    for relative in files:
        old = (root / relative).read_text(encoding="utf-8").splitlines() if (root / relative).exists() else []
        new = (candidate / relative).read_text(encoding="utf-8").splitlines()
        lines = list(difflib.unified_diff(old, new, f"a/{relative}", f"b/{relative}", n=2, lineterm=""))
        out.append((relative, lines))
    return out


def validate(folder: Path) -> list[str]:
    """The problems `check` would report for a folder ([] when it is valid)."""
    try:
        load_knowledge(folder)
    except KnowledgeError as exc:
        return list(exc.problems)
    return []


DRAFT_TEMPLATE = """\
# A draft topic: never served until it is valid, has sources, and is published from /curate.
# Fields: knowledge/README.md ("A topic file, field by field"). Every fact needs a source
# (sources: seed, the document's file name; zh/en, the line users read).
id: {id}
theme: {theme}
title:
  zh: ""
  en: ""
summary:
  zh: ""
  en: ""
first:
  zh: ""
  en: ""
questions:
{questions}
keywords: []
answer:
  zh: |
    1.
  en: |
    1.
official_paths: []
sources: []
related: []
"""


def new_draft_topic(root: Path, topic_id: str, theme: str, questions: list[str]) -> Path:
    """knowledge/drafts/<id>.yaml from the template, with the group's questions as its first phrasings."""
    if not ID_PATTERN.match(topic_id) or len(topic_id) > MAX_ID_LEN:
        raise CurationError(f"{topic_id!r} is not a topic id (lower-case words joined by '-', at most {MAX_ID_LEN})")
    if (root / "topics" / f"{topic_id}.yaml").exists() or (root / DRAFTS / f"{topic_id}.yaml").exists():
        raise CurationError(f"a topic or draft {topic_id!r} exists already")
    path = root / DRAFTS / f"{topic_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    listed = "\n".join(f"  - {json.dumps(q, ensure_ascii=False)}" for q in questions) or "  []"
    path.write_text(DRAFT_TEMPLATE.format(id=topic_id, theme=theme, questions=listed), encoding="utf-8")
    return path


def draft_topic_problems(root: Path, topic_id: str, scratch: Path) -> list[str]:
    """What stops a draft topic from being published: validation as a topic, and sources."""
    candidate = scratch / "knowledge"
    try:
        apply_changes(root, [Change("topic", topic=topic_id)], candidate)
    except CurationError as exc:
        return [str(exc)]
    problems = validate(candidate)
    try:
        import yaml

        data = yaml.safe_load((candidate / "topics" / f"{topic_id}.yaml").read_text(encoding="utf-8")) or {}
        if not data.get("sources"):
            problems.append(f"topic {topic_id!r}: no sources: a topic is published only with the documents it is written from")
    except Exception:  # noqa: BLE001 - a YAML error is already among the problems
        pass
    return problems


def draft_topics(root: Path) -> list[str]:
    folder = root / DRAFTS
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


# -- evaluation -------------------------------------------------------------------------------


class Evaluator:
    """Evaluations of knowledge folders in a child process, one at a time, cached by content.

    A daemon thread runs the children; close() kills the one running, so that a
    server that stops does not wait minutes for a cross-validation.
    """

    def __init__(self, cache_dir: Path, folds: int = 5, sets: tuple[str, ...] = EVAL_SETS) -> None:
        self.cache_dir = cache_dir
        self.folds = folds
        self.sets = [str(ROOT / s) for s in sets if (ROOT / s).exists()]
        self._queue: "queue.Queue[tuple[str, Path, Path]]" = queue.Queue()
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None
        self._closed = False
        self._thread: threading.Thread | None = None

    def key(self, folder: Path) -> str:
        digest = hashlib.sha256(f"{content_version(folder)}|{self.folds}|{self.sets}".encode())
        return digest.hexdigest()[:16]

    def result(self, folder: Path) -> dict | None:
        """The figures of a folder if evaluated, else None (and its evaluation is queued, on a copy)."""
        key = self.key(folder)
        path = self.cache_dir / f"eval-{key}.json"
        with contextlib.suppress(OSError, ValueError):
            return json.loads(path.read_text(encoding="utf-8"))
        with self._lock:
            if key in self._queued or self._closed:
                return None
            copy = self.cache_dir / f"folder-{key}"
            if copy.exists():
                shutil.rmtree(copy)
            shutil.copytree(folder, copy, ignore=shutil.ignore_patterns(".*"))
            self._queued.add(key)
            self._queue.put((key, copy, path))
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="curate-eval", daemon=True)
                self._thread.start()
        return None

    def _work(self) -> None:
        while not self._closed:
            key, folder, out = self._queue.get()
            try:
                self._run(folder, out)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
                with self._lock:
                    self._queued.discard(key)

    def _run(self, folder: Path, out: Path) -> None:
        command = [sys.executable, "-m", "bot", "--kb", str(folder), "eval", *self.sets, "--json"]
        if self.folds >= 2:
            command += ["--folds", str(self.folds)]
        with self._lock:
            if self._closed:
                return
            self._child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           stdin=subprocess.DEVNULL, text=True)
            # Background work: the server's answers and a publish's reload come first (the children
            # that train its models for cross-validation inherit the priority).
            with contextlib.suppress(AttributeError, OSError):
                os.setpriority(os.PRIO_PROCESS, self._child.pid, min(19, os.getpriority(os.PRIO_PROCESS, 0) + EVAL_NICENESS))
        try:
            stdout, stderr = self._child.communicate(timeout=3600)
        except subprocess.TimeoutExpired:
            self._child.kill()
            stdout, stderr = self._child.communicate()
        code = self._child.returncode
        with self._lock:
            self._child = None
            if self._closed:
                return
        if code == 0:
            figures = json.loads(stdout.strip().splitlines()[-1])
            figures["files"] = {Path(k).relative_to(ROOT).as_posix(): v for k, v in figures["files"].items()}
        else:
            figures = {"error": (stderr.strip().splitlines() or ["evaluation failed"])[-1]}
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(figures), encoding="utf-8")
        os.replace(tmp, out)

    def close(self) -> None:
        """Stop: the running evaluation's child is killed, queued ones are dropped."""
        with self._lock:
            self._closed = True
            if self._child is not None and self._child.poll() is None:
                self._child.kill()


# -- publishing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    version_before: str
    version_after: str
    files: list[str]
    seconds: float
    changes: list[Change]


class Curation:
    """One knowledge folder's curation: the draft, its evaluation, publishing, and the record of it."""

    def __init__(self, live: LiveKnowledge, state_dir: Path, folds: int = 5) -> None:
        if live.root is None:
            raise ValueError("curation needs a knowledge folder")
        self.live = live
        self.root = live.root
        self.state = state_dir
        self.draft = Draft(state_dir / "draft.json")
        self.log_path = state_dir / "published.jsonl"
        self.evaluator = Evaluator(state_dir / "evaluations", folds)
        self._publishing = threading.Lock()
        self._training = threading.Lock()  # guards the flag below and the start of a trainer
        self._train_again = False
        self._trainer_idle = threading.Event()
        self._trainer_idle.set()
        self._trained: list[str] = []  # content versions of the last drafts whose models were trained

    def train_draft(self) -> None:
        """Train the draft's models in the background, so that publishing it reloads in a second or two.

        The models are cached by the content they are trained on, which is
        exactly what publishing writes: the reload then loads them instead of
        training. A draft changed meanwhile is trained once the running
        training ends (the latest draft only). Returns at once.
        """
        with self._training:
            if not self._trainer_idle.is_set():
                self._train_again = True
                return
            self._trainer_idle.clear()
        threading.Thread(target=self._train_drafts, name="curate-train", daemon=True).start()

    def wait_for_training(self, timeout: float | None = None) -> bool:
        """Whether the draft's training (if any) ended within `timeout` seconds."""
        return self._trainer_idle.wait(timeout)

    def _train_drafts(self) -> None:
        while True:
            try:
                self._train_draft_now()
            except Exception:  # noqa: BLE001 - publishing trains anyway; this only makes it faster
                log.exception("training the draft's models failed")
            with self._training:
                if not self._train_again:
                    self._trainer_idle.set()
                    return
                self._train_again = False

    def _train_draft_now(self) -> None:
        changes = self.draft.changes()
        if not changes:
            return
        folder = Path(tempfile.mkdtemp(prefix="train-", dir=self._scratch())) / "knowledge"
        try:
            apply_changes(self.root, changes, folder)
            version = content_version(folder)
            if version in self._trained:
                return
            # Built as a reload would build it from the serving bundle (its normaliser, its weights
            # as the solver's start); only the models it leaves in the cache are kept.
            start = time.perf_counter()
            build_knowledge(folder, previous=self.live.current, version=version)
            self._trained = (self._trained + [version])[-10:]
            log.info("draft %s: models ready in %.1f s", version, time.perf_counter() - start)
        except (CurationError, KnowledgeError):
            return  # the draft page says why; nothing to train
        finally:
            self.discard(folder)

    def candidate(self, changes: list[Change] | None = None) -> tuple[Path, list[str], list[str]]:
        """The draft applied to a copy of the folder: (folder, changed files, problems)."""
        changes = self.draft.changes() if changes is None else changes
        folder = Path(tempfile.mkdtemp(prefix="candidate-", dir=self._scratch()))
        try:
            files = apply_changes(self.root, changes, folder / "knowledge")
        except CurationError as exc:
            return folder / "knowledge", [], [str(exc)]
        if content_version(folder / "knowledge") in self._trained:
            return folder / "knowledge", files, []  # loaded and trained without a problem: valid
        return folder / "knowledge", files, validate(folder / "knowledge")

    def _scratch(self) -> Path:
        path = self.state / "scratch"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def discard(self, folder: Path) -> None:
        shutil.rmtree(folder.parent, ignore_errors=True)

    def publish_now(self, by: str) -> tuple[Published | None, list[str]]:
        """Write the draft into the knowledge folder and reload; (what was published, problems). Blocking."""
        # The draft's models, queued or being trained: the reload needs them, and once they are
        # trained the draft is known to be valid (it is not loaded once more to check it).
        self.wait_for_training(3600)
        with self._publishing:
            changes = self.draft.changes()
            if not changes:
                return None, ["nothing to publish"]
            folder, files, problems = self.candidate(changes)
            try:
                if problems:
                    return None, problems
                before = self.live.current.version
                old = {f: (self.root / f).read_bytes() if (self.root / f).exists() else None for f in files}
                new = {f: (folder / f).read_bytes() for f in files}
            finally:
                self.discard(folder)

            def write() -> None:
                for relative, data in new.items():
                    _write_atomically(self.root / relative, data)

            result = self.live.change_and_reload(write, f"publish by {by}")
            if not result.ok:
                # Put the files back: what is on disk is again what is serving.
                for relative, data in old.items():
                    if data is None:
                        with contextlib.suppress(OSError):
                            (self.root / relative).unlink()
                    else:
                        _write_atomically(self.root / relative, data)
                return None, list(result.problems)
            for change in changes:
                if change.kind == "topic":
                    with contextlib.suppress(OSError):
                        (self.root / DRAFTS / f"{change.topic}.yaml").unlink()
            published = Published(before, self.live.current.version, files, result.seconds, changes)
            self._record(by, changes, published)
            self.draft.clear(changes)
            return published, []

    def _record(self, by: str, changes: list[Change], published: Published) -> None:
        entry = {"at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "by": by,
                 "version_before": published.version_before, "version_after": published.version_after,
                 "files": published.files, "changes": [c.describe() for c in changes],
                 "reload_seconds": round(published.seconds, 2)}
        self.state.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def history(self, limit: int = 20) -> list[dict]:
        try:
            lines = self.log_path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        out = []
        for line in reversed(lines[-limit:]):
            with contextlib.suppress(ValueError):
                out.append(json.loads(line))
        return out


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.curate.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def theme_ids(root: Path) -> list[str]:
    import yaml

    with contextlib.suppress(Exception):
        data = yaml.safe_load((root / "themes.yaml").read_text(encoding="utf-8")) or {}
        return [str(t["id"]) for t in data.get("themes") or []]
    return []


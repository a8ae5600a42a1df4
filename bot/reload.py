"""Live knowledge: the knowledge base, its matcher and its checker as one immutable bundle, swapped whole.

A running process (`web`, `run`) reloads on SIGHUP, when the knowledge folder's
content changes, and on a curator's publish. Loading and validating run in a
worker thread and training in a child process (bot/classifier.py), never on the
event loop; a knowledge base that fails to load never replaces the one serving.
A request pins the bundle it started with, so it finishes on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import gc
import hashlib
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal

from .checker import MessageChecker
from .knowledge import KnowledgeBase, KnowledgeError, default_kb_dir, load_knowledge
from .matcher import Matcher, MatchSettings
from .text import TextNormaliser

log = logging.getLogger(__name__)

# Files of the knowledge folder that are not knowledge: editor backups and swap files,
# half-written temporary files, and the curator's drafts (never served until published).
_IGNORED_SUFFIXES = (".swp", ".swx", ".tmp", "~")
DRAFTS = "drafts"
DEFAULT_WATCH_SECONDS = 2.0


def content_version(root: Path) -> str:
    """A digest of every knowledge file's path and bytes: equal digests, equal knowledge bases.

    Reading some 30 files (under a megabyte) takes a few milliseconds, cheap
    enough to poll every couple of seconds, and unlike modification times it
    does not fire on a `touch` or a checkout that changes nothing.
    """
    digest = hashlib.sha256()
    for path in sorted(_knowledge_files(root)):
        try:
            data = path.read_bytes()
        except OSError:
            continue  # removed between the listing and the read: the next poll sees the new state
        digest.update(str(path.relative_to(root)).encode("utf-8", "surrogateescape") + b"\x00")
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()[:16]


def _knowledge_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for path in root.rglob("*"):
        parts = path.relative_to(root).parts
        if (path.is_file() and parts[0] != DRAFTS and not any(p.startswith(".") for p in parts)
                and not path.name.endswith(_IGNORED_SUFFIXES)):
            yield path


@dataclass(frozen=True)
class Knowledge:
    """One loaded knowledge base and everything trained from it; never changed once built."""

    kb: KnowledgeBase
    matcher: Matcher
    checker: MessageChecker
    version: str  # content_version() of the folder it was loaded from ("" when not from a folder)
    loaded_at: float = field(default_factory=time.time)

    @property
    def normaliser(self) -> TextNormaliser:
        return self.matcher.normaliser


def build_knowledge(root: Path | None = None, previous: Knowledge | None = None,
                    settings: MatchSettings | None = None, version: str | None = None) -> Knowledge:
    """Load, validate and train a knowledge base (raises KnowledgeError).

    The previous bundle's normaliser (jieba's 70 MB dictionary) is reused when
    the synonyms and the user dictionary are unchanged, as after most edits.
    Models come from the content-keyed cache, so processes sharing a knowledge
    base train each version once; one that is not there is trained starting
    from the previous bundle's weights.
    """
    root = Path(root) if root is not None else default_kb_dir()
    version = version if version is not None else content_version(root)
    kb = load_knowledge(root)
    normaliser = None
    if previous is not None and _same_text_data(previous.kb, kb):
        normaliser = previous.normaliser
    normaliser = normaliser or TextNormaliser(kb.synonyms, kb.userdict)
    matcher = Matcher(kb, normaliser, settings or (previous.matcher.settings if previous else None),
                      model_cache=normaliser.cache_dir, previous=previous.matcher if previous else None)
    checker = MessageChecker(kb, normaliser)
    return Knowledge(kb, matcher, checker, version)


def _same_text_data(old: KnowledgeBase, new: KnowledgeBase) -> bool:
    def userdict(kb: KnowledgeBase) -> bytes:
        try:
            return kb.userdict.read_bytes()
        except OSError:
            return b""

    return old.synonyms == new.synonyms and userdict(old) == userdict(new)


@dataclass(frozen=True)
class ReloadResult:
    """What one reload did: `reloaded`, `unchanged` (same content), or `failed` (the old one keeps serving)."""

    outcome: Literal["reloaded", "unchanged", "failed"]
    reason: str
    version: str
    seconds: float
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


class LiveKnowledge:
    """The knowledge bundle a process serves, and how it is replaced.

    `current` is a plain attribute: replacing it is atomic, and a reader gets
    either the old bundle or the new one, never a mix. A request calls
    `pinned()` (or `pin()`) first and reads `get()` after, so every step of its
    answer comes from the same bundle even if a reload lands meanwhile.
    """

    def __init__(self, knowledge: Knowledge, root: Path | None = None) -> None:
        self.current = knowledge
        self.root = Path(root) if root is not None else None
        self._pin: contextvars.ContextVar[Knowledge | None] = contextvars.ContextVar(
            f"knowledge-{id(self)}", default=None)
        self._lock = threading.Lock()  # one reload at a time, whoever asks (signal, watcher, curator)
        self.reloads = 0
        self.failures = 0
        self.last_result: ReloadResult | None = None
        self.last_error: tuple[str, ...] = ()  # the problems of the last failed reload, until one succeeds
        self.last_error_at: float | None = None
        self._failed_version: str | None = None  # not retried by the watcher until the content changes again

    @classmethod
    def load(cls, root: Path | str | None = None, settings: MatchSettings | None = None) -> "LiveKnowledge":
        """The first load, in the caller's thread (raises KnowledgeError: a process does not start on a broken one)."""
        root = Path(root) if root else default_kb_dir()
        knowledge = build_knowledge(root, settings=settings)
        # jieba's dictionary is half a million objects that never die; left in the
        # collector's generations, every full collection walks them and stalls a
        # question for milliseconds. Freezing moves them out of its reach.
        gc.freeze()
        return cls(knowledge, root)

    @classmethod
    def fixed(cls, matcher: Matcher, checker: MessageChecker | None = None) -> "LiveKnowledge":
        """A bundle that is never reloaded (tests, one-shot commands)."""
        checker = checker or MessageChecker(matcher.kb, matcher.normaliser)
        return cls(Knowledge(matcher.kb, matcher, checker, content_version(matcher.kb.root)), None)

    # -- reading -------------------------------------------------------------------------

    def get(self) -> Knowledge:
        """The bundle this request pinned, else the current one."""
        pinned = self._pin.get()
        return pinned if pinned is not None else self.current

    @contextlib.contextmanager
    def pinned(self) -> Iterator[Knowledge]:
        """For the duration of the block, get() returns the bundle current at its start (also in worker threads)."""
        token = self._pin.set(self.current)
        try:
            yield self._pin.get()  # type: ignore[misc]
        finally:
            self._pin.reset(token)

    def pin(self) -> Knowledge:
        """Pin the current bundle for the rest of this task (a Telegram update's handlers run in one task)."""
        knowledge = self.current
        self._pin.set(knowledge)
        return knowledge

    # -- reloading -----------------------------------------------------------------------

    def reload_now(self, reason: str, force: bool = False) -> ReloadResult:
        """Load the folder again and swap it in if it is valid; blocking (call it off the event loop).

        Without `force`, a folder whose content is unchanged is not loaded again.
        """
        return self.change_and_reload(None, reason, force)

    def change_and_reload(self, change: Callable[[], None] | None, reason: str, force: bool = False) -> ReloadResult:
        """Run `change` (writing files into the folder), then reload, with no other reload in between.

        A curator's publish writes several files: the watcher must not load the
        folder half-written. Blocking (call it off the event loop).
        """
        if self.root is None:
            return ReloadResult("unchanged", reason, self.current.version, 0.0)
        with self._lock:
            start = time.perf_counter()
            if change is not None:
                change()
            version = content_version(self.root)
            if version == self.current.version and not force:
                return ReloadResult("unchanged", reason, version, time.perf_counter() - start)
            try:
                knowledge = build_knowledge(self.root, previous=self.current, version=version)
            except KnowledgeError as exc:
                return self._failed(reason, version, tuple(exc.problems), start)
            except Exception as exc:  # noqa: BLE001 - a bug in loading must not take the process down
                log.exception("knowledge base reload (%s) raised", reason)
                return self._failed(reason, version, (f"{type(exc).__name__}: {exc}",), start)
            previous, self.current = self.current, knowledge
            self.reloads += 1
            self.last_error, self.last_error_at, self._failed_version = (), None, None
            result = ReloadResult("reloaded", reason, version, time.perf_counter() - start)
            self.last_result = result
        del previous
        # The old bundle is garbage now (or once the requests in flight end). Thawed and
        # collected once, so that nothing of it stays frozen; then the new one's
        # long-lived objects are frozen like the first's.
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        log.info("knowledge base reloaded (%s): version %s, %d topics, in %.1f s", reason, version,
                 len(knowledge.kb.topics), result.seconds)
        return result

    def _failed(self, reason: str, version: str, problems: tuple[str, ...], start: float) -> ReloadResult:
        self.failures += 1
        self.last_error, self.last_error_at, self._failed_version = problems, time.time(), version
        result = ReloadResult("failed", reason, version, time.perf_counter() - start, problems)
        self.last_result = result
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        log.error("knowledge base NOT reloaded (%s), version %s still serving: %s%s", reason,
                  self.current.version, problems[0] if problems else "unknown error", more)
        return result

    async def reload(self, reason: str, force: bool = False) -> ReloadResult:
        """reload_now() in a worker thread: the event loop keeps answering meanwhile."""
        return await asyncio.to_thread(self.reload_now, reason, force)

    def changed_on_disk(self) -> bool:
        """Whether the folder's content differs from what is serving and from the last version that failed."""
        if self.root is None:
            return False
        version = content_version(self.root)
        return version not in (self.current.version, self._failed_version)

    async def watch(self, interval: float = DEFAULT_WATCH_SECONDS) -> None:
        """Poll the folder every `interval` seconds and reload when its content changed; runs until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                if await asyncio.to_thread(self.changed_on_disk):
                    await self.reload("file change")
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the watcher must outlive any one failure
                log.exception("watching the knowledge folder failed; trying again")

    @contextlib.asynccontextmanager
    async def running(self, watch_seconds: float = DEFAULT_WATCH_SECONDS):
        """Inside a process's event loop: reload on SIGHUP, and on file changes when `watch_seconds` > 0."""
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task] = set()

        def on_sighup() -> None:
            task = loop.create_task(self.reload("SIGHUP", force=True))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        installed = False
        if self.root is not None:
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
                loop.add_signal_handler(signal.SIGHUP, on_sighup)  # not on Windows, nor outside the main thread
                installed = True
        watcher = loop.create_task(self.watch(watch_seconds)) if self.root is not None and watch_seconds > 0 else None
        try:
            yield self
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGHUP)
            for task in ([watcher] if watcher else []) + list(tasks):
                task.cancel()
            for task in ([watcher] if watcher else []) + list(tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def status(self) -> dict:
        """What is serving and how the last reload went (for /curate and /api/kb)."""
        current = self.current
        last = self.last_result
        return {
            "version": current.version,
            "loaded_at": current.loaded_at,
            "topics": len(current.kb.topics),
            "reloads": self.reloads,
            "failures": self.failures,
            "last_reload": None if last is None else {
                "outcome": last.outcome, "reason": last.reason, "version": last.version,
                "seconds": round(last.seconds, 2)},
            "error": list(self.last_error),
            "error_at": self.last_error_at,
        }


def pin_knowledge(app, live: LiveKnowledge):
    """ASGI middleware: each HTTP request pins the knowledge bundle current when it arrived."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        with live.pinned():
            await app(scope, receive, send)

    return wrapped

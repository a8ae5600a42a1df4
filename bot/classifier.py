"""Linear text classifiers trained from curated data: class probabilities for a text.

A model is derived data, like the jieba cache: trained with scikit-learn only
when its training data change, exported as plain arrays (vocabulary, IDF,
weights) in a .npz file keyed by the data's content, and scored on the
answering path with numpy alone (a sparse dot product and a softmax).
Features are TF-IDF character 1-3-grams of the normalised text, its jieba
words, and 1-2-grams of its toneless pinyin syllables (bot/pinyin.py: a
homophone such as 解风 shares them with 解封, and so does "jiefeng"), each
block L2-normalised on its own. A sample is (normalised text, tokens,
syllables); a sample of two leaves the pinyin block empty.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

# Bump when features() changes: every cached model is then retrained.
FEATURE_VERSION = 3
BLOCKS = ("c", "w", "p")  # character n-grams, words, pinyin syllable n-grams
# (normalised text, tokens) or (normalised text, tokens, syllables)
Sample = tuple[str, Sequence[str]] | tuple[str, Sequence[str], Sequence[str]]


def syllable_grams(syllables: Sequence[str]) -> list[str]:
    """Syllables and syllable pairs ("jie", "jie feng"); "" breaks a run, and no pair spans it.

    Pairs, not triples: 5-fold cross-validation favoured 1-2-grams over 1-3,
    2-3 and no pinyin block at all (README, Quality).
    """
    grams = [s for s in syllables if s]
    grams += [f"{a} {b}" for a, b in zip(syllables, syllables[1:]) if a and b]
    return grams


def features(norm: str, tokens: Sequence[str], syllables: Sequence[str] = ()) -> list[Counter]:
    """Raw counts of each feature block for a normalised text, its tokens and its syllables."""
    text = norm.strip()
    grams = [*text, *(text[i: i + 2] for i in range(len(text) - 1)), *(text[i: i + 3] for i in range(len(text) - 2))]
    chars = Counter(g for g in grams if g[0] != " " and g[-1] != " ")
    return [chars, Counter(tokens), Counter(syllable_grams(syllables))]


class LinearModel:
    """Exported multinomial logistic regression over features(); no scikit-learn needed."""

    def __init__(self, classes: tuple[str, ...], index: dict[str, int], block_of: np.ndarray, idf: np.ndarray,
                 coef: np.ndarray, intercept: np.ndarray) -> None:
        self.classes = classes
        self.index = index  # "<block>:<feature>" -> row of coef
        self.block_of = block_of  # block number of each row
        self.idf = idf
        # One lookup table per block, keyed by the bare feature: no key strings built per question.
        by_block: dict[str, dict[str, int]] = {block: {} for block in BLOCKS}
        for key, row in index.items():
            by_block[key[0]][key[2:]] = row  # "<one-letter block>:<feature>"
        self.block_index: list[dict[str, int]] = [by_block[block] for block in BLOCKS]
        self.coef = coef  # (features, classes)
        self.intercept = intercept  # (classes,)
        self._scorer: JointScorer | None = None  # built at the first scores()

    def scores(self, norm: str, tokens: Sequence[str], syllables: Sequence[str] = ()) -> np.ndarray:
        """Class probabilities (softmax), aligned with `classes`: the same features as features()."""
        scorer = self._scorer
        if scorer is None:
            scorer = self._scorer = JointScorer((self,))
        return scorer.scores(0, scorer.read(norm, tokens, syllables))

    def save(self, path: Path) -> None:
        keys = sorted(self.index, key=self.index.__getitem__)
        tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
        np.savez(tmp, classes=np.array(self.classes), features=np.array(keys), idf=self.idf,
                 coef=self.coef, intercept=self.intercept, block_of=self.block_of)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> "LinearModel":
        # allow_pickle=False: the file holds arrays only, so a planted file cannot run code.
        with np.load(path, allow_pickle=False) as data:
            keys = data["features"].tolist()
            coef = np.ascontiguousarray(data["coef"], dtype=np.float64)
            model = cls(tuple(data["classes"].tolist()), {k: i for i, k in enumerate(keys)},
                        data["block_of"], data["idf"].astype(np.float64), coef,
                        data["intercept"].astype(np.float64))
        if model.coef.shape != (len(keys), len(model.classes)) or model.idf.shape != (len(keys),):
            raise ValueError("inconsistent model file")
        return model


class JointScorer:
    """Models that read the same text (the matcher's topic and situation models), each feature looked up once.

    Every feature of any of the models gets one id: the first model's rows,
    then the features only the others know. A text is read into ids and counts
    once (its character and syllable n-grams are remembered for the next model,
    which reads the same question with other words); each model then scores it
    with a few array operations: TF-IDF weights (1 + log count) * idf, each block
    L2-normalised on its own, a dot product with the weights and a softmax. A
    feature a model lacks has idf 0 there, so it adds nothing to that model.
    Scores equal LinearModel's training-time features to rounding (tests).
    """

    def __init__(self, models: Sequence[LinearModel]) -> None:
        first = models[0]
        # Copies where others' features join: the first model's own tables stay as they are.
        self.tables: list[dict[str, int]] = [dict(table) if len(models) > 1 else table for table in first.block_index]
        blocks = [first.block_of.astype(np.intp)]
        placed: list[tuple[np.ndarray, np.ndarray]] = []  # each later model's (ids, rows)
        size = len(first.idf)
        for model in models[1:]:
            ids, rows, extra = [], [], []
            for number, (table, own) in enumerate(zip(self.tables, model.block_index)):
                for feature, row in own.items():
                    found = table.get(feature)
                    if found is None:
                        found = table[feature] = size + len(extra)
                        extra.append(number)
                    ids.append(found)
                    rows.append(row)
            size += len(extra)
            blocks.append(np.array(extra, dtype=np.intp))
            placed.append((np.array(ids, dtype=np.intp), np.array(rows, dtype=np.intp)))
        self.block = np.concatenate(blocks)
        # The first model: its idf padded with zeros for the others' features; its weights are read with
        # mode="clip" (any row serves a feature whose weight in the text is 0), so they are not copied.
        self.idf = [np.concatenate([first.idf, np.zeros(size - len(first.idf))])]
        self.coef = [first.coef]
        self.intercept = [first.intercept]
        for model, (ids, rows) in zip(models[1:], placed):
            idf = np.zeros(size)
            idf[ids] = model.idf[rows]
            coef = np.zeros((size, model.coef.shape[1]))
            coef[ids] = model.coef[rows]
            self.idf.append(idf)
            self.coef.append(coef)
            self.intercept.append(model.intercept)
        self._last: tuple[str, tuple[str, ...], list[int], list[int]] | None = None

    def read(self, norm: str, tokens: Sequence[str], syllables: Sequence[str] = ()) -> tuple[np.ndarray, np.ndarray]:
        """The ids of the text's known features and how often each occurs (ids, counts)."""
        chars, words, sounds = self.tables
        last = self._last  # one tuple, replaced whole: safe to read from another thread
        if last is not None and last[0] == norm and last[1] == tuple(syllables):
            ids, counts = last[2], last[3]
        else:
            text = norm.strip()
            n = len(text)
            grams = [*text, *[text[i: i + 2] for i in range(n - 1)], *[text[i: i + 3] for i in range(n - 2)]]
            # Syllables and pairs unfiltered, joined in C: one with a break ("", "jie ") is in no model.
            sound_grams = [*syllables, *map(" ".join, zip(syllables, syllables[1:]))]
            # map() and Counter run the lookups and the counting in C; n-grams no model saw count as None.
            found = Counter(map(chars.get, grams))
            found.update(map(sounds.get, sound_grams))
            found.pop(None, None)  # type: ignore[call-overload]
            ids, counts = list(found), list(found.values())
            self._last = (norm, tuple(syllables), ids, counts)
        found = Counter(map(words.get, tokens))
        found.pop(None, None)  # type: ignore[call-overload]
        return (np.array([*ids, *found], dtype=np.intp),
                np.array([*counts, *found.values()], dtype=np.float64))

    def scores(self, which: int, reading: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Class probabilities of model number `which` for a text read by read()."""
        ids, counts = reading
        if not len(ids):
            logits = self.intercept[which].copy()
        else:
            values = self.idf[which][ids] * (1.0 + np.log(counts))  # a count of 1 weighs exactly the idf
            block = self.block[ids]
            norms = np.sqrt(np.bincount(block, weights=values * values, minlength=len(BLOCKS)))
            norms[norms == 0.0] = 1.0  # a block none of whose features this model knows: all its values are 0
            values /= norms[block]
            logits = values @ self.coef[which].take(ids, axis=0, mode="clip") + self.intercept[which]
        exp = np.exp(logits - logits.max())
        return exp / exp.sum()


def train(samples: Sequence[Sample], labels: Sequence[str], c: float = 10.0,
          class_weight: dict[str, float] | None = None, min_df: int = 1,
          start: LinearModel | None = None) -> LinearModel:
    """Fit a multinomial logistic regression; imports scikit-learn (about a second).

    `min_df` above 1 marks a large knowledge base: features seen in fewer
    samples are left out, and a solver that scales to many classes is used.
    `start`: a model of nearly the same data (the one serving before an edit)
    whose weights the solver starts from instead of zeros. The problem is
    convex, so it reaches the same optimum, to within the solver's tolerance,
    in a fraction of the iterations (README, "Keeping the knowledge up to date").
    """
    import warnings

    from scipy.sparse import csr_matrix
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    # Every (sample, feature, count) once, features numbered as first seen; the rest is array
    # arithmetic (a few times faster than a dictionary per sample, for the same matrix).
    seen: dict[str, int] = {}
    rows: list[int] = []
    columns: list[int] = []
    counts: list[int] = []
    for i, sample in enumerate(samples):
        for block, found in zip(BLOCKS, features(*sample)):
            prefix = block + ":"
            for feature, count in found.items():
                columns.append(seen.setdefault(prefix + feature, len(seen)))
                counts.append(count)
            rows += [i] * len(found)
    n = len(samples)
    row, col = np.array(rows, dtype=np.int64), np.array(columns, dtype=np.int64)
    df = np.bincount(col, minlength=len(seen))
    kept = np.flatnonzero(df >= min_df)  # still in first-seen order
    number = np.full(len(seen), -1, dtype=np.int64)
    number[kept] = np.arange(len(kept))
    keys = [key for key, j in seen.items() if number[j] >= 0]
    vocab = {key: j for j, key in enumerate(keys)}
    blocks = np.array([BLOCKS.index(key[0]) for key in keys], dtype=np.int64)
    # scikit-learn's smooth IDF.
    idf = np.log((1 + n) / (1 + df[kept])) + 1.0
    inside = number[col] >= 0
    row, col = row[inside], number[col[inside]]
    values = (1.0 + np.log(np.array(counts, dtype=np.float64)[inside])) * idf[col]
    # Each block of each sample L2-normalised on its own.
    cell = row * len(BLOCKS) + blocks[col]
    values /= np.sqrt(np.bincount(cell, weights=values * values, minlength=n * len(BLOCKS)))[cell]
    matrix = csr_matrix((values, (row, col)), shape=(n, len(keys)))
    matrix.sort_indices()
    if min_df == 1:
        # newton-cg: deterministic, and several times faster here than lbfgs on a few hundred thousand weights.
        model = LogisticRegression(C=c, solver="newton-cg", max_iter=300, class_weight=class_weight)
    else:
        # A large, pruned problem (hundreds of classes): newton-cg's cost grows with the square of
        # the weights; saga's with the data. A fixed seed keeps it deterministic.
        model = LogisticRegression(C=c, solver="saga", max_iter=30, tol=1e-3, random_state=0,
                                   class_weight=class_weight)
    if start is not None:
        model.warm_start = True
        model.coef_, model.intercept_ = _starting_weights(start, keys, sorted(set(map(str, labels))))
    with warnings.catch_warnings():
        # saga's epoch cap is deliberate: it bounds training time on very large knowledge bases.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(matrix, list(labels))
    classes = tuple(str(x) for x in model.classes_)
    coef = model.coef_.T
    intercept = model.intercept_
    if len(classes) == 2:  # binary: scikit-learn keeps one row; softmax over (-z/2, z/2) equals the sigmoid
        coef = np.hstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return LinearModel(classes, vocab, blocks, idf, np.ascontiguousarray(coef, dtype=np.float64),
                       np.asarray(intercept, dtype=np.float64))


def _starting_weights(start: LinearModel, keys: list[str], classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """`start`'s weights laid out as scikit-learn's coef_ and intercept_ for these features and classes.

    A feature or a class `start` never saw starts at zero. Two classes are one
    logit in scikit-learn: the difference of the two columns.
    """
    rows = np.array([start.index.get(key, -1) for key in keys], dtype=np.int64)
    seen = rows >= 0
    coef = np.zeros((len(classes), len(keys)))
    intercept = np.zeros(len(classes))
    for i, label in enumerate(classes):
        if label in start.classes:
            column = start.classes.index(label)
            coef[i, seen] = start.coef[rows[seen], column]
            intercept[i] = start.intercept[column]
    if len(classes) == 2:
        return coef[1:] - coef[:1], intercept[1:] - intercept[:1]
    return coef, intercept


def model_key(samples: Sequence[Sample], labels: Sequence[str], c: float,
              class_weight: dict[str, float] | None = None, min_df: int = 1) -> str:
    """What a cached model was trained from: the data, the settings and the feature code."""
    digest = hashlib.sha256()
    digest.update(f"{FEATURE_VERSION}|{c}|{sorted((class_weight or {}).items())}|{min_df}".encode())
    for (norm, tokens, *syllables), label in zip(samples, labels):
        sounds = " ".join(syllables[0]) if syllables else ""
        digest.update(f"{label}\x01{norm}\x01{' '.join(tokens)}\x01{sounds}\x00".encode())
    return digest.hexdigest()[:20]


# Models of one kind kept in the cache: the serving knowledge base's, a curator's draft's
# and those of a few other checkouts or test folders sharing the cache, without retraining
# each time one of them is loaded again.
KEEP_MODELS = 6


@dataclass(frozen=True)
class TrainingJob:
    """One model to have: its name in the cache and what it is trained from."""

    name: str
    samples: Sequence[Sample]
    labels: Sequence[str]
    c: float = 10.0
    class_weight: dict[str, float] | None = None
    min_df: int = 1
    # Where the solver starts (train()); not part of the model's key: any start reaches the same optimum.
    start: LinearModel | None = field(default=None, compare=False, repr=False)

    def path(self, cache_dir: Path) -> Path:
        return cache_dir / f"{self.name}-{model_key(self.samples, self.labels, self.c, self.class_weight, self.min_df)}.npz"

    def train(self) -> LinearModel:
        return train(self.samples, self.labels, self.c, self.class_weight, self.min_df, self.start)


def cached_model(cache_dir: Path, name: str, samples: Sequence[Sample], labels: Sequence[str],
                 c: float = 10.0, class_weight: dict[str, float] | None = None, min_df: int = 1) -> LinearModel:
    """The model for these samples: from the cache when it was trained on exactly them, else trained now."""
    return cached_models(cache_dir, [TrainingJob(name, samples, labels, c, class_weight, min_df)])[0]


def cached_models(cache_dir: Path, jobs: Sequence[TrainingJob]) -> list[LinearModel]:
    """Each job's model: from the cache when trained on exactly its data, else trained now, all at once.

    Training runs in child processes, one per model and side by side, so that
    scikit-learn and SciPy (some 150 MB) never stay in a long-running bot's
    memory; they are forked from a fork server that has them loaded
    (start_trainer()). A lock file per model makes processes that want the same model
    (web and run reloading the same knowledge base) train it once: the second
    waits, then loads what the first saved. If a child cannot run or the cache
    cannot be written, training happens here.
    """
    paths = [job.path(cache_dir) for job in jobs]
    models: list[LinearModel | None] = [_load_cached(path) for path in paths]
    missing = [i for i, model in enumerate(models) if model is None]
    if not missing:
        return models  # type: ignore[return-value]
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.ExitStack() as locks:
            for i in sorted(missing, key=lambda i: paths[i]):  # one order for everyone: no deadlock
                locks.enter_context(_file_lock(paths[i].with_suffix(".lock")))
            children = {}
            for i in missing:
                models[i] = _load_cached(paths[i])  # trained by another process while this one waited
                if models[i] is None:
                    children[i] = _start_child(paths[i], jobs[i])
            for i, child in children.items():
                models[i] = _load_cached(paths[i]) if _child_succeeded(child) else None
                if models[i] is None:
                    models[i] = jobs[i].train()
                    models[i].save(paths[i])
        for name in {jobs[i].name for i in missing}:
            _prune(cache_dir, name)
    except (OSError, ValueError, KeyError):
        # A read-only cache still answers, only without the fast start.
        for i in missing:
            if models[i] is None:
                models[i] = jobs[i].train()
    return models  # type: ignore[return-value]


def _load_cached(path: Path) -> LinearModel | None:
    try:
        model = LinearModel.load(path)
    except (OSError, ValueError, KeyError):
        return None
    with contextlib.suppress(OSError):
        os.utime(path)  # recently used: kept by _prune
    return model


@contextlib.contextmanager
def _file_lock(path: Path):
    """An exclusive lock between processes (and threads) on a lock file; none where flock is missing."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Windows
        yield
        return
    with open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _prune(cache_dir: Path, name: str) -> None:
    """Keep the KEEP_MODELS most recently used models of a kind (a few MB each), and their lock files."""
    found = []
    for path in cache_dir.glob(f"{name}-*.npz"):
        with contextlib.suppress(OSError):
            found.append((path.stat().st_mtime, path))
    found.sort(reverse=True)
    for _, old in found[KEEP_MODELS:]:
        for stale in (old, old.with_suffix(".lock")):
            with contextlib.suppress(OSError):
                stale.unlink()


def start_trainer() -> None:
    """Start the fork server that training children come from now, so that the first training is as fast as the rest.

    It imports scikit-learn and SciPy once (about a second of processor time
    and some 120 MB, in that helper process, never in the bot's) and forks a
    child per model: a child is ready in milliseconds instead of importing them
    again. It lives as long as the process that started it. Where there is no
    fork server (Windows), children are fresh interpreters.
    """
    _children()
    with contextlib.suppress(Exception):
        from multiprocessing import forkserver

        if _children().get_start_method() == "forkserver":
            forkserver.ensure_running()


_CONTEXT = None


def _children():
    global _CONTEXT
    if _CONTEXT is None:
        import multiprocessing

        try:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["bot.classifier", "scipy.sparse", "sklearn.linear_model"])
        except ValueError:  # pragma: no cover - no fork server on this platform
            context = multiprocessing.get_context("spawn")
        _CONTEXT = context
    return _CONTEXT


def _start_child(path: Path, job: TrainingJob):
    """A child process training `job` and saving it to `path`; None if it cannot start."""
    try:
        process = _children().Process(target=_train_and_save, args=(job, str(path)), name=f"train-{job.name}",
                                      daemon=True)
        process.start()
    except Exception:  # noqa: BLE001 - whatever stops a child from starting, the model is trained here instead
        return None
    return process


def _train_and_save(job: TrainingJob, path: str) -> None:
    """In the child: the model trained and saved where the parent will load it."""
    job.train().save(Path(path))


def _child_succeeded(process) -> bool:
    if process is None:
        return False
    process.join(3600)
    if process.is_alive():
        process.kill()
        process.join()
        return False
    return process.exitcode == 0

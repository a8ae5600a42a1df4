"""Two simple baselines on the same knowledge base, for comparison with the matcher.

- BM25: each topic one document (its phrasings and keywords), jieba tokens
  after the same normalisation; the best topic is answered if its score
  clears a threshold, else none.
- rapidfuzz: the nearest phrasing by fuzz.WRatio on the normalised text
  (out-of-scope phrasings included as a reject class), with a threshold.
- logistic regression: the textbook classifier on the same knowledge base
  (TF-IDF of character 1-3-grams and jieba words of the normalised text;
  out-of-scope phrasings as a reject class); argmax, no threshold.
Each threshold is the one that maximises min(top-1, rejection) on the file
itself, which flatters the baselines. Prints figures; asserts nothing.
Files: the sets named on the command line, else every labelled set.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rapidfuzz import fuzz, process  # noqa: E402

from bot.evaluate import evaluate, load_cases  # noqa: E402
from bot.matcher import load_matcher  # noqa: E402


class BM25:
    def __init__(self, kb, normaliser, k1=1.5, b=0.75):
        self.normaliser = normaliser
        self.ids, docs = [], []
        for topic in kb.topics.values():
            toks = [t for q in (*topic.questions, *topic.keywords) for t in normaliser.tokens(q)]
            self.ids.append(topic.id)
            docs.append(Counter(toks))
        self.docs, self.k1, self.b = docs, k1, b
        self.avg = sum(sum(d.values()) for d in docs) / len(docs)
        df = Counter(t for d in docs for t in d)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}

    def rank(self, question):
        toks = set(self.normaliser.tokens(question))
        scores = []
        for tid, doc in zip(self.ids, self.docs):
            length = sum(doc.values())
            s = sum(self.idf[t] * doc[t] * (self.k1 + 1) / (doc[t] + self.k1 * (1 - self.b + self.b * length / self.avg))
                    for t in toks if t in doc)
            scores.append((s, tid))
        return sorted(scores, reverse=True)


class Fuzzy:
    def __init__(self, kb, normaliser):
        self.normaliser = normaliser
        self.texts, self.owners = [], []
        for topic in kb.topics.values():
            for q in topic.questions:
                self.texts.append(normaliser.normalise(q))
                self.owners.append(topic.id)
        for q in kb.out_of_scope:
            self.texts.append(normaliser.normalise(q))
            self.owners.append(None)

    def rank(self, question):
        hits = process.extract(self.normaliser.normalise(question), self.texts, scorer=fuzz.WRatio, limit=20)
        seen, out = set(), []
        for _, score, i in hits:
            owner = self.owners[i]
            if owner not in seen:
                seen.add(owner)
                out.append((score, owner))
        return out


class LogisticBaseline:
    def __init__(self, kb, normaliser):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        self.normaliser = normaliser
        texts, labels = [], []
        for topic in kb.topics.values():
            for q in (*topic.questions, *topic.keywords):
                texts.append(q)
                labels.append(topic.id)
        texts += list(kb.out_of_scope)
        labels += ["-"] * len(kb.out_of_scope)
        features = make_union(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, preprocessor=normaliser.normalise),
            TfidfVectorizer(analyzer=normaliser.tokens, sublinear_tf=True),
        )
        self.model = make_pipeline(features, LogisticRegression(C=10, max_iter=2000))
        self.model.fit(texts, labels)

    def rank(self, question):
        probs = self.model.predict_proba([question])[0]
        return sorted(((p, None if c == "-" else c) for p, c in zip(probs, self.model.classes_)),
                      key=lambda x: -x[0])


def figures(rank, cases, threshold):
    ins = [c for c in cases if c.expected]
    oos = [c for c in cases if not c.expected]
    def top(c):
        ranked = rank(c.question)
        if not ranked or ranked[0][0] < threshold or ranked[0][1] is None:
            return None
        return ranked[0][1]
    t1 = sum(top(c) in c.expected for c in ins) / len(ins)
    rj = sum(top(c) is None for c in oos) / len(oos)
    return t1, rj


def best(rank, cases, thresholds):
    cache = {c.question: rank(c.question) for c in cases}
    return max(((figures(lambda q: cache[q], cases, t), t) for t in thresholds), key=lambda x: min(x[0]))


def main() -> None:
    matcher = load_matcher()
    kb, norm = matcher.kb, matcher.normaliser
    bm25, fuzzy, logistic = BM25(kb, norm), Fuzzy(kb, norm), LogisticBaseline(kb, norm)
    paths = [Path(p) for p in sys.argv[1:]] or [
        ROOT / "tests" / "data" / "dev.yaml", ROOT / "tests" / "data" / "validation.yaml",
        ROOT / "bench" / "data" / "holdout-questions.yaml", *sorted((ROOT / "bench" / "data" / "blind").glob("questions-*.yaml"))]
    for path in paths:
        name = path.name
        if not path.exists():
            continue
        cases = load_cases(path)
        ours = evaluate(matcher, cases)
        (b1, br), bt = best(bm25.rank, cases, [x / 2 for x in range(0, 30)])
        (f1, fr), ft = best(fuzzy.rank, cases, range(40, 100, 2))
        l1, lr = figures(logistic.rank, cases, 0.0)
        print(f"== {name}  (top-1 / out-of-scope rejection)")
        print(f"  this matcher      {ours.top1_rate:6.1%} / {ours.rejection_rate:6.1%}")
        print(f"  BM25 baseline     {b1:6.1%} / {br:6.1%}   (best threshold {bt})")
        print(f"  rapidfuzz WRatio  {f1:6.1%} / {fr:6.1%}   (best threshold {ft})")
        print(f"  logistic regr.    {l1:6.1%} / {lr:6.1%}   (argmax)")


if __name__ == "__main__":
    main()

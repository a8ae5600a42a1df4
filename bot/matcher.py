"""Question in, decision out: which topic answers a question, how sure, or none.

A nearest-neighbour matcher over the knowledge base's phrasings. Each phrasing
is a bag of IDF-weighted tokens (so words in every question, 微信, 怎么, 账号,
weigh little); the out-of-scope phrasings form a reject class; rapidfuzz
re-scores the closest phrasings character by character (typos, segmentation
slips) and repairs misspelt English words. Everything about the knowledge
base is computed once in Matcher.__init__.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz, process

from .knowledge import KnowledgeBase
from .text import TextNormaliser, question_language

Decision = Literal["answer", "suggest", "none"]


@dataclass(frozen=True)
class MatchSettings:
    """Weights and thresholds; tuned on dev and leave-one-out, see README."""

    candidates: int = 24  # phrasings re-scored with rapidfuzz
    fuzz_weight: float = 0.25  # share of the character-level score in a phrasing's score
    second_weight: float = 0.15  # a topic's second-best phrasing adds this share
    keyword_weight: float = 0.35  # bonus for query weight covered by a topic's keywords
    none_below: float = 0.30  # best topic under this: out of scope
    answer_from: float = 0.45  # best topic at or over this (and clear of the rest): answer
    answer_margin: float = 0.06  # lead over the runner-up needed to answer outright
    reject_margin: float = 0.0  # out-of-scope phrasing this much closer than any topic: none
    typo_cutoff: float = 84.0  # rapidfuzz ratio to repair an unknown English word
    max_alternatives: int = 3


@dataclass(frozen=True)
class Alternative:
    topic: str
    score: float


@dataclass(frozen=True)
class Match:
    """What the matcher decided for one question."""

    decision: Decision
    topic: str | None  # the topic answered or suggested first; None when decision is "none"
    score: float
    alternatives: tuple[Alternative, ...]
    lang: str  # language of the question: "zh" or "en"
    tokens: tuple[str, ...] = field(default=(), compare=False)


@dataclass
class _Index:
    """The phrasings of one language as an inverted index of normalised weights."""

    owners: list[str | None] = field(default_factory=list)  # topic id, None for out-of-scope
    texts: list[str] = field(default_factory=list)  # normalised text for rapidfuzz
    postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    idf: dict[str, float] = field(default_factory=dict)
    oov_idf: float = 1.0
    vocabulary: list[str] = field(default_factory=list)  # ASCII tokens, for typo repair

    def build(self, docs: list[tuple[str | None, str, list[str]]]) -> None:
        df: dict[str, int] = defaultdict(int)
        for _, _, toks in docs:
            for tok in set(toks):
                df[tok] += 1
        n = max(len(docs), 1)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        # An unknown word is treated as rare: a question full of words the
        # knowledge base never uses is probably not about it.
        self.oov_idf = math.log(1 + (n + 0.5) / 1.5)
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, (owner, text, toks) in enumerate(docs):
            uniq = set(toks)
            norm = math.sqrt(sum(self.idf[t] ** 2 for t in uniq)) or 1.0
            for tok in uniq:
                postings[tok].append((i, self.idf[tok] / norm))
            self.owners.append(owner)
            self.texts.append(text)
        self.postings = dict(postings)
        self.vocabulary = sorted(t for t in self.idf if t.isascii() and t.isalpha() and len(t) >= 3)


class Matcher:
    """Matches questions against one loaded knowledge base."""

    def __init__(self, kb: KnowledgeBase, normaliser: TextNormaliser, settings: MatchSettings | None = None) -> None:
        self.kb = kb
        self.normaliser = normaliser
        self.settings = settings or MatchSettings()
        docs: dict[str, list[tuple[str | None, str, list[str]]]] = {"zh": [], "en": []}

        def add(owner: str | None, question: str) -> None:
            norm = normaliser.normalise(question)
            toks = normaliser.tokens_of_normalised(norm)
            if toks:
                docs[question_language(question)].append((owner, _compact(norm), toks))

        for topic in kb.topics.values():
            for question in topic.questions:
                add(topic.id, question)
        for question in kb.out_of_scope:
            add(None, question)
        self._index = {lang: _Index() for lang in docs}
        for lang, lang_docs in docs.items():
            self._index[lang].build(lang_docs)
        # Keywords as token sets: a keyword counts when all its tokens are in the question.
        self._keywords: dict[str, list[frozenset[str]]] = {}
        for topic in kb.topics.values():
            sets = []
            for kw in topic.keywords:
                toks = frozenset(normaliser.tokens(kw))
                if toks:
                    sets.append(toks)
            self._keywords[topic.id] = sets

    def match_question(self, text: str) -> Match:
        """The decision for one question; never raises on any input string."""
        s = self.settings
        lang = question_language(text)
        norm = self.normaliser.normalise(text)
        tokens = self.normaliser.tokens_of_normalised(norm)
        index = self._index[lang]
        if not tokens or not index.owners:
            return Match("none", None, 0.0, (), lang, tuple(tokens))
        tokens = self._repair_typos(tokens, index)
        weights = {t: index.idf.get(t, index.oov_idf) for t in dict.fromkeys(tokens)}
        qnorm = math.sqrt(sum(w * w for w in weights.values()))

        cosine: dict[int, float] = defaultdict(float)
        for tok, w in weights.items():
            for doc, dw in index.postings.get(tok, ()):
                cosine[doc] += w / qnorm * dw
        if not cosine:
            return Match("none", None, 0.0, (), lang, tuple(tokens))

        compact = _compact(norm)
        best_doc: dict[str | None, list[float]] = defaultdict(list)
        for doc in heapq.nlargest(s.candidates, cosine, key=cosine.__getitem__):
            char_score = fuzz.ratio(compact, index.texts[doc], processor=None) / 100.0
            score = (1 - s.fuzz_weight) * cosine[doc] + s.fuzz_weight * char_score * min(1.0, cosine[doc] * 4)
            best_doc[index.owners[doc]].append(score)

        reject = max(best_doc.pop(None, [0.0]))
        query_tokens = set(weights)
        scored = []
        for topic_id, scores in best_doc.items():
            scores.sort(reverse=True)
            score = scores[0] + (s.second_weight * scores[1] if len(scores) > 1 else 0.0)
            covered = set().union(*(kw for kw in self._keywords[topic_id] if kw <= query_tokens)) if self._keywords[topic_id] else set()
            if covered:
                score += s.keyword_weight * sum(weights[t] ** 2 for t in covered) / (qnorm * qnorm)
            scored.append((score, topic_id))
        if not scored:
            return Match("none", None, round(reject, 4), (), lang, tuple(tokens))
        scored.sort(reverse=True)
        top_score, top_topic = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        ranked = [Alternative(t, round(sc, 4)) for sc, t in scored[: 1 + s.max_alternatives]]

        if top_score < s.none_below or reject > top_score + s.reject_margin:
            # No topic, but the closest ones are still reported for evaluation and curators.
            return Match("none", None, round(top_score, 4), tuple(ranked[: s.max_alternatives]), lang, tuple(tokens))
        alternatives = tuple(ranked[1:])
        if top_score >= s.answer_from and top_score - runner_up >= s.answer_margin:
            decision: Decision = "answer"
        else:
            decision = "suggest"
        return Match(decision, top_topic, round(top_score, 4), alternatives, lang, tuple(tokens))

    def _repair_typos(self, tokens: list[str], index: _Index) -> list[str]:
        # Only unknown ASCII words: Chinese typos are handled by synonyms and the
        # character-level re-scoring, and jieba already splits unknown Chinese.
        out = []
        for tok in tokens:
            if tok not in index.idf and tok.isascii() and tok.isalpha() and len(tok) >= 4 and index.vocabulary:
                hit = process.extractOne(tok, index.vocabulary, scorer=fuzz.ratio, score_cutoff=self.settings.typo_cutoff)
                if hit:
                    tok = hit[0]
            out.append(tok)
        return out


def _compact(norm: str) -> str:
    return norm.replace(" ", "")


def load_matcher(kb_dir=None, settings: MatchSettings | None = None) -> Matcher:
    """Load and validate the knowledge base and build its matcher (raises KnowledgeError)."""
    from .knowledge import load_knowledge

    kb = load_knowledge(kb_dir)
    return Matcher(kb, TextNormaliser(kb.synonyms, kb.userdict), settings)

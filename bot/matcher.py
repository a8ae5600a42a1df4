"""Question in, decision out: which topic answers a question, how sure, or none.

Two signals, both derived from the knowledge base once, in Matcher.__init__:
a logistic-regression classifier (bot/classifier.py) over character n-grams
and words, trained on every topic's phrasings, keywords and titles with the
out-of-scope phrasings as a reject class; and a nearest-neighbour score over
the phrasings (IDF-weighted tokens, so words in every question weigh little;
topic centroids; keywords; rapidfuzz re-scoring the closest phrasings
character by character and repairing misspelt English words). A topic's score
is its probability plus a share of its neighbour score; the classifier's
out-of-scope probability decides "none".
"""

from __future__ import annotations

import gc
import math
from pathlib import Path
from collections import defaultdict
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Literal

from rapidfuzz import fuzz, process

from .classifier import LinearModel, cached_model
from .classifier import train as train_classifier
from .knowledge import KnowledgeBase
from .languages import base_of
from .languages import detect as detect_language
from .text import TextNormaliser, question_language

Decision = Literal["answer", "suggest", "none"]
NONE_CLASS = "-"  # the classifier's label for out-of-scope phrasings


@dataclass(frozen=True)
class MatchSettings:
    """Weights and thresholds, chosen by a grid search over 5-fold cross-validation
    of the whole pipeline (`python -m bot eval --folds 5`) and the labelled
    sets that README.md names as tuned on."""

    # The nearest-neighbour scores (phrasings, centroids, keywords).
    candidates: int = 16  # phrasings re-scored with rapidfuzz
    fuzz_weight: float = 0.3  # share of the character-level score in a phrasing's score
    second_weight: float = 0.15  # a topic's second-best phrasing adds this share
    centroid_weight: float = 0.6  # similarity to the topic as a whole (all phrasings and keywords)
    keyword_weight: float = 0.7  # bonus for query weight covered by a topic's keywords
    oov_weight: float = 1.0  # weight of a word the knowledge base never uses, as a share of the rarest word's
    common_share: float = 0.2  # words in more than this share of phrasings skip the nearest-phrasing scores
    typo_cutoff: float = 84.0  # rapidfuzz ratio to repair an unknown English word
    # The classifier, and how the two combine: a topic's score is its
    # probability plus neighbour_weight times its nearest-neighbour score.
    classifier_c: float = 10.0  # inverse regularisation of the logistic regression
    # Knowledge bases with more training texts than this leave out features seen
    # once: a thousand topics would otherwise need gigabytes and minutes to train.
    classifier_prune_from: int = 5000
    neighbour_weight: float = 0.2
    requires_penalty: float = 0.6  # score factor for a topic whose `requires` words are all absent
    # Decisions.
    none_probability: float = 0.5  # the classifier's out-of-scope probability at or over this: none
    none_below: float = 0.2  # best topic's score under this: none
    answer_from: float = 0.55  # best topic at or over this (and clear of the rest): answer
    answer_margin: float = 0.15  # lead over the runner-up needed to answer outright
    followup_floor: float = 0.1  # a follow-up's closest topic needs at least this score…
    followup_share: float = 0.6  # …and this share of the scores of the topics in the running
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
    lang: str  # language of the question, a code of bot.languages (zh, zh-Hant, zh-HK, en)
    tokens: tuple[str, ...] = field(default=(), compare=False)
    reject_score: float = field(default=0.0, compare=False)  # the classifier's out-of-scope probability


@dataclass
class _Index:
    """The phrasings of one language: an inverted index of normalised IDF weights.

    Two views of the same phrasings: each phrasing alone (nearest neighbour) and
    each topic as one centroid of its phrasings and keywords (robust when no
    single phrasing is close).
    """

    owners: list[str | None] = field(default_factory=list)  # topic id, None for out-of-scope
    texts: list[str] = field(default_factory=list)  # normalised text for rapidfuzz
    postings: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    centroids: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # token -> (topic, weight)
    idf: dict[str, float] = field(default_factory=dict)
    oov_idf: float = 1.0
    common_idf: float = 0.0  # words below this IDF are left out of the nearest-phrasing scores
    vocabulary: list[str] = field(default_factory=list)  # ASCII tokens, for typo repair

    def build(self, docs: list[tuple[str | None, str, list[str]]], keywords: dict[str, list[str]],
              oov_weight: float, common_share: float) -> None:
        df: dict[str, int] = defaultdict(int)
        for _, _, toks in docs:
            for tok in set(toks):
                df[tok] += 1
        for toks in keywords.values():
            for tok in set(toks):
                df[tok] += 1
        n = max(len(docs) + len(keywords), 1)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        # An unknown word counts as fairly rare: a question full of words the
        # knowledge base never uses is probably not about it.
        self.oov_idf = oov_weight * math.log(1 + (n + 0.5) / 1.5)
        self.common_idf = math.log(1 + (n - common_share * n + 0.5) / (common_share * n + 0.5))
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for i, (owner, text, toks) in enumerate(docs):
            vector = _unit({t: self.idf[t] for t in set(toks)})
            for tok, w in vector.items():
                postings[tok].append((i, w))
                if owner is not None:
                    sums[owner][tok] += w
            self.owners.append(owner)
            self.texts.append(text)
        for topic_id, toks in keywords.items():
            for tok, w in _unit({t: self.idf[t] for t in set(toks)}).items():
                sums[topic_id][tok] += w
        centroids: dict[str, list[tuple[str, float]]] = defaultdict(list)
        for topic_id, vector in sums.items():
            for tok, w in _unit(vector).items():
                centroids[tok].append((topic_id, w))
        self.postings = dict(postings)
        self.centroids = dict(centroids)
        self.vocabulary = sorted(t for t in self.idf if t.isascii() and t.isalpha() and len(t) >= 3)


def _unit(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(w * w for w in vector.values())) or 1.0
    return {t: w / norm for t, w in vector.items()}


class Matcher:
    """Matches questions against one loaded knowledge base."""

    def __init__(self, kb: KnowledgeBase, normaliser: TextNormaliser, settings: MatchSettings | None = None,
                 model_cache: Path | None = None) -> None:
        self.kb = kb
        self.normaliser = normaliser
        self.settings = settings or MatchSettings()
        docs: dict[str, list[tuple[str | None, str, list[str]]]] = {"zh": [], "en": []}

        owned = [(t.id, q) for t in kb.topics.values() for q in t.questions] + [(None, q) for q in kb.out_of_scope]
        # The classifier also learns from each topic's keywords and titles.
        extra = [(t.id, text) for t in kb.topics.values() for text in (*t.keywords, t.title.zh, t.title.en)]
        prepared = normaliser.prepare_many([q for _, q in owned + extra])
        for (owner, question), (norm, toks) in zip(owned, prepared):
            if toks:
                docs[question_language(question)].append((owner, _compact(norm), toks))
        self.model = self._train_classifier([o for o, _ in owned + extra], prepared, model_cache)
        columns = {c: i for i, c in enumerate(self.model.classes)}
        self._none_class = columns[NONE_CLASS]
        self._topic_columns = [(t, columns[t]) for t in kb.topics if t in columns]
        # Keywords as token sets: a keyword counts when all its tokens are in the question.
        self._keywords: dict[str, list[frozenset[str]]] = {}
        keyword_tokens: dict[str, dict[str, list[str]]] = {"zh": {}, "en": {}}
        for topic in kb.topics.values():
            sets = []
            for kw in topic.keywords:
                toks = normaliser.tokens(kw)
                if toks:
                    sets.append(frozenset(toks))
                    keyword_tokens[question_language(kw)].setdefault(topic.id, []).extend(toks)
            self._keywords[topic.id] = sets
        # A topic's `requires` words: single tokens as one set (a fast disjointness
        # test per question), words of several tokens as token sets like keywords.
        self._requires: dict[str, tuple[frozenset[str], list[frozenset[str]]]] = {}
        for topic in kb.topics.values():
            token_sets = [frozenset(t) for t in (normaliser.tokens(w) for w in topic.requires) if t]
            if token_sets:
                single = frozenset(next(iter(t)) for t in token_sets if len(t) == 1)
                self._requires[topic.id] = (single, [t for t in token_sets if len(t) > 1])
        self._keyword_owners: dict[str, set[str]] = defaultdict(set)
        # token -> the (topic, keyword) pairs whose keyword contains it: lets a
        # question look up only the keywords its own words could complete.
        self._keywords_by_token: dict[str, list[tuple[str, frozenset[str]]]] = defaultdict(list)
        for topic_id, sets in self._keywords.items():
            for toks in sets:
                for tok in toks:
                    self._keyword_owners[tok].add(topic_id)
                    self._keywords_by_token[tok].append((topic_id, toks))
        self._index = {lang: _Index() for lang in docs}
        for lang, lang_docs in docs.items():
            self._index[lang].build(lang_docs, keyword_tokens[lang], self.settings.oov_weight, self.settings.common_share)

    def _train_classifier(self, owners: list[str | None], prepared: list[tuple[str, list[str]]],
                          cache: Path | None) -> LinearModel:
        """The topic classifier: from the cache when trained on exactly this knowledge base, else trained now.

        `cache` None trains without caching (cross-validation folds).
        """
        labels = [owner or NONE_CLASS for owner in owners]
        min_df = 2 if len(prepared) > self.settings.classifier_prune_from else 1
        if cache is None:
            return train_classifier(prepared, labels, self.settings.classifier_c, min_df=min_df)
        return cached_model(cache, "topics", prepared, labels, self.settings.classifier_c, min_df=min_df)

    def match_question(self, text: str, context_given: bool = False) -> Match:
        """The decision for one question; never raises on any input string.

        `context_given`: the conversation already supplies what a topic's
        `requires` words would (a follow-up to a card about a banned account).
        """
        s = self.settings
        lang = detect_language(text)
        norm = self.normaliser.normalise(text)
        tokens = self.normaliser.tokens_of_normalised(norm)
        index = self._index[question_language(text)]
        if not tokens or not index.owners:
            return Match("none", None, 0.0, (), lang, tuple(tokens))
        tokens = self._repair_typos(tokens, index)
        neighbours, _ = self.neighbour_scores(norm, tokens, question_language(text))
        probabilities = self.model.scores(norm, tokens)
        out_of_scope = float(probabilities[self._none_class])
        query_tokens = set(tokens)
        scored = []
        for topic_id, column in self._topic_columns:
            score = float(probabilities[column]) + s.neighbour_weight * neighbours.get(topic_id, 0.0)
            if not context_given and not self.requires_met(topic_id, query_tokens):
                score *= s.requires_penalty
            scored.append((score, topic_id))
        scored.sort(reverse=True)
        top_score, top_topic = scored[0]
        runner_up = scored[1][0] if len(scored) > 1 else 0.0
        ranked = [Alternative(t, round(sc, 4)) for sc, t in scored[: 1 + s.max_alternatives]]
        if out_of_scope >= s.none_probability or top_score < s.none_below:
            # No topic, but the closest ones are still reported for evaluation and curators.
            return Match("none", None, round(top_score, 4), tuple(ranked[: s.max_alternatives]), lang,
                         tuple(tokens), out_of_scope)
        if top_score >= s.answer_from and top_score - runner_up >= s.answer_margin:
            decision: Decision = "answer"
        else:
            decision = "suggest"
        return Match(decision, top_topic, round(top_score, 4), tuple(ranked[1:]), lang, tuple(tokens), out_of_scope)

    def neighbour_scores(self, norm: str, tokens: list[str], lang: str) -> tuple[dict[str, float], float]:
        """Each topic's score from its nearest phrasings, its centroid and its keywords; and the
        closest out-of-scope phrasing's score."""
        s = self.settings
        index = self._index[lang]
        weights = _unit({t: index.idf.get(t, index.oov_idf) for t in dict.fromkeys(tokens)})

        cosine: dict[int, float] = defaultdict(float)
        centroid: dict[str, float] = defaultdict(float)
        for tok, w in weights.items():
            # Words in a large share of phrasings (微信, 封号) add little to any
            # one phrasing's score but most of the loop's work: they only count
            # in the norms and centroids.
            if index.idf.get(tok, index.oov_idf) >= index.common_idf:
                for doc, dw in index.postings.get(tok, ()):
                    cosine[doc] += w * dw
            for topic_id, tw in index.centroids.get(tok, ()):
                centroid[topic_id] += w * tw

        compact = _compact(norm)
        nearest: dict[str | None, list[float]] = defaultdict(list)
        # sorted() over (doc, score) pairs runs in C; heapq.nlargest with a key did not.
        for doc, cos in sorted(cosine.items(), key=itemgetter(1), reverse=True)[: s.candidates]:
            char_score = fuzz.ratio(compact, index.texts[doc], processor=None) / 100.0
            # Character overlap only counts where words overlap too, or any two
            # short questions would look alike.
            score = (1 - s.fuzz_weight) * cos + s.fuzz_weight * char_score * min(1.0, cos * 4)
            nearest[index.owners[doc]].append(score)
        reject = max(nearest.pop(None, [0.0]))

        covered: dict[str, set[str]] = defaultdict(set)
        for tok in weights:
            for topic_id, keyword in self._keywords_by_token.get(tok, ()):
                if keyword <= weights.keys():
                    covered[topic_id] |= keyword
        query_tokens = set(weights)
        scores: dict[str, float] = {}
        for topic_id in set(nearest) | set(centroid) | set(covered):
            best = sorted(nearest.get(topic_id, [0.0]), reverse=True)
            score = best[0] + (s.second_weight * best[1] if len(best) > 1 else 0.0)
            score += s.centroid_weight * centroid.get(topic_id, 0.0)
            if topic_id in covered:
                # A keyword several topics share says less about which one is meant.
                score += s.keyword_weight * sum(weights[t] ** 2 / len(self._keyword_owners[t]) for t in covered[topic_id])
            scores[topic_id] = score
        return scores, reject

    def requires_met(self, topic_id: str, tokens: set[str]) -> bool:
        """False when the topic has `requires` words and the tokens hold none of them."""
        required = self._requires.get(topic_id)
        if not required:
            return True
        single, multi = required
        return not single.isdisjoint(tokens) or any(words <= tokens for words in multi)

    def match_followup(self, text: str, previous_topic: str | None) -> Match:
        """A question asked right after a topic card, such as "and the money in it?".

        Alone it may not read as a question of ours ("it" is the banned
        account, which the card before it was about). The card supplies that
        context: when the closest topic is of the card's theme or related to
        it, and holds most of the weight of the topics in the running, it is
        answered. Only then: "thanks" after a card spreads its little weight
        evenly and brings no card.
        """
        previous = self.kb.topics.get(previous_topic or "")
        if previous is None:
            return self.match_question(text)
        match = self.match_question(text, context_given=True)
        if match.decision == "answer":
            return match
        s = self.settings
        ranked = ([Alternative(match.topic, match.score)] if match.topic else []) + list(match.alternatives)
        total = sum(a.score for a in ranked)
        if not ranked or total <= 0:
            return match
        best, rest = ranked[0], ranked[1:]
        close = best.topic in previous.related or self.kb.topics[best.topic].theme == previous.theme
        if (best.topic != previous.id and close and best.score >= s.followup_floor
                and best.score / total >= s.followup_share):
            return Match("answer", best.topic, best.score, tuple(rest), match.lang, match.tokens, match.reject_score)
        return match

    def _repair_typos(self, tokens: list[str], index: _Index) -> list[str]:
        """Map unknown words onto known ones: misspelt English, and Chinese words jieba glued together.

        jieba often glues a function character onto the next word (能卖, 我该,
        卡算); an unknown token whose tail or head is a known word counts as that word.
        """
        out = []
        for tok in tokens:
            if tok in index.idf:
                out.append(tok)
            elif tok.isascii():
                if tok.isalpha() and len(tok) >= 4 and index.vocabulary:
                    hit = process.extractOne(tok, index.vocabulary, scorer=fuzz.ratio, score_cutoff=self.settings.typo_cutoff)
                    if hit:
                        tok = hit[0]
                out.append(tok)
            elif len(tok) >= 3 and tok[1:] in index.idf:
                out.append(tok[1:])
            elif len(tok) >= 3 and tok[:-1] in index.idf:
                out.append(tok[:-1])
            else:
                out.append(tok)
        return out


def _compact(norm: str) -> str:
    return norm.replace(" ", "")


def load_matcher(kb_dir=None, settings: MatchSettings | None = None) -> Matcher:
    """Load and validate the knowledge base and build its matcher (raises KnowledgeError)."""
    from .knowledge import load_knowledge

    kb = load_knowledge(kb_dir)
    normaliser = TextNormaliser(kb.synonyms, kb.userdict)
    matcher = Matcher(kb, normaliser, settings, model_cache=normaliser.cache_dir)
    # jieba's dictionary is half a million objects that never die; left in the
    # collector's generations, every full collection walks them and stalls a
    # question for milliseconds. Freezing moves them out of its reach.
    gc.freeze()
    return matcher

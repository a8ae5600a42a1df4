"""Question in, decision out: which topic answers a question, how sure, or none.

A logistic-regression classifier (bot/classifier.py) over character n-grams
and words, trained once from the knowledge base: every topic's phrasings,
keywords and titles, with the out-of-scope phrasings as a reject class. Around
it: normalisation (Traditional to Simplified, Cantonese to Mandarin, synonyms,
jieba with the domain dictionary), rapidfuzz repairing misspelt English words
against the knowledge base's vocabulary, and a topic's `requires` words. The
classifier's out-of-scope probability decides "none"; how far the best topic
leads decides between "answer" and "suggest".
"""

from __future__ import annotations

import gc
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from rapidfuzz import fuzz, process

from .classifier import LinearModel, cached_model
from .classifier import train as train_classifier
from .knowledge import KnowledgeBase
from .languages import detect as detect_language
from .pinyin import LATIN_RUN, PinyinDecoder
from .text import TextNormaliser

Decision = Literal["answer", "suggest", "none"]
NONE_CLASS = "-"  # the classifier's label for out-of-scope phrasings


@dataclass(frozen=True)
class MatchSettings:
    """Weights and thresholds, chosen by a grid search over 5-fold cross-validation
    of the whole pipeline (`python -m bot eval --folds 5`) and the labelled
    sets that README.md names as tuned on."""

    classifier_c: float = 10.0  # inverse regularisation of the logistic regression
    # Knowledge bases with more training texts than this leave out features seen
    # once: a thousand topics would otherwise need gigabytes and many minutes to train.
    classifier_prune_from: int = 5000
    requires_penalty: float = 0.6  # score factor for a topic whose `requires` words are all absent
    typo_cutoff: float = 84.0  # rapidfuzz ratio to repair an unknown English word
    none_probability: float = 0.5  # the classifier's out-of-scope probability at or over this: none
    none_below: float = 0.2  # best topic's score under this: none
    answer_from: float = 0.55  # best topic at or over this (and clear of the rest): answer
    answer_margin: float = 0.15  # lead over the runner-up needed to answer outright
    followup_floor: float = 0.05  # a follow-up's closest topic needs at least this score…
    followup_share: float = 0.8  # …and this share of the scores of the topics in the running
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


class Matcher:
    """Matches questions against one loaded knowledge base."""

    def __init__(self, kb: KnowledgeBase, normaliser: TextNormaliser, settings: MatchSettings | None = None,
                 model_cache: Path | None = None) -> None:
        """`model_cache`: where the trained classifier is cached; None trains it afresh (cross-validation)."""
        self.kb = kb
        self.normaliser = normaliser
        self.settings = settings or MatchSettings()
        texts = [(t.id, q) for t in kb.topics.values() for q in (*t.questions, *t.keywords, t.title.zh, t.title.en)]
        texts += [(NONE_CLASS, q) for q in kb.out_of_scope]
        prepared = normaliser.prepare_many([q for _, q in texts])
        self.model = self._train_classifier([label for label, _ in texts], prepared, model_cache)
        columns = {c: i for i, c in enumerate(self.model.classes)}
        self._none_column = columns[NONE_CLASS]
        self._topic_columns = [(t, columns[t]) for t in kb.topics if t in columns]
        # Every word of the training texts: what an unknown word may be repaired to.
        self._vocabulary = frozenset(tok for _, toks, _ in prepared for tok in toks)
        # Built on the first question typed in pinyin (some 20 ms): most never need it.
        self._decoder_words = prepared
        self._decoder: PinyinDecoder | None = None
        self._ascii_vocabulary = sorted(t for t in self._vocabulary if t.isascii() and t.isalpha() and len(t) >= 3)
        # A topic's `requires` words: single tokens as one set (a fast disjointness
        # test per question), words of several tokens as token sets.
        self._requires: dict[str, tuple[frozenset[str], list[frozenset[str]]]] = {}
        for topic in kb.topics.values():
            token_sets = [frozenset(t) for t in (normaliser.tokens(w) for w in topic.requires) if t]
            if token_sets:
                single = frozenset(next(iter(t)) for t in token_sets if len(t) == 1)
                self._requires[topic.id] = (single, [t for t in token_sets if len(t) > 1])

    def _train_classifier(self, labels: list[str], prepared: list[tuple[str, list[str], list[str]]],
                          cache: Path | None) -> LinearModel:
        """The topic classifier: from the cache when trained on exactly this knowledge base, else trained now."""
        s = self.settings
        min_df = 2 if len(prepared) > s.classifier_prune_from else 1
        if cache is None:
            return train_classifier(prepared, labels, s.classifier_c, min_df=min_df)
        return cached_model(cache, "topics", prepared, labels, s.classifier_c, min_df=min_df)

    def pinyin_decoder(self) -> PinyinDecoder | None:
        """Typed pinyin into the knowledge base's words: its characters, its words and their variants, by frequency.

        Characters are counted in the normalised phrasings (function words such
        as 了 and 被 are never tokens); a synonym's variant counts as often as its
        canonical word (dongjie: 冻结, folded to 封号 afterwards).
        """
        reader = self.normaliser.pinyin
        if self._decoder is None and reader is not None:
            prepared = self._decoder_words
            chars = Counter("".join(norm for norm, _, _ in prepared))
            counts = Counter({c: n for c, n in chars.items() if reader.reading(c)})
            counts.update(tok for _, toks, _ in prepared for tok in toks if len(tok) > 1 and not tok.isascii())
            for variant, canonical in self.kb.synonyms.variants.items():
                if not variant.isascii() and variant not in counts:
                    counts[variant] = max(1, counts.get(canonical, 0))
            self._decoder = PinyinDecoder(reader, counts)
        return self._decoder

    def match_question(self, text: str, context_given: bool = False) -> Match:
        """The decision for one question; never raises on any input string.

        `context_given`: the conversation already supplies what a topic's
        `requires` words would (a follow-up to a card about a banned account).
        """
        s = self.settings
        lang = detect_language(text)
        norm = self.normaliser.normalise(text)
        decoder = self.pinyin_decoder() if LATIN_RUN.search(norm) else None
        if decoder is not None:
            # Typed pinyin (whole questions, or du博) is read as the words it spells, then normalised again.
            decoded = decoder.decode(norm)
            if decoded != norm:
                norm = self.normaliser.normalise(decoded)
        tokens = self._repair_typos(self.normaliser.tokens_of_normalised(norm))
        if not tokens:
            return Match("none", None, 0.0, (), lang, ())
        probabilities = self.model.scores(norm, tokens, self.normaliser.syllables(norm))
        out_of_scope = float(probabilities[self._none_column])
        query_tokens = set(tokens)
        scored = []
        for topic_id, column in self._topic_columns:
            score = float(probabilities[column])
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

    def _repair_typos(self, tokens: list[str]) -> list[str]:
        """Map unknown words onto known ones: misspelt English, and Chinese words jieba glued together.

        jieba often glues a function character onto the next word (能卖, 我该,
        卡算); an unknown token whose tail or head is a known word counts as that word.
        """
        known = self._vocabulary
        out = []
        for tok in tokens:
            if tok in known:
                out.append(tok)
            elif tok.isascii():
                if tok.isalpha() and len(tok) >= 4 and self._ascii_vocabulary:
                    hit = process.extractOne(tok, self._ascii_vocabulary, scorer=fuzz.ratio,
                                             score_cutoff=self.settings.typo_cutoff)
                    if hit:
                        tok = hit[0]
                out.append(tok)
            elif len(tok) >= 3 and tok[1:] in known:
                out.append(tok[1:])
            elif len(tok) >= 3 and tok[:-1] in known:
                out.append(tok[:-1])
            else:
                out.append(tok)
        return out


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

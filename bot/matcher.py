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
import math
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from .classifier import JointScorer, LinearModel, TrainingJob, cached_models
from .cues import CueFinder
from .knowledge import KnowledgeBase
from .languages import detect as detect_language
from .pinyin import LATIN_RUN, PinyinDecoder
from .text import TextNormaliser

Decision = Literal["answer", "suggest", "none"]
NONE_CLASS = "-"  # the classifier's label for out-of-scope phrasings
GENERAL = "-"  # the situation model's label for a topic's general reader
# A long story is cut into sentences at these; its last asking sentence is matched alone.
_SENTENCE_END = re.compile(r"[。！？!?\n；;]+")
_ASKING = re.compile(r"[?？]|吗|么|呢|咋|怎|如何|能不能|可不可以|可以|是不是|靠谱|真的假的|会不会|该不该|要不要|"
                     r"\b(?:how|what|can|is|should|will|do|does|any)\b", re.I)


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
    situation_c: float = 10.0  # inverse regularisation of the situation model
    # Log-odds the general reader needs over the likeliest situation to keep the general first lines
    # (a grid from -1 to 1 over 5-fold cross-validation, with each topic's readers weighted alike: 0).
    situation_margin: float = 0.0
    story_from: int = 60  # characters from which a question is a story whose last question may be matched alone


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
    situation: str | None = None  # where the asker stands in the topic (situations.yaml), None: the general reader
    fallback: str | None = None  # with decision "none": the honest fallback of fallbacks.yaml that applies


class Matcher:
    """Matches questions against one loaded knowledge base."""

    def __init__(self, kb: KnowledgeBase, normaliser: TextNormaliser, settings: MatchSettings | None = None,
                 model_cache: Path | None = None, previous: Matcher | None = None) -> None:
        """`model_cache`: where the trained classifier is cached; None trains it afresh (cross-validation).

        `previous`: the matcher this one replaces (a reload); a model not in the
        cache is trained starting from its weights, several times faster.
        """
        self.kb = kb
        self.normaliser = normaliser
        self.settings = settings or MatchSettings()
        # (topic label, situation label, text): a topic's general phrasings, its situations', keywords and titles.
        texts = [(t.id, GENERAL, q) for t in kb.topics.values() for q in t.questions]
        texts += [(t.id, s.id, q) for t in kb.topics.values() for s in t.situations for q in s.questions]
        texts += [(t.id, None, q) for t in kb.topics.values() for q in (*t.keywords, t.title.zh, t.title.en)]
        texts += [(NONE_CLASS, None, q) for q in kb.out_of_scope]
        prepared = normaliser.prepare_many([q for _, _, q in texts])
        jobs = [self._topic_job([label for label, _, _ in texts], prepared)]
        # situations.yaml's cues, read in a question as written (before synonyms fold "sold" into "sell").
        self._cues = CueFinder(kb.situation_cues)
        self._written: tuple[str, str] | None = None  # (normalised, as written) of the last question read
        situated = [(topic, situation, q, sample) for (topic, situation, q), sample in zip(texts, prepared) if situation]
        cues = self._cues.find_many([q for _, _, q, _ in situated], lambda q: normaliser.normalise(q, synonyms=False),
                                    normaliser.cache_dir, normaliser.cache_key)
        situation_job = self._situation_job([(situation, self._situation_sample(topic, sample, found))
                                             for (topic, situation, _, sample), found in zip(situated, cues)])
        jobs += [situation_job] if situation_job else []
        if previous is not None:
            jobs = [replace(job, start=start if isinstance(start, LinearModel) else None)
                    for job, start in zip(jobs, (previous.model, previous.situation_model))]
        # From the cache when trained on exactly this knowledge base; else both trained at once.
        models = cached_models(model_cache, jobs) if model_cache is not None else [job.train() for job in jobs]
        self.model = models[0]
        self.situation_model = models[1] if situation_job else None
        self._situation_columns = ({c: i for i, c in enumerate(self.situation_model.classes)}
                                   if self.situation_model is not None else {})
        # Both models read the same question: its features are looked up once (scorer model 0: topics, 1: situations).
        self._scorer = JointScorer((self.model, self.situation_model) if self.situation_model else (self.model,))
        columns = {c: i for i, c in enumerate(self.model.classes)}
        self._none_column = columns[NONE_CLASS]
        self._topic_columns = [(t, columns[t]) for t in kb.topics if t in columns]
        # Every word of the training texts: what an unknown word may be repaired to.
        self._vocabulary = frozenset(tok for _, toks, _ in prepared for tok in toks)
        self._ascii_vocabulary = sorted(t for t in self._vocabulary if t.isascii() and t.isalpha() and len(t) >= 3)
        # Built on the first question typed in pinyin (some 20 ms): most never need it.
        self._decoder_words = prepared
        self._decoder: PinyinDecoder | None = None
        self._last_read: tuple[str, tuple[str, list[str]]] | None = None
        # A topic's `requires` words: single tokens as one set (a fast disjointness
        # test per question), words of several tokens as token sets.
        self._requires: dict[str, tuple[frozenset[str], list[frozenset[str]]]] = {}
        for topic in kb.topics.values():
            token_sets = [frozenset(t) for t in (normaliser.tokens(w) for w in topic.requires) if t]
            if token_sets:
                single = frozenset(next(iter(t)) for t in token_sets if len(t) == 1)
                self._requires[topic.id] = (single, [t for t in token_sets if len(t) > 1])

    def _topic_job(self, labels: list[str], prepared: list[tuple[str, list[str], list[str]]]) -> TrainingJob:
        """The topic classifier's training: every phrasing, keyword and title, and the reject class."""
        s = self.settings
        min_df = 2 if len(prepared) > s.classifier_prune_from else 1
        return TrainingJob("topics", prepared, labels, s.classifier_c, min_df=min_df)

    def _situation_job(self, samples: list[tuple[str, tuple[str, list[str], list[str]]]]) -> TrainingJob | None:
        """The situation model: which reader a phrasing is (already did it, a relative…), over every topic at once.

        Stage and role words (已经、扫了、我妈、群主) mean the same in every
        topic, so one model learns them from all topics' situations; each class
        is weighted by its size, since general phrasings outnumber every situation.
        """
        labels = [label for label, _ in samples]
        if len(set(labels)) < 2:
            return None
        counts = {label: labels.count(label) for label in set(labels)}
        weights = {label: len(labels) / (len(counts) * n) for label, n in counts.items()}
        prepared = [sample for _, sample in samples]
        return TrainingJob("situations", prepared, labels, self.settings.situation_c, class_weight=weights)

    def _situation_sample(self, topic_id: str, sample: tuple[str, list[str], list[str]] | tuple[str, list[str]],
                          cues: list[str]) -> tuple[str, list[str], list[str]]:
        """The situation model's reading of a text of a topic: its words, plus the cues it holds, alone and with the topic.

        Cues are found in the text as written: synonyms fold "sold" into
        "sell" and "被骗了" into "诈骗", the very stage words a situation turns on.
        The topic's own marks let the model learn what a cue means in that
        topic (网恋的男朋友 is the scammer, not a relative).
        """
        norm, tokens, *syllables = sample
        found = [f"§{name}" for name in cues]
        # Pairs too, with the topic: a relative *and* a ban is the relative's case, not the asker's own.
        pairs = [f"{a}+{b[1:]}" for i, a in enumerate(found) for b in found[i + 1:]]
        marks = [f"§@{topic_id}", *(f"{cue}@{topic_id}" for cue in found + pairs)]
        return norm, [*tokens, *found, *marks], syllables[0] if syllables else []

    def situation_of(self, topic_id: str, norm: str, tokens: list[str] | tuple[str, ...],
                     syllables: list[str]) -> str | None:
        """Which of the topic's situations the question is in, or None for its general reader."""
        topic = self.kb.topics.get(topic_id)
        if topic is None or not topic.situations or self.situation_model is None:
            return None
        last = self._written
        written = last[1] if last is not None and last[0] == norm else norm
        sample = self._situation_sample(topic_id, (norm, list(tokens), syllables), self._cues.find(written))
        probabilities = self._scorer.scores(1, self._scorer.read(*sample)).tolist()
        columns = self._situation_columns
        shares = {s.id: probabilities[columns[s.id]] for s in topic.situations if s.id in columns}
        general = probabilities[columns[GENERAL]] if GENERAL in columns else 0.0
        # The likeliest of the topic's readers; the general one keeps its lines unless a situation
        # outweighs it by the margin (cross-validation of this alone, right topic given: 93.9%).
        best = max(shares, key=shares.__getitem__, default=None)
        if best is None or shares[best] <= 0.0:
            return None
        return best if math.log(shares[best]) - math.log(max(general, 1e-300)) > self.settings.situation_margin else None

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

    def read_question(self, text: str) -> tuple[str, list[str]]:
        """The question as the classifiers read it: normalised, and its syllables.

        Typed pinyin (a whole question, or du博) is first written as the words
        it spells; the syllables are read before synonyms fold those words.
        """
        last = self._last_read  # a question is read for its topic, then for its fallback
        if last is not None and last[0] == text:
            return last[1]
        written = self.normaliser.normalise(text, synonyms=False)
        decoder = self.pinyin_decoder() if LATIN_RUN.search(written) else None
        if decoder is not None:
            written = decoder.decode(written)
        read = self.normaliser.fold(written), self.normaliser.syllables(written)
        self._last_read = (text, read)
        self._written = (read[0], written)
        return read

    def match_question(self, text: str, context_given: bool = False) -> Match:
        """The decision for one question; never raises on any input string.

        A long story whose last asking sentence clearly fits one topic is
        answered with that topic, where the whole story would only suggest.
        `context_given`: as for _match_one.
        """
        match = self._match_one(text, context_given)
        if match.decision == "answer" or len(text) < self.settings.story_from:
            return self._with_fallback(text, match)
        asked = self._last_question(text)
        if not asked:
            return self._with_fallback(text, match)
        alone = self._match_one(asked, context_given)
        in_running = match.topic == alone.topic or any(a.topic == alone.topic for a in match.alternatives)
        if alone.decision != "answer" or not in_running:
            return self._with_fallback(text, match)
        # The story still says who asks and at what stage ("I already sold one…").
        norm, syllables = self.read_question(text)
        situation = self.situation_of(alone.topic, norm, match.tokens, syllables)
        others = tuple(a for a in ((Alternative(match.topic, match.score),) if match.topic else ()) + match.alternatives
                       if a.topic != alone.topic)[: self.settings.max_alternatives]
        return self._with_fallback(text, Match("answer", alone.topic, alone.score, others, match.lang, match.tokens,
                                               match.reject_score, situation))

    def _with_fallback(self, text: str, match: Match) -> Match:
        """A "none" names the honest fallback that applies (another platform's ban, a frozen bank card).

        A question that names another platform and none of ours gets its fallback
        even where a card about WeChat and QQ accounts would have matched it.
        """
        fallbacks = self.kb.fallbacks
        topic = self.kb.topics.get(match.topic or "")
        overrulable = topic is not None and topic.theme in fallbacks.themes
        if match.decision != "none" and not overrulable:
            return match
        found = fallbacks.for_question(self.read_question(text)[0], overruling=match.decision != "none")
        if found is None:
            return match
        if match.decision == "none":
            return replace(match, fallback=found.id)
        ranked = (Alternative(match.topic, match.score), *match.alternatives)[: self.settings.max_alternatives]
        return replace(match, decision="none", topic=None, situation=None, alternatives=ranked, fallback=found.id)

    @staticmethod
    def _last_question(text: str) -> str | None:
        """The last sentence of a story that asks something, when the story has more than one sentence."""
        sentences = [s.strip() for s in _SENTENCE_END.split(text) if len(s.strip()) >= 4]
        if len(sentences) < 2:
            return None
        for sentence in reversed(sentences):
            if _ASKING.search(sentence):
                return sentence
        return None

    def _match_one(self, text: str, context_given: bool = False) -> Match:
        """The decision for one question; never raises on any input string.

        `context_given`: the conversation already supplies what a topic's
        `requires` words would (a follow-up to a card about a banned account).
        """
        s = self.settings
        lang = detect_language(text)
        norm, syllables = self.read_question(text)
        tokens = self._repair_typos(self.normaliser.tokens_of_normalised(norm))
        if not tokens:
            return Match("none", None, 0.0, (), lang, ())
        probabilities = self._scorer.scores(0, self._scorer.read(norm, tokens, syllables))
        shares = probabilities.tolist()  # Python floats: one conversion, not one per topic
        out_of_scope = shares[self._none_column]
        query_tokens = set(tokens)
        scored = []
        for topic_id, column in self._topic_columns:
            score = shares[column]
            if not context_given and topic_id in self._requires and not self.requires_met(topic_id, query_tokens):
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
        return Match(decision, top_topic, round(top_score, 4), tuple(ranked[1:]), lang, tuple(tokens), out_of_scope,
                     self.situation_of(top_topic, norm, tokens, syllables))

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
            norm, syllables = self.read_question(text)
            situation = self.situation_of(best.topic, norm, match.tokens, syllables)
            return Match("answer", best.topic, best.score, tuple(rest), match.lang, match.tokens, match.reject_score,
                         situation)
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
                    from rapidfuzz import fuzz, process  # here: most questions never need it, and starts are faster

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

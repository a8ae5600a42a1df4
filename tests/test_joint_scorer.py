"""The answering path's scoring (bot.classifier.JointScorer) gives the probabilities of the training-time features.

Training builds features with classifier.features() and scikit-learn's TF-IDF
arithmetic; the answering path looks a question's features up once for the
topic and the situation models together. Both must give the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from bot.classifier import BLOCKS, JointScorer, features
from bot.knowledge import default_kb_dir


def reference(model, norm, tokens, syllables) -> np.ndarray:
    """Probabilities straight from features(): TF-IDF (1 + log count) * idf, each block L2-normalised, softmax."""
    logits = model.intercept.copy()
    for block, counts in zip(BLOCKS, features(norm, tokens, syllables)):
        rows = [(model.index[f"{block}:{f}"], n) for f, n in counts.items() if f"{block}:{f}" in model.index]
        values = [(1.0 + math.log(n)) * model.idf[row] for row, n in rows]
        norm2 = math.sqrt(sum(v * v for v in values))
        for (row, _), value in zip(rows, values):
            logits = logits + value / norm2 * model.coef[row]
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


def _questions() -> list[str]:
    out = []
    for path in sorted((default_kb_dir() / "topics").glob("*.yaml")):
        topic = yaml.safe_load(path.read_text(encoding="utf-8"))
        out += topic["questions"][:6] + [q for s in topic.get("situations") or () for q in s["questions"][:2]]
    return out + ["jiefeng duoshao qian", "QQ被冻洁了 怎么 申素", "weixin bei feng le", "？？？", "hello", "解封" * 200]


def test_both_models_score_every_question_as_the_training_features_say(matcher):
    scorer = JointScorer((matcher.model, matcher.situation_model))
    checked = 0
    for question in _questions():
        norm, syllables = matcher.read_question(question)
        tokens = matcher.normaliser.tokens_of_normalised(norm)
        assert np.allclose(scorer.scores(0, scorer.read(norm, tokens, syllables)),
                           reference(matcher.model, norm, tokens, syllables), rtol=0, atol=1e-12), question
        # The situation model reads the same text with its cue words added: the n-grams come from the first read.
        marked = [*tokens, "§@ban-appeal", "§kin", "§kin@ban-appeal"]
        assert np.allclose(scorer.scores(1, scorer.read(norm, marked, syllables)),
                           reference(matcher.situation_model, norm, marked, syllables), rtol=0, atol=1e-12), question
        checked += 1
    assert checked > 100


def test_a_feature_only_the_second_model_knows_counts_there_and_nowhere_else(matcher):
    topic, situation = matcher.model, matcher.situation_model
    only = next(key for key in situation.index if key not in topic.index and key.startswith("w:"))
    word = only[2:]
    scorer = JointScorer((topic, situation))
    reading = scorer.read("我的号被封了", ["号", "封号", word], [])
    assert np.allclose(scorer.scores(0, reading), reference(topic, "我的号被封了", ["号", "封号", word], []), atol=1e-12)
    assert np.allclose(scorer.scores(1, reading), reference(situation, "我的号被封了", ["号", "封号", word], []),
                       atol=1e-12)
    assert not np.allclose(scorer.scores(1, reading), scorer.scores(1, scorer.read("我的号被封了", ["号", "封号"], [])))


@pytest.mark.parametrize("first, second", [(("微信被封了", ["wei", "xin"]), ("微信被封了", ["wei"])),
                                           (("微信被封了", []), ("微信被封", []))])
def test_a_remembered_reading_is_never_reused_for_another_text(matcher, first, second):
    scorer = JointScorer((matcher.model,))
    scorer.read(first[0], ["微信", "封号"], first[1])
    again = scorer.scores(0, scorer.read(second[0], ["微信", "封号"], second[1]))
    assert np.allclose(again, reference(matcher.model, second[0], ["微信", "封号"], second[1]), atol=1e-12)


def test_a_text_with_no_known_feature_gets_the_models_prior(matcher):
    scorer = JointScorer((matcher.model, matcher.situation_model))
    for which, model in enumerate((matcher.model, matcher.situation_model)):
        got = scorer.scores(which, scorer.read("", [], []))
        exp = np.exp(model.intercept - model.intercept.max())
        assert np.allclose(got, exp / exp.sum()) and not np.isnan(got).any()

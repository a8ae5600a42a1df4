"""Quotation marks 「…」 mean "these exact words": every quote in a card is in a document the card cites.

A card quotes a source's sentence, a notice's text or an app's menu label in
「…」. Each quote must be found in one of the card's source documents
(tests/data/seeds/, copies of shared/seeds/), or be one of the app labels
knowledge/traditional.yaml lists (menu labels from how-to pages, which no
source holds). A "…" inside a quote marks a cut: the pieces must appear in
that order.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pytest

from bot.knowledge import Localized

from .conftest import SEEDS_NAMES

SEEDS = Path(__file__).resolve().parent / "data" / "seeds"
QUOTE = re.compile(r"「([^「」\n]*)」")


def normal(text: str) -> str:
    """What two copies of the same words share: full-width punctuation as ASCII (，is ,), no spaces, no
    Markdown bold, one kind of quotation mark."""
    text = re.sub(r"\s+|\*", "", unicodedata.normalize("NFKC", text))
    return re.sub(r"[“”\"]", "\"", text)


def found_in(quote: str, document: str) -> bool:
    """True when the quote, cut at each "…", appears in the document piece by piece, in order."""
    position = 0
    for piece in (normal(p) for p in quote.split("…") if p):
        position = document.find(piece, position)
        if position < 0:
            return False
        position += len(piece)
    return True


def card_texts(topic) -> list[tuple[str, str]]:
    """(field, Chinese text) of everything a card shows."""
    texts = [("title", topic.title.zh), ("summary", topic.summary.zh), ("answer", topic.answer.zh)]
    for i, path in enumerate(topic.official_paths):
        texts += [(f"official_paths[{i}].name", path.name.zh), (f"official_paths[{i}].how", path.how.zh)]
    texts += [(f"warnings[{i}]", w.zh) for i, w in enumerate(topic.warnings)]
    # The answer-first lines, and any other text field a topic carries, are checked too.
    for name, value in vars(topic).items():
        if isinstance(value, Localized) and name not in ("title", "summary", "answer"):
            texts.append((name, value.zh))
    texts += [(f"situations.{s.id}.first", s.first.zh) for s in getattr(topic, "situations", ())]
    return texts


@pytest.fixture(scope="module")
def seeds() -> dict[str, str]:
    return {name: normal((SEEDS / name).read_text(encoding="utf-8")) for name in SEEDS_NAMES}


def test_the_seed_copies_are_complete(seeds):
    assert all(len(text) > 1000 for text in seeds.values())


def test_every_quote_in_a_card_is_in_a_document_it_cites(kb, seeds):
    labels = {normal(label) for label in kb.app_labels}
    quotes = 0
    for topic in kb.topics.values():
        cited = [seeds[s.seed] for s in topic.sources if s.seed]
        for field, text in card_texts(topic):
            for quote in QUOTE.findall(text):
                quotes += 1
                assert normal(quote) in labels or any(found_in(quote, doc) for doc in cited), (
                    f"{topic.id} {field}: 「{quote}」 is in none of the documents the card cites "
                    "and is not an app label of traditional.yaml"
                )
    assert quotes >= 30  # the cards do quote: the test above ran on real quotes


def test_interface_strings_quote_only_source_documents_or_app_labels(kb, seeds):
    labels = {normal(label) for label in kb.app_labels}
    for key, value in kb.ui.items():
        for quote in QUOTE.findall(value.zh):
            if re.fullmatch(r"\{\w+\}", quote):
                continue  # a placeholder the code fills in (a card's title), not a quote
            assert normal(quote) in labels or any(found_in(quote, doc) for doc in seeds.values()), (key, quote)


def test_every_app_label_is_quoted_somewhere_and_is_in_no_source(kb, seeds):
    # A label no card quotes is stale; one a source holds belongs to that source, not to the list.
    quoted = {normal(q) for t in kb.topics.values() for _, text in card_texts(t) for q in QUOTE.findall(text)}
    for label in kb.app_labels:
        assert normal(label) in quoted, label


def test_a_made_up_quote_is_caught(seeds):
    # The phrase issue 16 found in quotation marks: a back-translation of seed 002's English.
    assert not found_in("地推扫码团队", seeds["002_ff2be91e198cea24.txt"])
    assert found_in("该微信号因涉及欺诈…部际联席会议办公室通报封停", seeds["004_a421fbdad60e18e3.txt"])
    assert not found_in("部际联席会议办公室通报封停…该微信号因涉及欺诈", seeds["004_a421fbdad60e18e3.txt"])

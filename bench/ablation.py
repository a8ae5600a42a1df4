"""What each part of the matcher adds: the whole pipeline, then one row per signal removed.

Each row rebuilds the matcher without one signal (the classifier retrained
on what is left) and measures in-scope top-1 and out-of-scope
rejection on the labelled sets and by 5-fold cross-validation. The sets were
tuned on, so the absolute figures flatter; the differences between rows are
what this prints for. Run: .venv/bin/python bench/ablation.py
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.evaluate import crossvalidate, evaluate, load_cases  # noqa: E402
from bot.knowledge import KnowledgeBase, load_knowledge  # noqa: E402
from bot.matcher import Matcher, MatchSettings  # noqa: E402
from bot.text import SynonymTable, TextNormaliser  # noqa: E402

SETS = [
    ROOT / "tests" / "data" / "validation.yaml",
    ROOT / "bench" / "data" / "holdout-questions.yaml",
    ROOT / "bench" / "data" / "blind" / "questions-everyday.yaml",
    ROOT / "bench" / "data" / "blind" / "questions-stories.yaml",
]


def row(name: str, kb: KnowledgeBase, normaliser: TextNormaliser, settings: MatchSettings) -> None:
    matcher = Matcher(kb, normaliser, settings)
    cells = []
    for path in SETS:
        report = evaluate(matcher, load_cases(path))
        cells.append(f"{report.top1_rate:.1%} / {report.rejection_rate:.1%}")
    cv = crossvalidate(kb, normaliser, 5, settings)
    cells.append(f"{cv.top1_rate:.1%} / {cv.rejection_rate:.1%}")
    print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    kb = load_knowledge()
    normaliser = TextNormaliser(kb.synonyms, kb.userdict)
    settings = MatchSettings()
    print("| signals | " + " | ".join(p.name for p in SETS) + " | 5-fold cross-validation |")
    print("| --- |" + " --- |" * (len(SETS) + 1))
    row("whole pipeline", kb, normaliser, settings)
    row("− `requires`", kb, normaliser, dataclasses.replace(settings, requires_penalty=1.0))
    row("− typo repair of English words (rapidfuzz)", kb, normaliser, dataclasses.replace(settings, typo_cutoff=100.0))
    no_keywords = dataclasses.replace(kb, topics={
        t.id: dataclasses.replace(t, keywords=()) for t in kb.topics.values()})
    row("− keywords as training texts", no_keywords, normaliser, settings)
    bare = TextNormaliser(SynonymTable({}, kb.synonyms.stopwords, {}), kb.userdict,
                          cache_dir=Path(tempfile.mkdtemp(prefix="ablation-")))
    row("− synonyms and Cantonese (synonyms.yaml)", kb, bare, settings)
    no_dialect = TextNormaliser(dataclasses.replace(kb.synonyms, dialect={}), kb.userdict,
                                cache_dir=Path(tempfile.mkdtemp(prefix="ablation-")))
    row("− Cantonese only (synonyms.yaml `dialect`)", kb, no_dialect, settings)
    no_pinyin = TextNormaliser(kb.synonyms, kb.userdict, cache_dir=Path(tempfile.mkdtemp(prefix="ablation-")),
                               pinyin=False)
    row("− pinyin (syllable features and typed pinyin read as words)", kb, no_pinyin, settings)
    empty_dict = Path(tempfile.mkdtemp(prefix="ablation-")) / "userdict.txt"
    empty_dict.write_text("", encoding="utf-8")
    plain_jieba = TextNormaliser(kb.synonyms, empty_dict, cache_dir=empty_dict.parent)
    row("− domain dictionary (userdict.txt)", kb, plain_jieba, settings)


if __name__ == "__main__":
    main()

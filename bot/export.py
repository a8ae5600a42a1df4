"""The knowledge base as open data: a training set others can use, and the cards as JSON.

`python -m bot export --format jsonl|csv --out DIR` writes the phrasings (with
topic and situation), the out-of-scope questions and the labelled messages, and
a dataset card (README.md) naming the fields, the counts, the licence and how
the data was made. `GET /api/kb` serves `cards_json()`. Everything comes from the
knowledge folder alone: nothing a user asked is exported unless a curator
added it to the knowledge base.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from . import languages
from .knowledge import KnowledgeBase, Localized

FORMATS = ("jsonl", "csv")
LICENCE = "MIT"

# (file stem, field names, what each field means) of every table; the dataset card prints the same.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "phrasings": (
        ("text", "a way people ask about the topic, as they would type it"),
        ("topic", "the topic id (knowledge/topics/<id>.yaml) that answers it"),
        ("situation", "who asks, at what stage (an id listed under Situations in this card); empty: the topic's general reader"),
        ("lang", "the language and script of the text: zh (Simplified), zh-Hant (Traditional), zh-HK (Cantonese), en"),
    ),
    "out_of_scope": (
        ("text", "a question the bot must not answer with any topic (everyday app how-tos, near misses, chit-chat)"),
        ("lang", "as in phrasings"),
    ),
    "messages": (
        ("text", "a forwarded or pasted ad, direct message or notice (line breaks kept)"),
        ("topic", "the topic whose card explains its risk; empty: harmless (warnings, news, rules posts, everyday talk)"),
        ("lang", "as in phrasings"),
    ),
}


@dataclass(frozen=True)
class Dataset:
    """The rows of every table, in the knowledge base's order."""

    phrasings: list[dict]
    out_of_scope: list[dict]
    messages: list[dict]

    def tables(self) -> dict[str, list[dict]]:
        return {"phrasings": self.phrasings, "out_of_scope": self.out_of_scope, "messages": self.messages}


def dataset(kb: KnowledgeBase) -> Dataset:
    """The training data of the knowledge base, as rows."""
    phrasings = []
    for topic in kb.topics.values():
        phrasings += [{"text": q, "topic": topic.id, "situation": None, "lang": languages.detect(q)}
                      for q in topic.questions]
        for situation in topic.situations:
            phrasings += [{"text": q, "topic": topic.id, "situation": situation.id, "lang": languages.detect(q)}
                          for q in situation.questions]
    out_of_scope = [{"text": q, "lang": languages.detect(q)} for q in kb.out_of_scope]
    messages = [{"text": m.text, "topic": m.topic, "lang": languages.detect(m.text)} for m in kb.messages]
    return Dataset(phrasings, out_of_scope, messages)


def write_jsonl(rows: Iterable[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def write_csv(rows: Iterable[dict], fields: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in fields})
    return buffer.getvalue()


def export(kb: KnowledgeBase, out: Path, fmt: str, version: str = "") -> dict[str, int]:
    """Write every table and the dataset card into `out`; the number of rows of each table."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}")
    data = dataset(kb)
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, rows in data.tables().items():
        fields = [f for f, _ in TABLES[name]]
        text = write_jsonl(rows) if fmt == "jsonl" else write_csv(rows, fields)
        (out / f"{name}.{fmt}").write_text(text, encoding="utf-8", newline="")
        counts[name] = len(rows)
    (out / "README.md").write_text(dataset_card(kb, data, fmt, version), encoding="utf-8")
    return counts


def dataset_card(kb: KnowledgeBase, data: Dataset, fmt: str, version: str = "") -> str:
    """README.md of an export: what is in it, how many, under which licence, and how it was made."""
    lines = [
        "# Account-safety questions and scam messages (Chinese and English)",
        "",
        "Training and evaluation data for classifying questions about banned WeChat and QQ",
        "accounts, paid \"unsealing\", selling SIM cards or accounts and similar scams into",
        f"{len(kb.topics)} advice topics (with an out-of-scope class), and forwarded messages into",
        "scam types or harmless. Exported from the knowledge base of account-safety-bot"
        + (f" (content version `{version}`)." if version else "."),
        "",
        "## Files",
        "",
    ]
    for name, fields in TABLES.items():
        lines += [f"### `{name}.{fmt}` ({len(data.tables()[name]):,} rows)", "",
                  "| field | meaning |", "| --- | --- |"]
        lines += [f"| `{field}` | {meaning} |" for field, meaning in fields]
        lines.append("")
    lines += [
        "JSONL: one JSON object per line, UTF-8; an empty value is `null`."
        if fmt == "jsonl" else
        "CSV: UTF-8 (no byte-order mark), a header row, fields quoted where needed (texts may hold line breaks); an empty value is an empty field.",
        "",
        "## Counts",
        "",
        "| topic | title | phrasings | of them in a situation | labelled messages |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    by_topic = Counter(row["topic"] for row in data.phrasings)
    situated = Counter(row["topic"] for row in data.phrasings if row["situation"])
    messages = Counter(row["topic"] for row in data.messages)
    for topic in kb.topics.values():
        lines.append(f"| `{topic.id}` | {topic.title.en} | {by_topic[topic.id]} | {situated[topic.id]} | "
                     f"{messages[topic.id]} |")
    lines += [
        f"| (none) | harmless | | | {messages[None]} |",
        "",
        f"Out-of-scope questions: {len(data.out_of_scope):,}.",
        "",
        "Languages (`lang`): " + "; ".join(
            f"{name} " + ", ".join(f"{code} {n}" for code, n in Counter(r['lang'] for r in rows).most_common())
            for name, rows in data.tables().items()) + ".",
        "",
        "Situations (`situation`): " + "; ".join(
            f"`{kind.id}` ({kind.label.en}, {sum(1 for r in data.phrasings if r['situation'] == kind.id)})"
            for kind in kb.situation_kinds.values()) + ".",
        "",
        "## How it was made",
        "",
        "- Written by the project's curators, topic by topic, from published announcements of",
        "  the WeChat Security Center and police notices (each topic's card cites its sources),",
        "  and well-established public facts (110, 96110). The phrasings cover how people",
        "  actually ask: colloquial and short, long stories, typing and speech errors, slang,",
        "  Simplified and Traditional Chinese (Taiwan and Hong Kong wording, written Cantonese)",
        "  and English. The out-of-scope questions are near misses on purpose (everyday app",
        "  how-tos, other platforms, the same words in another sense).",
        "- The labelled messages are ads, direct messages and notices of the kinds the",
        "  announcements describe, as the curators wrote or collected them, each labelled with",
        "  the topic whose card explains its risk, or as harmless (warnings, news, group rules,",
        "  everyday talk that quotes the same words); one is added whenever the checker gets a",
        "  message wrong.",
        "- Nothing here comes from a user's question unless a curator reviewed it, masked as",
        "  it was stored (no phone, ID, bank-card, QQ numbers or e-mail addresses), and added it",
        "  to the knowledge base. The bot's own logs and database are never read by the export.",
        "- The sets the project measures itself on (`bench/data/blind/`) are not included:",
        "  they were written apart from this data, to measure the bot fairly; keep your own test",
        "  set apart from these files too.",
        "",
        "## Licence",
        "",
        f"{LICENCE}, like the repository it comes from (see its `LICENSE` file): use, copy, modify",
        "and redistribute, keeping the copyright notice. Topic ids are stable: a topic, once",
        "published, keeps its id.",
        "",
        "## Reproduce",
        "",
        f"`python -m bot export --format {fmt} --out DIR` in a checkout of the repository.",
        "",
    ]
    return "\n".join(lines)


# -- the cards as JSON (GET /api/kb) ------------------------------------------------------


def _text(value: Localized, lang: str | None):
    return value.get(lang) if lang else {"zh": value.zh, "en": value.en}


def cards_json(kb: KnowledgeBase, version: str = "", lang: str | None = None,
               link=lambda topic_id: f"/t/{topic_id}") -> dict:
    """Every card of the knowledge base: each text as {zh, en}, or in `lang` (any code of bot.languages)."""
    kinds = kb.situation_kinds
    topics = []
    for t in kb.topics.values():
        topics.append({
            "id": t.id,
            "theme": t.theme,
            "url": link(t.id),
            "title": _text(t.title, lang),
            "summary": _text(t.summary, lang),
            "first": _text(t.first, lang),
            "answer": _text(t.answer, lang),
            "official_paths": [{"name": _text(p.name, lang), "how": _text(p.how, lang), "platform": p.platform}
                               for p in t.official_paths],
            "warnings": [_text(w, lang) for w in t.warnings],
            "sources": [_text(s.citation, lang) for s in t.sources],
            "related": list(t.related),
            "situations": [{"id": s.id, "label": _text(kinds[s.id].label, lang) if s.id in kinds else None,
                            "first": _text(s.first, lang)} for s in t.situations],
        })
    return {
        "version": version,
        "lang": lang,
        "licence": LICENCE,
        "themes": [{"id": th.id, "title": _text(th.title, lang)} for th in kb.themes],
        "topics": topics,
    }

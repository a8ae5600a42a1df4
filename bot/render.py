"""A topic, a suggestion list or a no-answer as plain text or Telegram HTML.

Shared by the terminal, the bot and WeChat. Every knowledge-base string that goes
into HTML passes through html.escape; messages are split to fit Telegram's limit;
the short plain-text forms are cut to a byte limit (WeChat's 2,048 bytes).
"""

from __future__ import annotations

import html

from typing import TYPE_CHECKING

from .knowledge import PATH_PLATFORMS, Fallback, KnowledgeBase, OfficialPath, Topic

if TYPE_CHECKING:
    from .checker import Verdict
    from .conversation import Checklist, Pictured, Reply
    from .matcher import Match
    from .reading import LinkFact

TELEGRAM_LIMIT = 4096


def match_first(kb: KnowledgeBase, match: "Match", lang: str) -> str:
    """The opening lines of the reply to a question: the direct answer for that asker, in `lang`.

    An answer opens with its situation's first lines (or the topic's general
    ones); a suggestion with the likeliest topic's, marked as a guess; a
    no-answer with the honest fallback that applies, or the plain no-answer and 110 / 96110.
    """
    topic = kb.topics.get(match.topic) if match.topic and match.decision != "none" else None
    if topic is None:
        fallback = kb.fallbacks.get(match.fallback)
        return fallback.first.get(lang) if fallback else kb.text("no_answer_first", lang)
    first = topic.first_lines(match.situation).get(lang)
    if match.decision == "suggest":
        return kb.text("first_suggest", lang).replace("{title}", topic.title.get(lang)).replace("{first}", first)
    return first


def reply_first(kb: KnowledgeBase, reply: "Reply") -> str:
    """The opening lines of any reply of the conversation: what a person reads before anything else."""
    from .conversation import Card, Checked, Checklist, ChecklistQuestion, Choices, NoAnswer, Notice

    if isinstance(reply, Card):
        return reply.topic.first_lines(reply.situation).get(reply.lang)
    if isinstance(reply, Choices):
        if not reply.topics:
            return kb.text("did_you_mean", reply.lang)
        top = reply.topics[0]
        return (kb.text("first_suggest", reply.lang).replace("{title}", top.title.get(reply.lang))
                .replace("{first}", top.first_lines(reply.situation).get(reply.lang)))
    if isinstance(reply, NoAnswer):
        return reply.fallback.first.get(reply.lang) if reply.fallback else kb.text("no_answer_first", reply.lang)
    if isinstance(reply, Checked):
        parts = _verdict_parts(kb, reply.verdict, reply.lang)
        return "\n".join(p for p in (parts["headline"], parts["advice"]) if p)
    if isinstance(reply, Checklist):
        return kb.text("banned_first", reply.lang)
    if isinstance(reply, ChecklistQuestion):
        return kb.text("banned_ask_platform" if reply.step == "platform" else "banned_ask_notice", reply.lang)
    if isinstance(reply, Notice):
        return kb.text(reply.key, reply.lang).split("\n", 1)[0]
    raise TypeError(f"not a reply: {reply!r}")


def render_card_text(kb: KnowledgeBase, topic: Topic, lang: str) -> str:
    """The whole topic card as plain text, for the terminal."""
    lines = [f"【{topic.title.get(lang)}】", "", topic.answer.get(lang).strip()]
    lines += ["", kb.text("official_paths", lang) + ":"]
    lines += [f"  • {p.name.get(lang)}: {p.how.get(lang)}" for p in topic.official_paths]
    if topic.warnings:
        lines += ["", kb.text("warnings", lang) + ":"]
        lines += [f"  ⚠ {w.get(lang)}" for w in topic.warnings]
    lines += ["", kb.text("sources", lang) + ": " + "; ".join(source_lines(topic, lang))]
    if topic.related:
        titles = [f"{kb.topics[r].title.get(lang)} ({r})" for r in topic.related if r in kb.topics]
        lines += [kb.text("related", lang) + ": " + ", ".join(titles)]
    return "\n".join(lines)


def source_lines(topic: Topic, lang: str) -> list[str]:
    """The card's sources as users read them, in `lang`; the same document cited twice is named once."""
    return list(dict.fromkeys(s.citation.get(lang) for s in topic.sources))


def render_none_text(kb: KnowledgeBase, lang: str, fallback: "Fallback | None" = None) -> str:
    """The honest no-answer: the fallback's steps when one applies, what the bot covers, and the general fraud channels."""
    lines = [fallback.answer.get(lang), ""] if fallback else []
    lines += [kb.text("no_answer_scope", lang), "", kb.text("topic_list", lang)]
    lines += [f"  • {t.title.get(lang)} ({t.id})" for t in kb.topics.values()]
    lines += ["", kb.text("general_channels", lang)]
    return "\n".join(lines)


def render_suggest_text(kb: KnowledgeBase, topic_ids: list[str], lang: str) -> str:
    lines = [kb.text("did_you_mean", lang)]
    lines += [f"  • {kb.topics[t].title.get(lang)} ({t})" for t in topic_ids if t in kb.topics]
    return "\n".join(lines)


def render_card_html(kb: KnowledgeBase, topic: Topic, lang: str, share_link: str | None = None,
                     first: str | None = None) -> list[str]:
    """The whole topic card as Telegram HTML, split into messages under the limit; `first` lines open it."""
    e = html.escape
    parts = [f"<b>{e(first)}</b>"] if first else []
    parts += [f"<b>{e(topic.title.get(lang))}</b>", e(topic.answer.get(lang).strip())]
    paths = "\n".join(f"• <b>{e(p.name.get(lang))}</b>: {e(p.how.get(lang))}" for p in topic.official_paths)
    parts.append(f"<b>{e(kb.text('official_paths', lang))}</b>\n{paths}")
    if topic.warnings:
        warns = "\n".join(f"⚠️ {e(w.get(lang))}" for w in topic.warnings)
        parts.append(f"<b>{e(kb.text('warnings', lang))}</b>\n{warns}")
    sources = "; ".join(e(line) for line in source_lines(topic, lang))
    parts.append(f"<i>{e(kb.text('sources', lang))}: {sources}</i>")
    if share_link:
        parts.append(f'🔗 <a href="{e(share_link, quote=True)}">{e(share_link)}</a>')
    return split_html_blocks(parts)


def short_paths(topic: Topic, at_least: int = 1) -> list[OfficialPath]:
    """The official paths a short card shows: each app's first (an `any` path serves every app), in card order.

    A short card (a WeChat reply, a text message) reaches WeChat and QQ users
    alike: a card whose first path is a WeChat menu also shows its first QQ
    path. Topped up in card order to `at_least` paths.
    """
    apps = {p for p in PATH_PLATFORMS if p != "any"}
    chosen: list[OfficialPath] = []
    covered: set[str] = set()
    for path in topic.official_paths:
        serves = apps if path.platform == "any" else {path.platform}
        if not serves <= covered:
            chosen.append(path)
            covered |= serves
    for path in topic.official_paths:
        if len(chosen) >= at_least:
            break
        if path not in chosen:
            chosen.append(path)
    return sorted(chosen, key=topic.official_paths.index)


def render_card_short_html(kb: KnowledgeBase, topic: Topic, lang: str, more_link: str | None, more_label: str,
                           situation: str | None = None) -> str:
    """A short card for groups: the asker's first lines, the title, the first warning, a link to the full card."""
    e = html.escape
    text = f"<b>{e(topic.first_lines(situation).get(lang))}</b>\n\n📌 {e(topic.title.get(lang))}"
    if topic.warnings:
        text += f"\n⚠️ {e(topic.warnings[0].get(lang))}"
    if more_link:
        text += f'\n\n<a href="{e(more_link, quote=True)}">{e(more_label)}</a>'
    return text


def match_json(kb: KnowledgeBase, match: "Match", lang: str | None) -> dict:
    """The JSON object of one question: `ask --json` and the web API's /api/ask."""
    answer_lang = lang or match.lang
    topic = kb.topics.get(match.topic) if match.topic else None
    fallback = kb.fallbacks.get(match.fallback) if topic is None else None
    if topic:
        answer = topic.answer.get(answer_lang)
    else:
        answer = (fallback.answer.get(answer_lang) + "\n\n" if fallback else "") + kb.text("no_answer", answer_lang)
    return {
        "topic": match.topic,
        "decision": match.decision,
        "situation": match.situation if topic else None,
        "first": match_first(kb, match, answer_lang),
        "score": match.score,
        "title": topic.title.get(answer_lang) if topic else None,
        "answer": answer,
        "alternatives": [{"topic": a.topic, "score": a.score} for a in match.alternatives],
        "lang": answer_lang,
    }


MAX_TRIGGER = 80  # characters of a quoted trigger: enough to recognise, short enough for a phone


def _verdict_parts(kb: KnowledgeBase, verdict: "Verdict", lang: str) -> dict:
    """What a verdict says, in one language; the text and HTML renderings format the same parts."""
    learned = None
    if verdict.learned_only and verdict.learned is not None:
        learned = kb.text("check_learned", lang).replace("{title}", kb.topics[verdict.learned.topic].title.get(lang))
    step = verdict.next_step
    return {
        "headline": kb.text(f"check_{verdict.risk}", lang),
        "context": kb.text(f"check_context_{verdict.context}", lang) if verdict.context != "ad" else None,
        "flags": [(f.label.get(lang), f.trigger[:MAX_TRIGGER]) for f in verdict.flags],
        "learned": learned,
        "advice": step.advice.get(lang) if step else None,
        "channels": [(p.name.get(lang), p.how.get(lang)) for p in step.channels] if step else [],
    }


def render_verdict_html(kb: KnowledgeBase, verdict: "Verdict", lang: str) -> str:
    """A checked message's verdict as Telegram HTML (the topic cards are offered as buttons)."""
    e = html.escape
    parts = _verdict_parts(kb, verdict, lang)
    lines = [e(parts["headline"])]
    if parts["context"]:
        lines.append(e(parts["context"]))
    if parts["flags"]:
        lines += ["", f"<b>{e(kb.text('check_flags', lang))}</b>"]
        lines += [f"• {e(label)}: “<code>{e(trigger)}</code>”" for label, trigger in parts["flags"]]
    if parts["learned"]:
        lines += ["", e(parts["learned"])]
    if parts["advice"]:
        lines += ["", f"<b>{e(kb.text('check_next', lang))}</b>: {e(parts['advice'])}"]
    if parts["channels"]:
        lines += [f"• <b>{e(name)}</b>: {e(how)}" for name, how in parts["channels"]]
    return "\n".join(lines)


def render_checklist_text(kb: KnowledgeBase, checklist: "Checklist") -> str:
    """The /banned checklist as plain text (terminal, WeChat)."""
    lang = checklist.lang
    blocks = [kb.text("banned_checklist", lang)]
    for item in checklist.items:
        lines = [f"【{item.heading}】", item.topic.summary.get(lang)]
        lines += [f"  • {p.name.get(lang)}: {p.how.get(lang)}" for p in item.paths]
        if item.note:
            lines.append(item.note)
        blocks.append("\n".join(lines))
    blocks.append(f"【{checklist.reason_heading}】\n{checklist.reason_text}")
    return "\n\n".join(blocks)


def render_checklist_html(kb: KnowledgeBase, checklist: "Checklist") -> str:
    """The /banned checklist as Telegram HTML (its topics are offered as buttons)."""
    e = html.escape
    lang = checklist.lang
    parts = [f"<b>{e(kb.text('banned_checklist', lang))}</b>"]
    for item in checklist.items:
        lines = [f"<b>{e(item.heading)}</b>", e(item.topic.summary.get(lang))]
        lines += [f"• {e(p.name.get(lang))}: {e(p.how.get(lang))}" for p in item.paths]
        if item.note:
            lines.append(f"<i>{e(item.note)}</i>")
        parts.append("\n".join(lines))
    parts.append(f"<b>{e(checklist.reason_heading)}</b>\n{e(checklist.reason_text)}")
    return "\n\n".join(parts)


def render_reply_text(kb: KnowledgeBase, reply: "Reply") -> str:
    """Any reply of the conversation as plain text, choices numbered (the terminal chat)."""
    from .conversation import Card, Checked, Checklist, ChecklistQuestion, Choices, NoAnswer, Notice, Pictured

    if isinstance(reply, Pictured):
        return render_picture_text(kb, reply, render_reply_text(kb, reply.reply))
    if isinstance(reply, Card):
        text = reply_first(kb, reply) + "\n\n" + render_card_text(kb, reply.topic, reply.lang)
        return text + ("\n\n" + kb.text("banned_start", reply.lang) + ": /banned" if reply.offers_checklist else "")
    if isinstance(reply, Choices):
        lines = [reply_first(kb, reply), "", kb.text("did_you_mean", reply.lang)]
        lines += [f"  {i}. {t.title.get(reply.lang)} ({t.id})" for i, t in enumerate(reply.topics, 1)]
        return "\n".join(lines)
    if isinstance(reply, NoAnswer):
        return reply_first(kb, reply) + "\n\n" + render_none_text(kb, reply.lang, reply.fallback)
    if isinstance(reply, Checked):
        links = render_links_text(kb, reply.links, reply.lang)
        return render_verdict_text(kb, reply.verdict, reply.lang) + (f"\n\n{links}" if links else "")
    if isinstance(reply, ChecklistQuestion):
        question = kb.text("banned_ask_platform" if reply.step == "platform" else "banned_ask_notice", reply.lang)
        if reply.step == "platform":
            question += kb.text("banned_cancel_hint", reply.lang)
        return "\n".join([question] + [f"  {i}. {label}" for i, (_, label) in enumerate(reply.options, 1)])
    if isinstance(reply, Checklist):
        return reply_first(kb, reply) + "\n\n" + render_checklist_text(kb, reply)
    if isinstance(reply, Notice):
        return kb.text(reply.key, reply.lang)
    raise TypeError(f"not a reply: {reply!r}")


# -- short plain text, for channels without buttons or HTML (WeChat, text messages) --------


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def cut_utf8(text: str, limit: int) -> str:
    """The longest start of `text` that is at most `limit` bytes of UTF-8, never ending mid-character."""
    return text.encode("utf-8")[:max(limit, 0)].decode("utf-8", errors="ignore")


def fit_utf8(text: str, limit: int, tail: str = "") -> str:
    """`text`, then `tail` on its own line, in at most `limit` bytes of UTF-8.

    What does not fit is cut from the end of `text` at a line break (and "…"
    marks the cut), so the tail (a link, the next step) always survives; only
    a first line longer than the room is cut inside the line.
    """
    sep = "\n" if text and tail else ""
    if utf8_len(text) + len(sep) + utf8_len(tail) <= limit:
        return text + sep + tail
    if utf8_len(tail) + len(sep) >= limit:
        return cut_utf8(tail, limit)
    room = limit - utf8_len(tail) - len(sep) - utf8_len("\n…")
    kept: list[str] = []
    used = 0
    for line in text.split("\n"):
        cost = utf8_len(line) + (1 if kept else 0)
        if used + cost > room:
            break
        kept.append(line)
        used += cost
    while kept and not kept[-1].strip():
        kept.pop()
    if not kept:
        kept = [cut_utf8(text.split("\n", 1)[0], room)]
    return "\n".join(kept) + "\n…" + sep + tail


def render_card_short_text(kb: KnowledgeBase, topic: Topic, lang: str, link: str | None = None,
                           footer: tuple[str, ...] = (), limit: int | None = None, paths: int = 2,
                           situation: str | None = None) -> str:
    """A short card as plain text: the asker's first lines, the title, each app's first official channel, a warning,
    a link to the full card.

    `footer` lines (a channel's hint) come before the link; with `limit`, the
    card is cut to fit in that many bytes of UTF-8, keeping the footer and link.
    """
    lines = [topic.first_lines(situation).get(lang), "", f"【{topic.title.get(lang)}】"]
    if topic.official_paths:
        lines += ["", kb.text("official_paths", lang) + ":"]
        lines += [f"• {p.name.get(lang)}: {p.how.get(lang)}" for p in short_paths(topic, paths)]
    if topic.warnings:
        lines.append(f"⚠ {topic.warnings[0].get(lang)}")
    tail = ["", *footer]
    if link:
        tail.append(f"{kb.text('full_answer', lang)}: {link}")
    return _joined(lines, tail, limit)


def render_numbered_text(kb: KnowledgeBase, question: str, labels: list[str], lang: str) -> str:
    """A question and its options numbered from 1, for channels where a bare number answers it."""
    lines = [question] + [f"{i}. {label}" for i, label in enumerate(labels, 1)]
    return "\n".join(lines + [kb.text("reply_with_number", lang)])


def render_topic_list_text(kb: KnowledgeBase, lang: str) -> str:
    """Every topic's title, theme by theme, numbered in the order of kb.topics (a number opens it)."""
    blocks = []
    number = {t: i for i, t in enumerate(kb.topics, 1)}
    for theme in kb.themes:
        topics = kb.topics_in_theme(theme.id)
        if topics:
            blocks.append("\n".join([theme.title.get(lang)] + [f"{number[t.id]}. {t.title.get(lang)}" for t in topics]))
    return "\n".join(blocks)


def render_none_short_text(kb: KnowledgeBase, lang: str, hint: str | None = None,
                           fallback: Fallback | None = None) -> str:
    """The honest no-answer without the topic list: the fallback's first lines and steps when one applies,
    what the bot covers, a hint, and 110 / 96110."""
    lines = [fallback.first.get(lang), "", fallback.answer.get(lang), ""] if fallback else [kb.text("no_answer_first", lang)]
    lines += [kb.text("no_answer_scope", lang)]
    if hint:
        lines.append(hint)
    return "\n".join(lines + ["", kb.text("general_channels", lang)])


def render_verdict_text(kb: KnowledgeBase, verdict: "Verdict", lang: str, link: str | None = None,
                        limit: int | None = None, flags: int | None = None, channels: int | None = None,
                        related: bool = True) -> str:
    """A verdict as plain text: headline, the red flags, the next step and where to report.

    The terminal shows it whole; WeChat asks for `flags` and `channels` at most
    (the strongest first), a `link` to the full card and a byte `limit`, under
    which the flags are cut before the next step is.
    """
    parts = _verdict_parts(kb, verdict, lang)
    lines = [parts["headline"]]
    if parts["context"]:
        lines.append(parts["context"])
    if parts["flags"]:
        lines.append(kb.text("check_flags", lang))
        lines += [f"⚠ {label}: “{trigger}”" for label, trigger in parts["flags"][:flags]]
    if parts["learned"]:
        lines.append(parts["learned"])
    tail = []
    if parts["advice"]:
        tail += ["", f"{kb.text('check_next', lang)}: {parts['advice']}"]
    if parts["channels"]:
        tail.append(kb.text("check_channels", lang) + ":")
        tail += [f"• {name}: {how}" for name, how in parts["channels"][:channels]]
    if related and verdict.topics:
        tail.append(kb.text("related", lang) + ": " + ", ".join(f"{kb.topics[t].title.get(lang)} ({t})" for t in verdict.topics))
    if link:
        tail.append(f"{kb.text('full_answer', lang)}: {link}")
    return _joined(lines, tail, limit)


def render_checklist_short_text(kb: KnowledgeBase, checklist: "Checklist", link_base: str | None = None,
                                limit: int | None = None) -> str:
    """The /banned checklist compactly: each step with its channels (or its gist), the reason, links to the cards."""
    lang = checklist.lang
    # The first lines announce the checklist, so the short form has no heading of its own (WeChat's bytes).
    lines = [kb.text("banned_first", lang)]
    for item in checklist.items:
        lines.append(f"【{item.heading}】")
        if item.paths:
            lines += [f"• {p.name.get(lang)}: {p.how.get(lang)}" for p in item.paths]
        else:
            lines.append(item.note or item.topic.summary.get(lang))
    lines += [f"【{checklist.reason_heading}】", checklist.reason_text]
    tail = []
    if link_base:
        tail.append(kb.text("full_answer", lang) + ":")
        tail += [f"• {t.title.get(lang)}: {link_base}/t/{t.id}?lang={lang}" for t in checklist.topics[:3]]
    return _joined(lines, tail, limit)


def _joined(lines: list[str], tail: list[str], limit: int | None) -> str:
    text, end = "\n".join(lines), "\n".join(tail) if any(tail) else ""
    if limit is not None:
        return fit_utf8(text, limit, end)
    return f"{text}\n{end}" if end else text


def split_html_blocks(blocks: list[str], limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Join blocks with blank lines into as few messages as fit under `limit`.

    Blocks are self-contained HTML (every tag closed inside its block), so any
    split between blocks is valid; a single over-long block is cut at a line
    break of its plain text, which the card's answer limit makes sufficient.
    """
    messages: list[str] = []
    current = ""
    for block in blocks:
        for piece in _cut_block(block, limit):
            candidate = f"{current}\n\n{piece}" if current else piece
            if len(candidate) <= limit:
                current = candidate
            else:
                messages.append(current)
                current = piece
    if current:
        messages.append(current)
    return messages


def _cut_block(block: str, limit: int) -> list[str]:
    if len(block) <= limit:
        return [block]
    pieces, current = [], ""
    for line in block.split("\n"):
        while len(line) > limit:
            # A line longer than a message holds no tags worth keeping whole (answers are plain text).
            cut = line[:limit]
            amp = cut.rfind("&")
            if amp > limit - 10:  # do not split an entity such as &amp;
                cut = cut[:amp]
            pieces.append(cut)
            line = line[len(cut):]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
        else:
            pieces.append(current)
            current = line
    if current:
        pieces.append(current)
    return pieces


# -- pictures: what was read, the codes and links explained, then the reply ------------------


def link_line(kb: KnowledgeBase, fact: "LinkFact", lang: str) -> str:
    """One address or QR payload, explained in a line: official, disguised, a payment code…"""
    values = {"host": fact.host or "", "domain": fact.domain or "", "imitates": fact.imitates or "",
              "name": fact.name.get(lang) if fact.name else "", "text": fact.data[:MAX_TRIGGER]}
    if fact.kind in ("payment", "group", "contact", "text"):
        key = f"code_{fact.kind}"
    elif fact.official:
        key = "link_official"
    elif fact.warning is None and fact.name is not None:
        key = "link_owner"  # the company's own address, not a channel of the list: whoever published the page wrote it
    else:
        key = f"link_{fact.warning or 'other'}"
    text = kb.text(key, lang)
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def link_lines(kb: KnowledgeBase, links: tuple, lang: str) -> list[str]:
    """The QR codes, then the addresses of the text: one line each, a QR code's marked as such."""
    qr = kb.text("picture_qr", lang)
    sep = "" if qr.endswith("：") else " "
    return [f"{qr}{sep}{link_line(kb, f, lang)}" if f.in_qr else link_line(kb, f, lang) for f in links]


def render_picture_text(kb: KnowledgeBase, pictured: "Pictured", body: str) -> str:
    """A picture's reply as plain text: what was read, then `body` (the reply to it, rendered by the channel)."""
    lang = pictured.lang
    lines = []
    if pictured.text:
        lines.append(kb.text("picture_read", lang).replace("{text}", pictured.excerpt))
    return "\n".join(lines + ([""] if lines else []) + [body]) if body else "\n".join(lines)


def render_links_text(kb: KnowledgeBase, links: tuple, lang: str) -> str:
    """The links block of a verdict, plain text; empty when there are none."""
    if not links:
        return ""
    return "\n".join([kb.text("picture_links", lang) + ":"] + [f"• {line}" for line in link_lines(kb, links, lang)])


def render_links_html(kb: KnowledgeBase, links: tuple, lang: str) -> str:
    """The links block of a verdict as Telegram HTML; empty when there are none."""
    if not links:
        return ""
    e = html.escape
    return "\n".join([f"<b>{e(kb.text('picture_links', lang))}</b>"] + [f"• {e(line)}" for line in link_lines(kb, links, lang)])


def picture_json(kb: KnowledgeBase, pictured: "Pictured", ms: int) -> dict:
    """The JSON object of one picture: `image --json` and the web API's /api/image."""
    from .conversation import Card, Checked, Checklist, Choices

    reply = pictured.reply
    kind, topic, risk = "none", None, None
    if isinstance(reply, Card):
        kind, topic = "card", reply.topic.id
    elif isinstance(reply, Choices):
        kind, topic = "choices", reply.topics[0].id if reply.topics else None
    elif isinstance(reply, Checked):
        kind, risk = "verdict", reply.verdict.risk
        topic = reply.verdict.topics[0] if reply.verdict.topics else None
    elif isinstance(reply, Checklist):
        kind, topic = "checklist", reply.reason_topic.id
    return {
        "text": pictured.text,
        "qr": [{"data": f.data, "kind": f.kind, "domain": f.domain, "official": f.official} for f in pictured.codes],
        "reply": kind,
        "topic": topic,
        "risk": risk,
        "ms": ms,
        "lang": pictured.lang,
    }

"""Command line: ask, chat, image, eval, check, export (and run, web, stats for the services).

One place (main) maps the errors a user can cause to a one-line message and an
exit status; a bug still shows its traceback.
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
from pathlib import Path
from typing import Callable, TextIO

from . import languages
from .errors import UserError
from .knowledge import KnowledgeBase, KnowledgeError, load_knowledge
from .matcher import Match, load_matcher
from .render import match_first, match_json, render_card_text, render_none_text, render_suggest_text, render_verdict_text
from .utf8 import valid_argument


class ExitStatus(enum.IntEnum):
    OK = 0
    FAILED = 1  # a check or evaluation did not pass
    USAGE = 2  # bad input, config or knowledge base: the user can fix it


def read_lines(stream) -> list[str]:
    """Lines of standard input as text, whatever the bytes: invalid UTF-8 is replaced."""
    data = stream.buffer.read() if hasattr(stream, "buffer") else stream.read()
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="replace")
    return data.splitlines()


def match_as_text(kb: KnowledgeBase, match: Match, lang: str | None) -> str:
    """What a person reads for one question in the terminal."""
    answer_lang = lang or match.lang
    first = match_first(kb, match, answer_lang)
    if match.decision == "none" or match.topic is None:
        fallback = kb.fallbacks.get(match.fallback)
        return first + "\n\n" + render_none_text(kb, answer_lang, fallback)
    card = first + "\n\n" + render_card_text(kb, kb.topics[match.topic], answer_lang)
    if match.decision == "suggest":
        others = [a.topic for a in match.alternatives]
        return card + "\n\n" + render_suggest_text(kb, others, answer_lang)
    return card


def cmd_ask(args, out: TextIO) -> ExitStatus:
    matcher = load_matcher(args.kb)
    kb = matcher.kb
    questions = read_lines(sys.stdin) if args.question == "-" else [args.question]
    for question in questions:
        match = matcher.match_question(question)
        if args.json:
            out.write(json.dumps(match_json(kb, match, args.lang), ensure_ascii=False) + "\n")
        else:
            if not question.strip():
                out.write(kb.text("empty_question", args.lang or languages.DEFAULT) + "\n\n")
                continue
            out.write(match_as_text(kb, match, args.lang) + "\n\n")
    out.flush()
    return ExitStatus.OK


CHAT_HELP = (
    "账号安全助手 / Account-safety helper. Ask a question or paste a message you received.\n"
    "  topics: all topics (a topic id opens it)   /banned: step-by-step checklist if you are banned\n"
    "  /check TEXT: is this message a scam?   a number: answers the numbered question above\n"
    "  lang zh|zh-Hant|en|auto   quit\n"
)


def cmd_chat(args, out: TextIO, read: Callable[[str], str] = input) -> ExitStatus:
    """Interactive terminal session: the conversation every channel has, without a Telegram token."""
    import tempfile

    from .checker import MessageChecker
    from .conversation import Conversation
    from .render import render_reply_text
    from .store import Store

    matcher = load_matcher(args.kb)
    kb = matcher.kb
    out.write(CHAT_HELP)
    with tempfile.TemporaryDirectory(prefix="account-safety-chat-") as tmp:
        # This session's state (language, last card, checklist step) lives only as long as the session.
        store = Store(Path(tmp) / "chat.sqlite3")
        conversation = Conversation(matcher, MessageChecker(kb, matcher.normaliser), store)
        user = "terminal"
        if args.lang:
            conversation.set_language(user, args.lang)
        try:
            while True:
                try:
                    line = valid_argument(read("> ")).strip()
                except (EOFError, KeyboardInterrupt):
                    out.write("\n")
                    return ExitStatus.OK
                if not line:
                    continue
                command, _, rest = line.partition(" ")
                command = command.lower()
                if command in ("quit", "exit", "q", "/quit"):
                    return ExitStatus.OK
                lang = conversation.language(user)
                if command in ("topics", "/topics"):
                    out.write("\n".join(f"  {t.title.get(lang)} ({t.id})" for t in kb.topics.values()) + "\n")
                    continue
                if command in ("lang", "/lang"):
                    chosen = conversation.set_language(user, languages.normalize_code(rest))
                    out.write(f"language: {chosen if languages.normalize_code(rest) else 'auto'}\n")
                    continue
                if command in ("help", "/help"):
                    out.write(CHAT_HELP)
                    continue
                if command == "/banned":
                    reply = conversation.checklist_start(user)
                elif command == "/cancel":
                    reply = conversation.cancel(user)
                elif command == "/check":
                    reply = conversation.check(user, rest)
                elif line in kb.topics:
                    reply = conversation.open(user, line)
                else:
                    reply = conversation.receive(user, line)
                out.write(render_reply_text(kb, reply) + "\n")
        finally:
            store.close()


def cmd_check_message(args, out: TextIO) -> ExitStatus:
    from .checker import MessageChecker

    checker = MessageChecker(load_knowledge(args.kb))
    messages = read_lines(sys.stdin) if args.text == "-" else [args.text]
    for message in messages:
        # One message a line: a literal \n inside it stands for a line break.
        message = message.replace("\\n", "\n")
        verdict = checker.check_message(message)
        lang = args.lang or languages.detect(message)
        if args.json:
            out.write(json.dumps(verdict.as_json(lang), ensure_ascii=False) + "\n")
        else:
            out.write(render_verdict_text(checker.kb, verdict, lang) + "\n\n")
    out.flush()
    return ExitStatus.OK


def cmd_image(args, out: TextIO) -> ExitStatus:
    """Pictures: what each shows, and the reply to it; `-` reads one path per line, in one process."""
    import tempfile
    import time

    from .checker import MessageChecker
    from .conversation import Conversation
    from .reading import PictureError
    from .render import picture_json, render_reply_text
    from .store import Store

    matcher = load_matcher(args.kb)
    kb = matcher.kb
    paths = [line.strip() for line in read_lines(sys.stdin) if line.strip()] if args.path == "-" else [args.path]
    status = ExitStatus.OK
    with tempfile.TemporaryDirectory(prefix="account-safety-image-") as tmp:
        store = Store(Path(tmp) / "image.sqlite3")  # nothing outlives the command
        conversation = Conversation(matcher, MessageChecker(kb, matcher.normaliser), store)
        try:
            for path in paths:
                started = time.perf_counter()
                try:
                    data = _read_picture_file(Path(path))
                    reading = conversation.pictures.read(data)
                except PictureError as exc:
                    status = ExitStatus.USAGE
                    if not args.json:
                        print(f"error: {path}: {exc}", file=sys.stderr)
                        continue
                    out.write(json.dumps({"path": path, "error": str(exc), "text": "", "qr": [], "reply": "none",
                                          "topic": None, "risk": None,
                                          "ms": int((time.perf_counter() - started) * 1000)}, ensure_ascii=False) + "\n")
                    out.flush()
                    continue
                # A fresh person per picture: one picture's reply never depends on the one before.
                user = f"image:{len(path)}:{time.perf_counter_ns()}"
                if args.lang:
                    conversation.set_language(user, args.lang)
                pictured = conversation.picture(user, reading)
                if args.json:
                    body = {**picture_json(kb, pictured, reading.ms), "cpu_ms": reading.cpu_ms}
                    out.write(json.dumps(body, ensure_ascii=False) + "\n")
                else:
                    out.write(render_reply_text(kb, pictured) + "\n\n")
                out.flush()
        finally:
            conversation.pictures.close()
            store.close()
    return status if args.path != "-" else ExitStatus.OK


def _read_picture_file(path: Path) -> bytes:
    from .reading import MAX_BYTES, PictureError

    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)  # never more than the limit into memory
    except OSError as exc:
        raise PictureError("picture_not_image", f"cannot open the file ({exc.strerror or exc})") from None
    return data


def cmd_check(args, out: TextIO) -> ExitStatus:
    kb = load_knowledge(args.kb_dir or args.kb)
    phrasings = sum(len(t.all_questions) for t in kb.topics.values())
    situations = sum(len(t.situations) for t in kb.topics.values())
    out.write(
        f"OK: {len(kb.topics)} topics, {situations} situations, {phrasings} phrasings, "
        f"{len(kb.out_of_scope)} out-of-scope phrasings, "
        f"{len(kb.synonyms.variants)} synonyms in {kb.root}\n"
    )
    return ExitStatus.OK


def cmd_export(args, out: TextIO) -> ExitStatus:
    from .export import export
    from .reload import content_version

    kb = load_knowledge(args.kb)
    target = Path(args.out)
    if target.exists() and not target.is_dir():
        raise UserError(f"{target}: exists and is not a folder")
    try:
        counts = export(kb, target, args.format, content_version(kb.root))
    except OSError as exc:
        raise UserError(f"{target}: cannot write the dataset ({exc.strerror})") from None
    files = ", ".join(f"{name}.{args.format} ({n:,} rows)" for name, n in counts.items())
    out.write(f"wrote {files} and README.md (the dataset card) to {target}\n")
    return ExitStatus.OK


def cmd_eval(args, out: TextIO) -> ExitStatus:
    from .evaluate import crossvalidate, evaluate_file

    if not args.files and not args.folds:
        raise UserError("eval needs a labelled FILE, --folds K, or both")
    matcher = load_matcher(args.kb)
    if args.json:
        figures: dict = {"files": {path: evaluate_file(matcher, Path(path)).figures() for path in args.files}}
        if args.folds:
            figures["crossvalidation"] = crossvalidate(matcher.kb, matcher.normaliser, args.folds,
                                                       matcher.settings).figures()
        out.write(json.dumps(figures) + "\n")
        return ExitStatus.OK
    for path in args.files:
        if len(args.files) > 1 or args.folds:
            out.write(f"== {path}\n")
        out.write(evaluate_file(matcher, Path(path)).render(show_misses=not args.quiet))
    if args.folds:
        out.write(f"== {args.folds}-fold cross-validation over the knowledge base's phrasings (classifier retrained per fold)\n")
        out.write(crossvalidate(matcher.kb, matcher.normaliser, args.folds, matcher.settings).render(show_misses=not args.quiet))
    return ExitStatus.OK


def _config(args):
    from .config import load_config

    path = Path(args.config)
    if args.config != DEFAULT_CONFIG and not path.exists():
        raise UserError(f"{path}: config file not found")
    return load_config(path)


def cmd_run(args, out: TextIO) -> ExitStatus:
    from telegram.error import InvalidToken, NetworkError

    from .tg.app import run

    config = _config(args)
    if args.kb and not config["knowledge.dir"]:
        config.values["knowledge.dir"] = args.kb
    try:
        run(config)
    except InvalidToken:
        raise UserError("Telegram rejected the token (check TELEGRAM_BOT_TOKEN or telegram.token)") from None
    except NetworkError as exc:
        where = config["telegram.base_url"] or "api.telegram.org"
        raise UserError(f"cannot reach the Telegram Bot API at {where}: {exc}") from None
    return ExitStatus.OK


def cmd_web(args, out: TextIO) -> ExitStatus:
    from .web.server import serve

    config = _config(args)
    if args.kb and not config["knowledge.dir"]:
        config.values["knowledge.dir"] = args.kb
    serve(config, args.host or config["web.host"], args.port or config["web.port"], out)
    return ExitStatus.OK


def cmd_stats(args, out: TextIO) -> ExitStatus:
    from .store import open_store

    config = _config(args)
    path = Path(config["storage.path"])
    if not config["storage.url"] and not path.exists():
        raise UserError(f"{path}: no database yet (it is created when the bot first runs)")
    store = open_store(config)
    try:
        store.prune_now()  # what is past retention is neither shown nor kept
        out.write(f"Most frequent unanswered questions ({store.where}):\n")
        rows = store.top_unanswered(args.limit)
        out.write("".join(f"  {n:5}  {q}\n" for q, n in rows) or "  (none)\n")
        out.write("\nFeedback votes per topic (👍 / 👎):\n")
        votes = store.votes_by_topic()
        out.write("".join(f"  {t:<28} {up:5} / {down}\n" for t, (up, down) in votes.items()) or "  (none)\n")
    finally:
        store.close()
    return ExitStatus.OK


DEFAULT_CONFIG = "config.yaml"


def language_argument(value: str) -> str:
    """--lang: a code of bot.languages, or something that names one (zh-TW, 繁體, en-US)."""
    code = languages.normalize_code(value)
    if code is None:
        raise argparse.ArgumentTypeError(f"unknown language {value!r} (choose from {', '.join(languages.LANGUAGES)})")
    return code


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__.splitlines()[0])
    parser.add_argument("--kb", metavar="DIR", help="knowledge base folder (default: knowledge/ of this checkout)")
    sub = parser.add_subparsers(dest="command", required=True)

    ask = sub.add_parser("ask", help="answer one question, or one per line of standard input with '-'")
    ask.add_argument("question", help="the question, or '-' to read one question per line from standard input")
    ask.add_argument("--json", action="store_true", help="print one JSON object per question")
    ask.add_argument("--lang", type=language_argument, metavar="|".join(languages.LANGUAGES),
                     help="answer language (default: the question's language and script)")
    ask.set_defaults(func=cmd_ask)

    chat = sub.add_parser("chat", help="chat in the terminal (no Telegram token needed)")
    chat.add_argument("--lang", type=language_argument, metavar="|".join(languages.LANGUAGES),
                      help="answer language (default: each question's)")
    chat.set_defaults(func=cmd_chat)

    image = sub.add_parser("image", help="read a picture (screenshot, poster, QR code) offline and answer it; "
                                          "'-' reads one path per line")
    image.add_argument("path", help="the picture's path, or '-' to read one path per line from standard input")
    image.add_argument("--json", action="store_true", help="print one JSON object per picture")
    image.add_argument("--lang", type=language_argument, metavar="|".join(languages.LANGUAGES),
                       help="answer language (default: the text's)")
    image.set_defaults(func=cmd_image)

    check = sub.add_parser("check", help="validate a knowledge base folder")
    check.add_argument("kb_dir", nargs="?", help="the folder (default: knowledge/)")
    check.set_defaults(func=cmd_check)

    cm = sub.add_parser("check-message", help="is this ad, DM or notice a scam? (one per line with '-')")
    cm.add_argument("text", help="the message, or '-' to read one per line from standard input (\\n inside a line is a line break)")
    cm.add_argument("--json", action="store_true", help="print one JSON object per message")
    cm.add_argument("--lang", type=language_argument, metavar="|".join(languages.LANGUAGES),
                    help="language of the verdict (default: the message's)")
    cm.set_defaults(func=cmd_check_message)

    ev = sub.add_parser("eval", help="accuracy on labelled question files (format of shared/eval/dev.yaml), "
                                     "and k-fold cross-validation over the knowledge base")
    ev.add_argument("files", nargs="*", metavar="FILE")
    ev.add_argument("--folds", type=int, metavar="K", help="also cross-validate the whole pipeline in K folds")
    ev.add_argument("--quiet", action="store_true", help="figures only: no misses, no confusion summary")
    ev.add_argument("--json", action="store_true", help="figures as one JSON object: files (by path) and crossvalidation")
    ev.set_defaults(func=cmd_eval)

    exp = sub.add_parser("export", help="write the knowledge base's phrasings, out-of-scope questions and labelled "
                                        "messages as an open dataset, with its dataset card")
    exp.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="file format (default: jsonl)")
    exp.add_argument("--out", default="dataset", metavar="DIR", help="folder to write into (default: dataset/)")
    exp.set_defaults(func=cmd_export)

    run = sub.add_parser("run", help="run the Telegram bot (token from TELEGRAM_BOT_TOKEN or the config)")
    run.add_argument("--config", default=DEFAULT_CONFIG, help="config file (default: config.yaml; see config.example.yaml)")
    run.set_defaults(func=cmd_run)

    web = sub.add_parser("web", help="serve the mobile web page, its JSON API and the WeChat endpoint (no token needed)")
    web.add_argument("--config", default=DEFAULT_CONFIG, help="config file (default: config.yaml; see config.example.yaml)")
    web.add_argument("--host", help="address to listen on (default: web.host, 127.0.0.1)")
    web.add_argument("--port", type=int, help="port to listen on (default: web.port, 8080)")
    web.set_defaults(func=cmd_web)

    stats = sub.add_parser("stats", help="unanswered questions and feedback votes, for curators")
    stats.add_argument("--config", default=DEFAULT_CONFIG, help="config file (default: config.yaml)")
    stats.add_argument("--limit", type=int, default=20, help="how many unanswered questions to list")
    stats.set_defaults(func=cmd_stats)
    return parser


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")  # the chat reads lines that may not be UTF-8
    argv = [valid_argument(a) for a in (sys.argv[1:] if argv is None else argv)]
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args, out))
    except KnowledgeError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return int(ExitStatus.USAGE)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return int(ExitStatus.USAGE)
    except BrokenPipeError:
        # `ask --json - | head` closes the pipe early; that is not an error.
        sys.stderr.close()
        return int(ExitStatus.OK)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""Pictures: draws the labelled set of bench/data/pictures.yaml, reads it as the bot does, prints figures.

Prints figures; asserts nothing. Run: .venv/bin/python bench/bench_pictures.py [--file SET.yaml] [--save DIR]
[--misses] [--json]

Each picture is drawn with Pillow (WenQuanYi Micro Hei; chat screenshots light and
dark, posters, ban-notice dialogs over a dimmed screen, QR codes alone and inside
posters) at phone size and saved as a messenger sends it (JPEG quality 75, long
side at most 1280 pixels). All of them go through `python -m bot image --json -`
in one process, as a script would; the same texts typed (with the QR code's
payload, as a person would paste the link) go through the same conversation in
this process. Figures: risky pictures caught and harmless ones flagged, agreement
with the typed text's reply, topic accuracy of questions and notices, QR codes
decoded and classified, and milliseconds per picture (the command's own `ms`).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
DEFAULT_SET = ROOT / "bench/data/pictures.yaml"
MESSENGER_SIDE = 1280
MESSENGER_QUALITY = 75
LIGHT = {"bg": "#ededed", "bar": "#f7f7f7", "text": "#111111", "them": "#ffffff", "me": "#95ec69", "meta": "#888888"}
DARK = {"bg": "#111111", "bar": "#1e1e1e", "text": "#d5d5d5", "them": "#2c2c2c", "me": "#3eb575", "meta": "#777777"}
POSTER_COLOURS = [("#fff3d6", "#b3001b"), ("#e8f4ff", "#003a8c"), ("#1f1f3a", "#ffd54a"), ("#f2fff0", "#1b5e20"),
                  ("#ffe9ef", "#880e4f")]


def font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT, size)


def wrap(text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Lines of at most `width` pixels: English breaks between words, Chinese anywhere."""
    lines, current = [], ""
    tokens = text.split(" ") if text.isascii() else list(text)
    joiner = " " if text.isascii() else ""
    for token in tokens:
        candidate = f"{current}{joiner}{token}" if current else token
        if face.getlength(candidate) <= width:
            current = candidate
        else:
            lines.append(current)
            current = token
    return lines + ([current] if current else [])


def qr_image(data: str, scale: int) -> Image.Image:
    import segno

    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return Image.open(out).convert("RGB")


def status_bar(draw: ImageDraw.ImageDraw, width: int, colours: dict) -> None:
    face = font(34)
    draw.text((48, 24), "9:41", font=face, fill=colours["text"])
    draw.text((width - 150, 24), "87%", font=face, fill=colours["text"])


def chat(item: dict, number: int) -> Image.Image:
    colours = DARK if item.get("dark") else LIGHT
    width = 1080
    # Drawn on a tall page, then shown as the phone does: scrolled to the newest message (scrolled()).
    picture = Image.new("RGB", (width, SCROLL_PAGE), colours["bg"])
    draw = ImageDraw.Draw(picture)
    draw.rectangle((0, 0, width, 220), fill=colours["bar"])
    status_bar(draw, width, colours)
    title = font(44)
    draw.text(((width - draw.textlength(item["name"], font=title)) / 2, 120), item["name"], font=title, fill=colours["text"])
    draw.text((40, 120), "‹", font=title, fill=colours["text"])
    face = font(44)
    y = 300
    draw.text(((width - 200) / 2, y), "昨天 21:0" + str(number % 10), font=font(30), fill=colours["meta"])
    y += 90
    if item.get("ui"):
        return chat_with_ui(item, picture, draw, colours, y)
    bubbles = [("them", t) for t in item.get("them", [])] + [("me", t) for t in item.get("me", [])]
    if item["kind"] == "question":
        bubbles = [("them", "你好，有什么可以帮你？")] + bubbles
    for side, text in bubbles:
        lines = wrap(text, face, 640)
        box_w = max(face.getlength(line) for line in lines) + 60
        box_h = len(lines) * 62 + 40
        avatar = 100
        if side == "them":
            x = 40 + avatar + 24
            draw.rounded_rectangle((40, y, 40 + avatar, y + avatar), 12, fill="#7a9cc6")
        else:
            x = width - 40 - avatar - 24 - box_w
            draw.rounded_rectangle((width - 40 - avatar, y, width - 40, y + avatar), 12, fill="#c69a7a")
        fill = colours["them"] if side == "them" else colours["me"]
        draw.rounded_rectangle((x, y, x + box_w, y + box_h), 14, fill=fill)
        text_colour = colours["text"] if side == "them" or item.get("dark") else "#111111"
        for i, line in enumerate(lines):
            draw.text((x + 30, y + 20 + i * 62), line, font=face, fill=text_colour)
        y += max(box_h, avatar) + 44
    picture, draw = scrolled(picture, y, colours)
    height = picture.height
    draw.rectangle((0, height - 150, width, height), fill=colours["bar"])
    draw.rounded_rectangle((120, height - 120, width - 200, height - 40), 12, fill=colours["bg"])
    return picture


SCREEN_HEIGHT = 2340  # a phone screenshot's height at 1080 wide
SCROLL_PAGE = 3 * SCREEN_HEIGHT  # the page a long chat is drawn on before it is scrolled


def scrolled(page: Image.Image, end: int, colours: dict) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """The screen a phone shows of a chat drawn on a tall page down to `end`: the status and title bars, and
    the messages scrolled so that the newest sits just above the input bar (older ones leave at the top, as in a
    real screenshot; drawn from the top, a long chat's last message had fallen under the input bar, unseen)."""
    width = page.width
    shift = max(0, end - (SCREEN_HEIGHT - 150 - 20))
    screen = Image.new("RGB", (width, SCREEN_HEIGHT), colours["bg"])
    screen.paste(page.crop((0, 220 + shift, width, SCREEN_HEIGHT - 150 + shift)), (0, 220))
    screen.paste(page.crop((0, 0, width, 220)), (0, 0))
    return screen, ImageDraw.Draw(screen)


def chat_with_ui(item: dict, picture: Image.Image, draw: ImageDraw.ImageDraw, colours: dict, y: int) -> Image.Image:
    """A chat screenshot with what WeChat draws around the words: the unread count and menu of the title
    bar, time stamps and system lines, transfer, red-packet, voice and photo bubbles, and the input bar
    (hold-to-talk, or a typed line and the 发送 button). `messages`: [{from: them|me|system, text |
    transfer + status | redpacket | voice (seconds) | photo | time}], drawn in order."""
    width, height = picture.size
    title, face, small = font(44), font(44), font(30)
    draw.text((90, 120), f"({item['ui'].get('unread', 3)})" if isinstance(item["ui"], dict) else "(3)", font=title,
              fill=colours["text"])
    draw.text((width - 110, 112), "···", font=title, fill=colours["text"])
    avatar = 100
    for message in item["messages"]:
        side = message.get("from")
        if side == "system" or "time" in message:
            words = message.get("text") or message["time"]
            draw.text(((width - draw.textlength(words, font=small)) / 2, y), words, font=small, fill=colours["meta"])
            y += 80
            continue
        if "text" in message:
            lines = wrap(message["text"], face, 640)
            box_w, box_h = max(face.getlength(line) for line in lines) + 60, len(lines) * 62 + 40
            fill = colours["them"] if side == "them" else colours["me"]
            ink = colours["text"] if side == "them" or item.get("dark") else "#111111"
        elif "transfer" in message or "redpacket" in message:
            lines, box_w, box_h = [], 520, 210
            fill = "#fa9d3b" if "transfer" in message else "#f35543"
            ink = "#ffffff"
        elif "voice" in message:
            lines = [f"{message['voice']}\"  )))" if side == "them" else f"((( {message['voice']}\""]
            box_w, box_h = 160 + 12 * int(message["voice"]), 102
            fill = colours["them"] if side == "them" else colours["me"]
            ink = colours["text"] if side == "them" or item.get("dark") else "#111111"
        else:  # a photo
            lines, box_w, box_h, fill, ink = [], 360, 480, "#9bb7a2", "#ffffff"
        x = 40 + avatar + 24 if side == "them" else width - 40 - avatar - 24 - box_w
        ax = 40 if side == "them" else width - 40 - avatar
        draw.rounded_rectangle((ax, y, ax + avatar, y + avatar), 12, fill="#7a9cc6" if side == "them" else "#c69a7a")
        draw.rounded_rectangle((x, y, x + box_w, y + box_h), 14, fill=fill)
        if "transfer" in message or "redpacket" in message:
            big = message.get("transfer") or message["redpacket"]
            draw.ellipse((x + 30, y + 35, x + 110, y + 115), outline="#ffffff", width=5)
            draw.text((x + 130, y + 30), big, font=font(46 if "transfer" in message else 38), fill=ink)
            if message.get("status"):
                draw.text((x + 130, y + 95), message["status"], font=small, fill=ink)
            draw.line((x + 20, y + 150, x + box_w - 20, y + 150), fill="#ffd7a8", width=2)
            draw.text((x + 30, y + 162), "微信转账" if "transfer" in message else "微信红包", font=font(26), fill=ink)
        for i, line in enumerate(lines):
            draw.text((x + 30, y + 20 + i * 62), line, font=face, fill=ink)
        y += max(box_h, avatar) + 44
    picture, draw = scrolled(picture, y, colours)
    height = picture.height
    # The input bar: a voice button, the box (hold to talk, or a typed line), the emoji and + buttons, or 发送.
    draw.rectangle((0, height - 150, width, height), fill=colours["bar"])
    draw.ellipse((30, height - 118, 100, height - 48), outline=colours["text"], width=4)
    typing = item["ui"].get("typing") if isinstance(item["ui"], dict) else None
    right = width - 220 if typing else width - 220
    draw.rounded_rectangle((120, height - 125, right, height - 40), 12, fill=colours["bg"])
    if typing:
        draw.text((140, height - 108), typing, font=font(40), fill=colours["text"])
        draw.rounded_rectangle((width - 200, height - 120, width - 30, height - 45), 10, fill="#07c160")
        draw.text((width - 160, height - 108), "发送", font=font(40), fill="#ffffff")
    else:
        if isinstance(item["ui"], dict) and item["ui"].get("hold"):
            label = "按住 说话"
            draw.text(((120 + right - draw.textlength(label, font=font(40))) / 2, height - 108), label, font=font(40),
                      fill=colours["text"])
        draw.ellipse((width - 200, height - 118, width - 130, height - 48), outline=colours["text"], width=4)
        draw.ellipse((width - 110, height - 118, width - 40, height - 48), outline=colours["text"], width=4)
        draw.text((width - 90, height - 118), "+", font=font(52), fill=colours["text"])
    return picture


def poster(item: dict, number: int) -> Image.Image:
    """A poster of phone size (1080 x 1440), taller when its lines and code need it: a printed poster holds
    all of its words and its code (drawn past the bottom, a long poster's code was cut off and unreadable)."""
    background, ink = POSTER_COLOURS[number % len(POSTER_COLOURS)]
    width = 1080
    laid, y = [], 110
    for i, text in enumerate(item["lines"]):
        size = 96 if i == 0 else 60
        for line in wrap(text, font(size), width - 160):
            laid.append((line, size, y))
            y += int(size * 1.45)
        y += 30
    code = None
    if item.get("qr"):
        code = qr_image(item["qr"]["data"], 9)
        side = min(code.width, 460)
        code = code.resize((side, side), Image.NEAREST)
    height = max(1440, y + 20 + (code.height + 90 if code else 60))
    picture = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(picture)
    draw.rectangle((30, 30, width - 30, height - 30), outline=ink, width=8)
    for line, size, top in laid:
        face = font(size)
        draw.text(((width - draw.textlength(line, font=face)) / 2, top), line, font=face, fill=ink)
    if code is not None:
        picture.paste(code, ((width - code.width) // 2, max(y + 20, height - code.height - 90)))
    return picture


def notice(item: dict, number: int) -> Image.Image:
    width, height = 1080, 2340
    picture = Image.new("RGB", (width, height), "#f2f2f2")
    draw = ImageDraw.Draw(picture)
    status_bar(draw, width, LIGHT)
    draw.rectangle((0, 0, width, height), fill="#7a7a7a")  # the dimmed app behind the dialog
    title, body = font(50), font(42)
    lines = wrap(item["lines"][1], body, 760)
    box_h = 120 + 90 + len(lines) * 62 + 60 + 130
    top = (height - box_h) // 2
    draw.rounded_rectangle((100, top, width - 100, top + box_h), 24, fill="#ffffff")
    heading = item["lines"][0]
    draw.text(((width - draw.textlength(heading, font=title)) / 2, top + 70), heading, font=title, fill="#111111")
    y = top + 170
    for line in lines:
        draw.text((160, y), line, font=body, fill="#333333")
        y += 62
    y = top + box_h - 130
    draw.line((100, y, width - 100, y), fill="#dddddd", width=2)
    buttons = item.get("buttons", [])
    for i, label in enumerate(buttons):
        slot = (width - 200) / len(buttons)
        x = 100 + slot * i + (slot - draw.textlength(label, font=title)) / 2
        draw.text((x, y + 35), label, font=title, fill="#576b95" if i == len(buttons) - 1 else "#111111")
    return picture


def qr_alone(item: dict, number: int) -> Image.Image:
    code = qr_image(item["qr"]["data"], 12)
    picture = Image.new("RGB", (code.width + 120, code.height + 200), "#ffffff")
    picture.paste(code, (60, 60))
    return picture


def receipt(item: dict, number: int) -> Image.Image:
    """A receipt or a menu photographed flat: a title, then rows of "item | price" (left and right)."""
    width, height = 900, 1500
    picture = Image.new("RGB", (width, height), "#fbfaf5")
    draw = ImageDraw.Draw(picture)
    title, face = font(60), font(42)
    heading = item["lines"][0]
    draw.text(((width - draw.textlength(heading, font=title)) / 2, 80), heading, font=title, fill="#222222")
    y = 200
    for line in item["lines"][1:]:
        left, _, right = line.partition(" | ")
        draw.text((70, y), left, font=face, fill="#222222")
        if right:
            draw.text((width - 70 - draw.textlength(right, font=face), y), right, font=face, fill="#222222")
        y += 72
    return picture


DRAW = {"chat": chat, "question": chat, "poster": poster, "notice": notice, "qr": qr_alone, "receipt": receipt}


def as_sent(picture: Image.Image) -> bytes:
    """As a messenger sends a picture: shrunk to a long side of 1280 pixels, JPEG at quality 75."""
    scale = MESSENGER_SIDE / max(picture.size)
    if scale < 1:
        picture = picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=MESSENGER_QUALITY)
    return out.getvalue()


def typed_text(item: dict) -> str:
    """What a person would paste instead of the picture: its words, and the code's link."""
    if item.get("messages"):  # the bubbles' words, in order; a transfer, a voice message or a time is no text
        lines = [m["text"] for m in item["messages"] if "text" in m and m["from"] != "system"]
    elif item["kind"] in ("chat", "question"):
        lines = item.get("them", []) + item.get("me", []) if item["kind"] == "chat" else item.get("me", [])
    elif item["kind"] == "receipt":
        lines = [line.replace(" | ", " ") for line in item["lines"]]
    else:
        lines = item.get("lines", [])
    return "\n".join(lines)


def said_risky(result: dict) -> bool:
    return result.get("risk") in ("high", "medium")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, help="keep the drawn pictures in this folder")
    parser.add_argument("--misses", action="store_true", help="list every miss")
    parser.add_argument("--memory", action="store_true",
                        help="only measure the memory of `python -m bot web` before and after reading pictures")
    parser.add_argument("--file", type=Path, default=DEFAULT_SET,
                        help=f"the labelled set (default {DEFAULT_SET.relative_to(ROOT)}); the same fields")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    items = items_of(args.file)
    if args.memory:
        return web_memory(items)
    with tempfile.TemporaryDirectory(prefix="bench-pictures-") as tmp:
        folder = args.save or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for number, item in enumerate(items):
            path = folder / f"{number:03d}-{item['kind']}{'-dark' if item.get('dark') else ''}.jpg"
            path.write_bytes(as_sent(DRAW[item["kind"]](item, number)))
            paths.append(path)
        load_before = open("/proc/loadavg").read().split()[0]
        run = subprocess.run([sys.executable, "-m", "bot", "image", "--json", "-"], cwd=ROOT, capture_output=True,
                             input="\n".join(str(p) for p in paths).encode(), check=True)
        results = [json.loads(line) for line in run.stdout.decode().splitlines()]
    assert len(results) == len(items), run.stderr.decode()[-2000:]
    typed = typed_replies(items)

    risky = [(i, r) for i, r in zip(items, results) if i.get("risky") is True]
    benign = [(i, r) for i, r in zip(items, results) if i.get("risky") is False]
    caught = sum(said_risky(r) for _, r in risky)
    flagged = sum(said_risky(r) for _, r in benign)
    agree = [(i, r, t) for i, r, t in zip(items, results, typed) if i["kind"] != "qr"]
    agreed = sum((r["reply"], r["risk"]) == (t["reply"], t["risk"]) for _, r, t in agree)
    topical = [(i, r) for i, r in zip(items, results) if i.get("topics")]
    on_topic = sum(r["topic"] in i["topics"] for i, r in topical)
    coded = [(i, r) for i, r in zip(items, results) if i.get("qr")]
    decoded = sum(any(q["data"] == i["qr"]["data"] for q in r["qr"]) for i, r in coded)
    classified = sum(any(q["data"] == i["qr"]["data"] and q["kind"] == i["qr"]["kind"] and q["domain"] == i["qr"]["domain"]
                         and q["official"] == i["qr"]["official"] for q in r["qr"]) for i, r in coded)
    # A set written with other label conventions carries `qr_convention`: the same label in this file's convention.
    conventional = sum(any(q["data"] == i["qr"]["data"] and all(q[k] == i.get("qr_convention", i["qr"])[k]
                                                                for k in ("kind", "domain", "official")) for q in r["qr"])
                       for i, r in coded)
    ms = sorted(r["ms"] for r in results)
    cpu = sorted(r["cpu_ms"] for r in results)
    load_after = open("/proc/loadavg").read().split()[0]
    figures = {
        "file": str(args.file), "pictures": len(items),
        "kinds": {k: sum(i["kind"] == k for i in items) for k in DRAW if any(i["kind"] == k for i in items)},
        "risky_caught": [caught, len(risky)], "harmless_flagged": [flagged, len(benign)],
        "agreement": [agreed, len(agree)], "topic": [on_topic, len(topical)],
        "qr_decoded": [decoded, len(coded)], "qr_classified": [classified, len(coded)],
        "qr_classified_convention": [conventional, len(coded)],
        "ms_median": statistics.median(ms), "ms_p90": ms[int(0.9 * (len(ms) - 1))], "ms_max": ms[-1],
        "cpu_ms_median": statistics.median(cpu), "cpu_ms_p90": cpu[int(0.9 * (len(cpu) - 1))],
        "load_average": [float(load_before), float(load_after)],
    }
    if args.json:
        figures["misses"] = misses(items, results, typed)
        print(json.dumps(figures, ensure_ascii=False))
        return
    counts = ", ".join(f"{k} {n}" for k, n in figures["kinds"].items())
    print(f"pictures: {len(items)} ({counts}) from {args.file}")
    print(f"risky caught:        {share(caught, len(risky))}")
    print(f"harmless flagged:    {share(flagged, len(benign))}")
    print(f"agreement with typed text (reply kind and risk): {share(agreed, len(agree))}")
    print(f"topic of questions and notices: {share(on_topic, len(topical))}")
    print(f"QR codes decoded: {decoded}/{len(coded)}; decoded and classified: {classified}/{len(coded)}"
          + (f" (labels in this benchmark's convention, `qr_convention`: {conventional}/{len(coded)})"
             if any("qr_convention" in i for i, _ in coded) else ""))
    print(f"ms per picture: median {statistics.median(ms):.0f}, p90 {ms[int(0.9 * (len(ms) - 1))]:.0f}, "
          f"max {ms[-1]} (the first includes loading the models); processor time (both cores' threads): "
          f"median {statistics.median(cpu):.0f}, p90 {cpu[int(0.9 * (len(cpu) - 1))]:.0f}; load average during the run: "
          f"{load_before} -> {load_after}")
    if args.misses:
        for miss in misses(items, results, typed):
            print(f"- {miss['kind']}: {'; '.join(miss['wrong'])}\n    read: {miss['read']!r}")


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} = {100 * part / whole:.1f}%" if whole else f"{part}/0"


def misses(items: list[dict], results: list[dict], typed: list[dict]) -> list[dict]:
    """Every picture read wrongly, in order: what went wrong, and the text read."""
    found = []
    for number, (item, result, typed_result) in enumerate(zip(items, results, typed)):
        wrong = []
        if item.get("risky") is not None and said_risky(result) != item["risky"]:
            wrong.append(f"risk {result['risk']} (risky: {item['risky']})")
        if item["kind"] != "qr" and (result["reply"], result["risk"]) != (typed_result["reply"], typed_result["risk"]):
            wrong.append(f"typed: {typed_result['reply']}/{typed_result['risk']}, picture: {result['reply']}/{result['risk']}")
        if item.get("topics") and result["topic"] not in item["topics"]:
            wrong.append(f"topic {result['topic']} (want {item['topics']})")
        if item.get("qr") and not any(q["data"] == item["qr"]["data"] for q in result["qr"]):
            wrong.append(f"QR not read: {result['qr']}")
        if wrong:
            found.append({"number": number, "kind": item["kind"], "wrong": wrong, "read": result["text"]})
    return found


def items_of(path: Path | None = None) -> list[dict]:
    """The labelled pictures of a set; a kind this script cannot draw stops it with one line."""
    items = yaml.safe_load(Path(path or DEFAULT_SET).read_text(encoding="utf-8"))["pictures"]
    unknown = sorted({str(i.get("kind")) for i in items} - set(DRAW))
    if unknown:
        raise SystemExit(f"{path}: unknown kind {', '.join(unknown)} (known: {', '.join(DRAW)})")
    return items


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def web_memory(items: list[dict]) -> None:
    """The resident memory of the real web process: started, after its first picture, after 40 more."""
    import os
    import signal
    import socket
    import time
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(f"storage:\n  path: {tmp}/bot.sqlite3\nweb:\n  rate_limit:\n    requests: 100000\n")
        process = subprocess.Popen([sys.executable, "-m", "bot", "web", "--config", str(config), "--port", str(port)],
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(url + "/healthz", timeout=2)
                    break
                except OSError:
                    time.sleep(0.2)
            urllib.request.urlopen(urllib.request.Request(url + "/api/ask", data=b'{"q": "\u5fae\u4fe1"}',
                                                          headers={"content-type": "application/json"}))
            started = rss_mb(process.pid)
            pictures = [as_sent(DRAW[i["kind"]](i, n)) for n, i in enumerate(items)]

            def send(data: bytes) -> None:
                request = urllib.request.Request(url + "/api/image", data=data, headers={"content-type": "image/jpeg"})
                urllib.request.urlopen(request, timeout=60).read()

            send(pictures[0])
            first = rss_mb(process.pid)
            after = []
            for _ in range(3):  # the whole set three times: memory that keeps growing would be a leak
                for data in pictures:
                    send(data)
                after.append(rss_mb(process.pid))
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    print(f"web process memory (VmRSS): {started:.0f} MB after a question, {first:.0f} MB after the first picture "
          f"(OCR models loaded), then after each of three passes over the {len(pictures)} pictures: "
          f"{', '.join(f'{mb:.0f}' for mb in after)} MB")


def typed_replies(items: list[dict]) -> list[dict]:
    """The same conversation on the typed text (and the code's link, pasted)."""
    from bot.checker import MessageChecker
    from bot.conversation import Conversation
    from bot.matcher import load_matcher
    from bot.reading import Reading
    from bot.render import picture_json
    from bot.store import Store

    matcher = load_matcher()
    with tempfile.TemporaryDirectory(prefix="bench-typed-") as tmp:
        store = Store(Path(tmp) / "typed.sqlite3")
        conversation = Conversation(matcher, MessageChecker(matcher.kb, matcher.normaliser), store)
        replies = []
        for number, item in enumerate(items):
            codes = ()
            if item.get("qr"):
                from bot.reading import explain

                codes = (explain(item["qr"]["data"], matcher.kb.domains, in_qr=True),)
            pictured = conversation.picture(f"typed:{number}", Reading(typed_text(item), codes))
            replies.append(picture_json(matcher.kb, pictured, 0))
        store.close()
    return replies


if __name__ == "__main__":
    main()

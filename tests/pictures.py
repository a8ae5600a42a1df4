"""Pictures for the tests, drawn on the spot: text as a screenshot, QR codes, and broken or hostile files."""

from __future__ import annotations

import io
import struct
import zlib

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
if not Path(FONT).exists():  # ./run test installs it as root (fonts-wqy-microhei), with the browser
    pytest.skip(f"{FONT} is missing: install Debian's fonts-wqy-microhei to draw the test pictures",
                allow_module_level=True)


def text_picture(lines: list[str], width: int = 900, size: int = 40, fmt: str = "JPEG", qr: str | None = None) -> bytes:
    """Lines of text on a plain background (a screenshot's worth), with a QR code below them if asked."""
    face = ImageFont.truetype(FONT, size)
    height = 80 + len(lines) * int(size * 1.8) + (480 if qr else 0)
    picture = Image.new("RGB", (width, height), "#ffffff")
    draw = ImageDraw.Draw(picture)
    for i, line in enumerate(lines):
        draw.text((40, 40 + i * int(size * 1.8)), line, font=face, fill="#111111")
    if qr:
        code = qr_code(qr, 8)
        picture.paste(code, ((width - code.width) // 2, height - code.height - 20))
    out = io.BytesIO()
    picture.save(out, fmt, **({"quality": 80} if fmt == "JPEG" else {}))
    return out.getvalue()


def qr_code(data: str | bytes, scale: int = 10, dark: str = "#000000", light: str = "#ffffff") -> Image.Image:
    import segno

    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(out, kind="png", scale=scale, border=4, dark=dark, light=light)
    return Image.open(out).convert("RGB")


def poster_with(code: Image.Image, ground: str, quality: int = 65) -> bytes:
    """A phone-sized poster (1080 x 1440) of one colour with a title and `code` pasted low on it, as a JPEG."""
    picture = Image.new("RGB", (1080, 1440), ground)
    ImageDraw.Draw(picture).text((100, 100), "扫码进群 了解详情", font=ImageFont.truetype(FONT, 90), fill="#888888")
    picture.paste(code, (420, 900))
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=quality)
    return out.getvalue()


def qr_picture(data: str | bytes) -> bytes:
    out = io.BytesIO()
    qr_code(data).save(out, "PNG")
    return out.getvalue()


def blank_picture() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), "#ffffff").save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG file that claims `width` x `height` pixels: a decompression bomb's header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    rows = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def truncated_jpeg() -> bytes:
    whole = text_picture(["这张图片被截断了"], fmt="JPEG")
    return whole[: len(whole) // 2]


def over_ten_megabytes() -> bytes:
    return b"\xff\xd8\xff\xe0" + b"\x00" * (10 * 1024 * 1024 + 16)


def chat_screenshot(name: str, bubbles: list[tuple[str, list[str]]], dark: bool = False) -> bytes:
    """A phone's chat screenshot (1080 x 2340, sent as a 1280-pixel JPEG): the status bar's clock, the
    chat's name centred in the title bar, then bubbles, ("them" | "me", [their lines as wrapped]), each on
    its own ground: white or dark grey for the other side, green for the reader."""
    ground, bar, ink, them = ("#111111", "#1e1e1e", "#d5d5d5", "#2c2c2c") if dark else \
        ("#ededed", "#f7f7f7", "#111111", "#ffffff")
    picture = Image.new("RGB", (1080, 2340), ground)
    draw = ImageDraw.Draw(picture)
    face = ImageFont.truetype(FONT, 44)
    draw.rectangle((0, 0, 1080, 220), fill=bar)
    draw.text((48, 24), "9:41", font=ImageFont.truetype(FONT, 34), fill=ink)
    draw.text(((1080 - draw.textlength(name, font=face)) / 2, 120), name, font=face, fill=ink)
    y = 300
    for side, lines in bubbles:
        box_w = max(face.getlength(line) for line in lines) + 60
        box_h = len(lines) * 62 + 40
        x = 164 if side == "them" else 1080 - 164 - box_w
        draw.rounded_rectangle((x, y, x + box_w, y + box_h), 14, fill=them if side == "them" else "#95ec69")
        for i, line in enumerate(lines):
            draw.text((x + 30, y + 20 + i * 62), line, font=face, fill=ink if side == "them" else "#111111")
        y += max(box_h, 100) + 44
    picture = picture.resize((591, 1280), Image.LANCZOS)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=75)
    return out.getvalue()

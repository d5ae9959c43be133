"""Poster frames and contact sheets with Pillow: a reviewer sees a whole clip at a glance.

Pillow only ever reads PNG frames that ffmpeg decoded (inside its time limit); it never
parses a camera's own bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

PAD = 6
LABEL_H = 22
HEADER_H = 30
BACKGROUND = (24, 24, 24)
TEXT = (235, 235, 235)
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Sheet:
    width: int
    height: int
    frames: int
    times_s: list[float]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except (OSError, TypeError):  # Pillow without FreeType: the bitmap font
        return ImageFont.load_default()


def timestamp(seconds: float) -> str:
    """hh:mm:ss.mmm"""
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{seconds % 60:06.3f}"


def save_poster(frame: Path, out: Path) -> tuple[int, int]:
    """The PNG frame as a JPEG; returns its size."""
    with Image.open(frame) as image:
        rgb = image.convert("RGB")
    rgb.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return rgb.size


def sheet_size(columns: int, rows: int, thumb: tuple[int, int]) -> tuple[int, int]:
    width = columns * thumb[0] + (columns + 1) * PAD
    height = HEADER_H + rows * (thumb[1] + LABEL_H) + (rows + 1) * PAD
    return width, height


def contact_sheet(
    frames: list[Path], times_s: list[float], out: Path, *, columns: int, title: str
) -> Sheet:
    """A grid of the frames, each labelled with its time in the clip, under a title line."""
    if not frames:
        raise ValueError("a contact sheet needs at least one frame")
    images: list[Image.Image] = []
    for path in frames:
        with Image.open(path) as opened:
            images.append(opened.convert("RGB"))
    thumb = images[0].size
    rows = -(-len(images) // columns)
    size = sheet_size(columns, rows, thumb)
    sheet = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, PAD), title, fill=TEXT, font=_font(16))
    label_font = _font(14)
    for index, (image, at) in enumerate(zip(images, times_s, strict=True)):
        row, column = divmod(index, columns)
        x = PAD + column * (thumb[0] + PAD)
        y = HEADER_H + PAD + row * (thumb[1] + LABEL_H + PAD)
        sheet.paste(image.resize(thumb), (x, y))
        draw.text((x, y + thumb[1] + 3), timestamp(at), fill=TEXT, font=label_font)
    sheet.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return Sheet(size[0], size[1], len(images), list(times_s))

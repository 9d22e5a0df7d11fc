#!/usr/bin/env python3
"""Draws the add-ins' PNG icons (addin/pane/icons/icon-SIZE.png): a blue rounded square with
a white envelope and a green certification seal. Needs Pillow (`pip install pillow`); the PNGs
are committed, so this runs only when the design changes."""
from pathlib import Path

from PIL import Image, ImageDraw

SIZES = [16, 32, 48, 64, 80, 96, 128]
BIG = 512
OUT = Path(__file__).resolve().parent.parent / "addin" / "pane" / "icons"


def master() -> Image.Image:
    img = Image.new("RGBA", (BIG, BIG), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle((16, 16, BIG - 16, BIG - 16), radius=96, fill=(0, 82, 155, 255))
    # Envelope.
    left, top, right, bottom = 96, 150, 416, 366
    d.rounded_rectangle((left, top, right, bottom), radius=18, fill=(255, 255, 255, 255))
    d.line((left + 10, top + 14, BIG // 2, 270, right - 10, top + 14), fill=(0, 82, 155, 255), width=22, joint="curve")
    # Seal with a tick (certified).
    cx, cy, r = 372, 352, 92
    d.ellipse((cx - r - 14, cy - r - 14, cx + r + 14, cy + r + 14), fill=(0, 82, 155, 255))
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(22, 163, 74, 255))
    d.line((cx - 46, cy + 2, cx - 12, cy + 38, cx + 50, cy - 34), fill=(255, 255, 255, 255), width=26, joint="curve")
    return img


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    big = master()
    for size in SIZES:
        big.resize((size, size), Image.LANCZOS).save(OUT / f"icon-{size}.png", optimize=True)


if __name__ == "__main__":
    main()

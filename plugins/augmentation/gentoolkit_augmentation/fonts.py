"""Digits rendered offline from the fonts matplotlib ships (DejaVu, STIX, Computer Modern), degraded
the way UCI optdigits (scikit-learn's ``digits``) was made: a glyph, randomly slanted, rotated and
stroked, is size-normalised into a 32x32 bitmap whose 4x4 blocks are counted, giving 8x8 images
with 17 grey levels (0..16, divided by 16). Outside knowledge for a generator to pretrain on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# matplotlib's font files whose digits are distinct designs (the Display and symbol files are left out)
FONTS = ("DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique", "DejaVuSans-BoldOblique", "DejaVuSansMono",
         "DejaVuSansMono-Bold", "DejaVuSansMono-Oblique", "DejaVuSansMono-BoldOblique", "DejaVuSerif",
         "DejaVuSerif-Bold", "DejaVuSerif-Italic", "DejaVuSerif-BoldItalic", "STIXGeneral", "STIXGeneralBol",
         "STIXGeneralItalic", "STIXGeneralBolIta", "cmr10", "cmb10", "cmss10", "cmti10", "cmtt10")
GLYPH = 96  # font size of the first rendering, in pixels
BITMAP = 32  # optdigits' normalised bitmap side; 4x4 blocks give the 8x8 image


def font_files() -> list[Path]:
    """The font files of :data:`FONTS` in matplotlib's data folder."""
    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return [folder / f"{name}.ttf" for name in FONTS if (folder / f"{name}.ttf").is_file()]


def render_digits(per_class: int, seed: int = 0, rotation: float = 12.0, shear: float = 0.3,
                  stroke: float = 0.03, min_width: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` renders of each digit 0-9 as (N, 1, 8, 8) float32 in [0, 1] with labels (N,):
    a random font, slant (``shear``), rotation (± degrees) and extra stroke width (up to ``stroke``
    of the glyph size) each, then optdigits' 32x32 normalisation and 4x4 block counts."""
    from PIL import Image, ImageDraw, ImageFont

    files = font_files()
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for digit in range(10):
        for _ in range(per_class):
            font = ImageFont.truetype(str(files[rng.integers(len(files))]), GLYPH)
            canvas = Image.new("L", (GLYPH * 2, GLYPH * 2), 0)
            width = int(rng.integers(0, int(stroke * GLYPH) + 1))
            ImageDraw.Draw(canvas).text((GLYPH, GLYPH), str(digit), fill=255, font=font, anchor="mm",
                                        stroke_width=width, stroke_fill=255)
            s = rng.uniform(-shear, shear)
            canvas = canvas.transform(canvas.size, Image.Transform.AFFINE, (1, s, -s * GLYPH, 0, 1, 0),
                                      resample=Image.Resampling.BILINEAR)
            canvas = canvas.rotate(rng.uniform(-rotation, rotation), resample=Image.Resampling.BILINEAR)
            images.append(_optdigits(np.asarray(canvas) > 127, min_width))
            labels.append(digit)
    return np.stack(images)[:, None].astype(np.float32), np.asarray(labels, dtype=np.int64)


def _optdigits(ink: np.ndarray, min_width: float) -> np.ndarray:
    """A binary glyph cropped to its ink, scaled into a centred 32x32 bitmap (aspect kept, but at
    least ``min_width`` of the side wide, as handwritten ones are), then 4x4 block counts / 16 -> (8, 8)."""
    from PIL import Image

    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    glyph = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = glyph.shape
    scale = BITMAP / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(max(w * scale, min_width * BITMAP)))
    small = np.asarray(Image.fromarray(glyph.astype(np.uint8) * 255).resize((new_w, new_h), Image.Resampling.BOX)) > 127
    bitmap = np.zeros((BITMAP, BITMAP), dtype=bool)
    top, left = (BITMAP - new_h) // 2, (BITMAP - new_w) // 2
    bitmap[top:top + new_h, left:left + new_w] = small
    return bitmap.reshape(8, 4, 8, 4).sum((1, 3)) / 16.0
